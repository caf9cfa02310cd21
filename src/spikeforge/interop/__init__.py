"""Interchange: safe model files (and, later, NIR export/import)."""

from ._modelfile import ModelFileError, load_model, read_model_file, save_model

__all__ = ["ModelFileError", "load_model", "read_model_file", "save_model"]
