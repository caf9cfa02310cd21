"""Plots: spike rasters, training curves, network runs, neuron traces and f-I curves, and the HTML report of a run
folder (matplotlib is imported only when a plot is drawn)."""

from ._conversion import plot_conversion
from ._network import plot_network
from ._plots import plot_curves, plot_raster, save_figure
from ._receptive import plot_confusion, plot_receptive_fields
from ._report import write_report
from ._traces import plot_fi_curve, plot_traces

__all__ = [
    "plot_confusion",
    "plot_conversion",
    "plot_curves",
    "plot_fi_curve",
    "plot_network",
    "plot_raster",
    "plot_receptive_fields",
    "plot_traces",
    "save_figure",
    "write_report",
]
