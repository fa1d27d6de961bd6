"""Datasets and symmetry transforms (layer L3; independent of `symml.models`).

Every dataset knows its symmetry group and how the group acts on inputs and targets, so
augmentation and transformed test sets need no special cases.

Example:
    >>> from symml.data import build, names
    >>> "nbody_charged" in names()
    True
"""

from symml.data.dataset import SymmetricDataset
from symml.data.paths import (
    ChecksumError,
    DataNotFoundError,
    DownloadError,
    cache_dir,
    data_dirs,
)
from symml.data.registry import accepted_options, build, describe, names, register, splits
from symml.data.subsets import nested_order, nested_subsets
from symml.data.transforms import (
    RandomGroupAction,
    TransformedDataset,
    grid_test_sets,
    random_test_set,
)

__all__ = [
    "ChecksumError",
    "DataNotFoundError",
    "DownloadError",
    "RandomGroupAction",
    "SymmetricDataset",
    "TransformedDataset",
    "accepted_options",
    "build",
    "cache_dir",
    "data_dirs",
    "describe",
    "grid_test_sets",
    "names",
    "nested_order",
    "nested_subsets",
    "random_test_set",
    "register",
    "splits",
]
