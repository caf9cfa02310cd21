"""ANN-to-SNN conversion: :func:`convert` a trained ReLU network (``nn.Sequential`` or any ``nn.Module`` tree) into
integrate-and-fire neurons, train ANNs that convert at few time steps with :class:`QCFS`, and see per layer where
accuracy is lost with :func:`diagnose`."""

from ._convert import ConversionError, calibration_batches, convert
from ._diagnostics import Diagnostics, LayerDiagnostics, diagnose
from ._qcfs import QCFS
from ._trace import SUPPORTED, UnsupportedLayerError, trace_model
from ._zoo import (
    ANNS,
    accuracy_by_timesteps,
    ann_accuracy,
    ann_model,
    load_ann_weights,
    outputs_by_timesteps,
    save_ann_weights,
    sweep,
    train_ann,
)

__all__ = [
    "ANNS",
    "QCFS",
    "SUPPORTED",
    "ConversionError",
    "Diagnostics",
    "LayerDiagnostics",
    "UnsupportedLayerError",
    "accuracy_by_timesteps",
    "ann_accuracy",
    "ann_model",
    "calibration_batches",
    "convert",
    "diagnose",
    "load_ann_weights",
    "outputs_by_timesteps",
    "save_ann_weights",
    "sweep",
    "trace_model",
    "train_ann",
]
