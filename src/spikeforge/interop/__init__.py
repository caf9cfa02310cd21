"""Interchange: safe model files and NIR export/import (``nir`` is imported only when used)."""

from ._deploy import DeployReport, NeuronLayer, deploy_check, network_layers
from ._drift import DriftReport, compare_models, compare_spikes, retime_graph
from ._modelfile import ModelFileError, load_model, read_model_file, save_model
from ._nir import ALIF_AS, RESET_AS, SUPPORTED_EXPORT, export_nir, write_nir
from ._nir_import import SUPPORTED_IMPORT, graph_metadata, import_nir, read_nir, summarize_nir
from ._nir_layers import Scale
from ._targets import TARGETS, HardwareTarget, Limit

__all__ = [
    "ALIF_AS",
    "RESET_AS",
    "SUPPORTED_EXPORT",
    "SUPPORTED_IMPORT",
    "TARGETS",
    "DeployReport",
    "DriftReport",
    "HardwareTarget",
    "Limit",
    "ModelFileError",
    "NeuronLayer",
    "Scale",
    "compare_models",
    "compare_spikes",
    "deploy_check",
    "export_nir",
    "graph_metadata",
    "import_nir",
    "load_model",
    "network_layers",
    "read_model_file",
    "read_nir",
    "retime_graph",
    "save_model",
    "summarize_nir",
    "write_nir",
]
