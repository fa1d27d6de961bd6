"""Where datasets live: the user's data directory, the cache, checksums, and (for users online)
downloads that verify what they fetch.

Data is read from ``$SYMML_DATA_DIR`` (falling back to ``~/.cache/symml/data``); generated data
(rotated MNIST, N-body trajectories) is cached under ``$SYMML_CACHE_DIR`` (falling back to
``~/.cache/symml/cache``), so a read-only data directory works. Tests never download.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path


def _home_cache() -> Path:
    return Path.home() / ".cache" / "symml"


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not in any directory searched."""


class ChecksumError(ValueError):
    """A dataset file does not have the published checksum (corrupt or truncated)."""


def data_dirs() -> list[Path]:
    """The directories searched for dataset files, in order: ``$SYMML_DATA_DIR`` (if set), then
    ``~/.cache/symml/data``."""
    dirs = []
    env = os.environ.get("SYMML_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(_home_cache() / "data")
    return dirs


def cache_dir() -> Path:
    """Writable directory for generated data: ``$SYMML_CACHE_DIR`` or ``~/.cache/symml/cache``."""
    env = os.environ.get("SYMML_CACHE_DIR")
    path = Path(env).expanduser() if env else _home_cache() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_dataset_dir(name: str, files: Sequence[str], how_to_get: str) -> Path:
    """The first ``<data dir>/<name>`` holding every file in ``files``.

    Raises:
        DataNotFoundError: naming every directory searched, the expected files and ``how_to_get``.
    """
    searched = [d / name for d in data_dirs()]
    for folder in searched:
        if all((folder / f).is_file() for f in files):
            return folder
    lines = "\n".join(f"  - {folder}" for folder in searched)
    raise DataNotFoundError(
        f"dataset {name!r}: files {list(files)} not found. Searched:\n{lines}\n"
        f"Set SYMML_DATA_DIR to the folder that holds {name}/, or get the files: {how_to_get}"
    )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise `ChecksumError` naming the file when its SHA-256 is not ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: SHA-256 {actual} does not match the published {expected}; the file is "
            "corrupt or truncated: delete it and fetch it again"
        )


def download(url: str, destination: Path, sha256: str) -> Path:
    """Fetch ``url`` to ``destination``, verifying ``sha256``; nothing partial is left behind
    (the bytes go to a temporary file in the same folder, renamed only once verified)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        urllib.request.urlretrieve(url, tmp)  # noqa: S310 - fixed https/http dataset URLs
        verify_sha256(tmp, sha256)
        tmp.replace(destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination
