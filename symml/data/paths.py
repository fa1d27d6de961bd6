"""Where datasets live: the user's data directory, the cache, checksums, and (for users online)
downloads that verify what they fetch.

Data is read from ``$SYMML_DATA_DIR`` (falling back to ``~/.cache/symml/data``); generated data
(rotated MNIST, N-body trajectories) is cached under ``$SYMML_CACHE_DIR`` (falling back to
``~/.cache/symml/cache``; the rule is `symml._cache.cache_dir`, re-exported here), so a read-only
data directory works. Tests never download.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

# the cache folder's rule lives with the cache helpers, below every layer (symml.nn uses it too)
from symml._cache import cache_dir as cache_dir

# Seconds to wait for a connection or for each block of a download: an offline machine or a dead
# mirror fails within this time (per mirror) rather than hanging for minutes.
DOWNLOAD_TIMEOUT_S = 10.0


def _home_cache() -> Path:
    return Path.home() / ".cache" / "symml"


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not in any directory searched."""


class ChecksumError(ValueError):
    """A dataset file does not have the published checksum (corrupt or truncated)."""


class DownloadError(OSError):
    """A file could not be fetched: no network, a mirror down or refusing, or a connection cut
    off. (Bytes that arrive but do not match the published checksum raise `ChecksumError`.)"""


def data_dirs() -> list[Path]:
    """The directories searched for dataset files, in order: ``$SYMML_DATA_DIR`` (if set), then
    ``~/.cache/symml/data``."""
    dirs = []
    env = os.environ.get("SYMML_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(_home_cache() / "data")
    return dirs


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


def download(
    url: str,
    destination: Path,
    checksum: str,
    *,
    algorithm: str = "sha256",
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Fetch ``url`` to ``destination``, verifying its checksum; nothing partial is left behind
    (the bytes go to a temporary file in the same folder, renamed only once verified).

    Args:
        url: an ``https://``, ``http://`` or ``file://`` URL.
        destination: the file to write; its folder is created if needed.
        checksum: the published hex digest of the file.
        algorithm: a `hashlib` name, ``"sha256"`` or ``"md5"``.
        timeout: seconds to wait for the connection and for each block.

    Returns:
        ``destination``.

    Raises:
        DownloadError: ``url`` could not be fetched (offline, unreachable, HTTP error, timeout).
        ChecksumError: the bytes fetched do not have the published checksum.
        OSError: ``destination`` could not be written (permissions, disk full).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(handle, "wb") as out:
            try:
                # S310: the URLs are the fixed dataset mirrors (or file:// copies in tests)
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                    while block := response.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            # Only network failures become DownloadError: an OSError from writing `out` (disk
            # full, permissions) is not one of these and propagates as itself.
            except urllib.error.HTTPError as err:  # reached, but refused: "HTTP Error 404: ..."
                raise DownloadError(f"{url}: {err}") from err
            except urllib.error.URLError as err:  # not reached: DNS, refused, file:// missing
                raise DownloadError(f"{url}: {err.reason}") from err
            except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
                raise DownloadError(f"{url}: {type(err).__name__}: {err}") from err
        actual = digest.hexdigest()
        if actual != checksum:
            raise ChecksumError(
                f"{url}: {algorithm.upper()} {actual} does not match the published {checksum}; "
                "the download is corrupt or truncated: try again, or get the file another way"
            )
        tmp.replace(destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination
