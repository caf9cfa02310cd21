"""Plots: spike rasters, training curves (matplotlib is imported only when a plot is drawn)."""

from ._plots import plot_curves, plot_raster, save_figure

__all__ = ["plot_curves", "plot_raster", "save_figure"]

from ._network import plot_network

__all__ += ["plot_network"]
