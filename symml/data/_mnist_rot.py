"""The original MNIST-rot files of Larochelle et al. (ICML 2007), for users who have them.

``mnist_rotation_new.zip`` holds two text tables, one digit per line: 784 floats in [0, 1]
(the 28×28 pixels) and then the label. symml reads ``<data dir>/mnist_rot/`` holding either the
zip (its MD5 is checked) or the two extracted ``.amat`` files (no published checksum exists for
them, so only their format is checked).

Pixel layout. The G-CNN convert script (gconv_experiments ``MNIST_ROT/mnist_rot.py``) and the
e2cnn experiments reshape each row to 28×28 row-major with no transpose, so the published numbers
were obtained on that reading; symml does the same by default. One third-party loader treats the
rotated Larochelle files as column-major and transposes them. Without the files at hand this
cannot be settled here; as the digits are uniformly rotated, the two readings differ by a
reflection (the transpose), which matters only when these digits are mixed with upright MNIST
(mirrored digits). ``transpose=True`` gives the column-major reading.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from torch import Tensor

from symml.data._idx import parse_amat, verify_once
from symml.data.paths import (
    DOWNLOAD_TIMEOUT_S,
    ChecksumError,
    DataNotFoundError,
    data_dirs,
    download,
)

MNIST_ROT_URL = "http://www.iro.umontreal.ca/~lisa/icml2007data/mnist_rotation_new.zip"
MNIST_ROT_ZIP = "mnist_rotation_new.zip"
MNIST_ROT_MD5 = "0f9a947ff3d30e95cd685462cbf3b847"
MNIST_ROT_TRAIN = "mnist_all_rotation_normalized_float_train_valid.amat"  # 12,000 rows
MNIST_ROT_TEST = "mnist_all_rotation_normalized_float_test.amat"  # 50,000 rows
HOW_TO_GET = (
    f"run `symml data download mnist_rot` (fetches {MNIST_ROT_URL}), or put {MNIST_ROT_ZIP} or "
    "the two extracted .amat files in <data dir>/mnist_rot/"
)


def read_mnist_rot(member: str, transpose: bool = False) -> tuple[Tensor, Tensor]:
    """``(pixels [N, 28, 28] float32, labels [N] long)`` of one original file (``member`` is
    `MNIST_ROT_TRAIN` or `MNIST_ROT_TEST`), from the first data directory that has the zip or the
    extracted files."""
    searched = [d / "mnist_rot" for d in data_dirs()]
    for folder in searched:
        archive = folder / MNIST_ROT_ZIP
        if archive.is_file():
            verify_once(archive, MNIST_ROT_MD5, "md5")
            with zipfile.ZipFile(archive) as zf:
                name = _member(zf, member, archive)
                with zf.open(name) as raw:
                    pixels, labels = parse_amat(
                        io.TextIOWrapper(raw, encoding="ascii"), f"{archive}:{name}"
                    )
            return _images(pixels, transpose), labels
        if (folder / MNIST_ROT_TRAIN).is_file() and (folder / MNIST_ROT_TEST).is_file():
            with open(folder / member, encoding="ascii") as handle:
                pixels, labels = parse_amat(handle, str(folder / member))
            return _images(pixels, transpose), labels
    lines = "\n".join(f"  - {folder}" for folder in searched)
    raise DataNotFoundError(
        f"dataset 'mnist_rot': neither {MNIST_ROT_ZIP} nor [{MNIST_ROT_TRAIN}, {MNIST_ROT_TEST}] "
        f"found. Searched:\n{lines}\nSet SYMML_DATA_DIR to the folder that holds mnist_rot/, or "
        f"get the files: {HOW_TO_GET}"
    )


def _member(zf: zipfile.ZipFile, member: str, archive: Path) -> str:
    # the archive may keep the files in a folder: match on the base name
    for name in zf.namelist():
        if name.rsplit("/", 1)[-1] == member:
            return name
    raise ValueError(f"{archive}: no member {member!r} (it holds {zf.namelist()})")


def _images(pixels: Tensor, transpose: bool) -> Tensor:
    images = pixels.reshape(-1, 28, 28)
    return images.transpose(1, 2).contiguous() if transpose else images


def find_mnist_rot() -> Path | None:
    """The folder `read_mnist_rot` would read: the first ``<data dir>/mnist_rot`` holding the zip
    (with its published MD5) or both extracted ``.amat`` files (which have no published
    checksum); ``None`` when there is none, or when the zip found first is corrupt."""
    for folder in (d / "mnist_rot" for d in data_dirs()):
        archive = folder / MNIST_ROT_ZIP
        if archive.is_file():
            try:
                verify_once(archive, MNIST_ROT_MD5, "md5")
            except ChecksumError:
                return None  # read_mnist_rot stops at this zip too, and would fail
            return folder
        if (folder / MNIST_ROT_TRAIN).is_file() and (folder / MNIST_ROT_TEST).is_file():
            return folder
    return None


def download_mnist_rot(
    dest: Path | str | None = None, *, timeout: float = DOWNLOAD_TIMEOUT_S
) -> Path:
    """Fetch ``mnist_rotation_new.zip`` from `MNIST_ROT_URL`, checking its MD5; nothing partial
    is left behind. Needs network access; tests serve it through a ``file://`` URL.

    Args:
        dest: the folder to put it in (default ``<first data dir>/mnist_rot``); a verified zip
            already there is kept, not fetched.
        timeout: seconds to wait for the connection and for each block.

    Returns:
        The zip's path.

    Raises:
        DownloadError: the URL could not be fetched (offline, server down).
        ChecksumError: the bytes fetched, or a zip already in ``dest``, are not the published
            ones.
    """
    folder = Path(dest) if dest is not None else data_dirs()[0] / "mnist_rot"
    target = folder / MNIST_ROT_ZIP
    if target.is_file():
        verify_once(target, MNIST_ROT_MD5, "md5")
        return target
    return download(MNIST_ROT_URL, target, MNIST_ROT_MD5, algorithm="md5", timeout=timeout)
