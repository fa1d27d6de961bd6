"""The datasets symml downloads by name (``symml data download NAME``): how each is fetched and
found, and what to do by hand when a machine is offline.

Only files from official mirrors are fetched (``mnist``: four SHA-256-checked files;
``mnist_rot``: one MD5-checked zip); the other datasets are built from them or generated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from symml.data import mnist
from symml.data._mnist_rot import MNIST_ROT_ZIP
from symml.data.paths import data_dirs


@dataclass(frozen=True)
class Download:
    """A dataset symml fetches.

    Attributes:
        name: the dataset, also the folder its files go in.
        fetch: fetches the files into a folder, verified; raises `DownloadError` (offline),
            `ChecksumError` (bad bytes) or `OSError` (an unwritable folder).
        find: the folder symml reads verified files from, or None when there is none.
        files: the files to copy into ``$SYMML_DATA_DIR/<name>`` by hand when offline.
        verified: what a finished fetch checked, in words.
    """

    name: str
    fetch: Callable[[Path], Path]
    find: Callable[[], Path | None]
    files: str
    verified: str

    def folder(self, dest: Path | None = None) -> Path:
        """Where the files go: ``dest/<name>``, by default in the first folder symml
        searches (``$SYMML_DATA_DIR`` or ``~/.cache/symml/data``)."""
        return (dest if dest is not None else data_dirs()[0]) / self.name


DOWNLOADS = {
    "mnist": Download(
        "mnist",
        mnist.download_mnist,
        mnist.find_mnist,
        "the four files",
        "their SHA-256 checksums match the published ones",
    ),
    "mnist_rot": Download(
        "mnist_rot",
        mnist.download_mnist_rot,
        mnist.find_mnist_rot,
        MNIST_ROT_ZIP,
        "its MD5 checksum matches the published one",
    ),
}
# datasets built from downloaded files -> what to download for them
_BUILT_FROM = {
    "rotated_mnist": "mnist",
    "mnist_upright": "mnist",
    "mnist_rot_original": "mnist_rot",
}


def downloadable(name: str) -> Download:
    """The download of dataset ``name``.

    Raises:
        ValueError: symml does not download ``name``; the message lists what it does download
            and, for a dataset built from downloaded files, which download it needs.

    Example:
        >>> downloadable("mnist").files
        'the four files'
    """
    if name in DOWNLOADS:
        return DOWNLOADS[name]
    hint = (
        f"{name} is built from {_BUILT_FROM[name]}: `symml data download {_BUILT_FROM[name]}`"
        if name in _BUILT_FROM
        else "the other datasets are built from these or generated (`symml data list`)"
    )
    raise ValueError(
        f"cannot download {name!r}: the datasets symml downloads are {', '.join(DOWNLOADS)}; {hint}"
    )


def is_searched(folder: Path) -> bool:
    """Whether symml reads datasets from ``folder``'s parent (one of `data_dirs`), so that
    files fetched into ``folder`` are found without setting ``SYMML_DATA_DIR``."""
    return folder.parent.resolve() in [d.resolve() for d in data_dirs()]
