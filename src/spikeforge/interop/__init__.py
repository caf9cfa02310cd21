"""Interchange: safe model files and NIR export/import (``nir`` is imported only when used)."""

from ._modelfile import ModelFileError, load_model, read_model_file, save_model
from ._nir import SUPPORTED_EXPORT, export_nir, write_nir
from ._nir_import import SUPPORTED_IMPORT, graph_metadata, import_nir, read_nir, summarize_nir
from ._nir_layers import Scale

__all__ = [
    "SUPPORTED_EXPORT",
    "SUPPORTED_IMPORT",
    "ModelFileError",
    "Scale",
    "export_nir",
    "graph_metadata",
    "import_nir",
    "load_model",
    "read_model_file",
    "read_nir",
    "save_model",
    "summarize_nir",
    "write_nir",
]
