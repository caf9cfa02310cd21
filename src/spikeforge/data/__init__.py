"""Datasets as tensors; readers for real file formats. Optional dependencies are imported when used."""

from ._images import IDX_FILES, Split, load_dataset, load_digits, load_idx, read_idx

__all__ = ["IDX_FILES", "Split", "load_dataset", "load_digits", "load_idx", "read_idx"]
