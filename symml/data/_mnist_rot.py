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
import os
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from torch import Tensor

from symml.data._idx import parse_amat, verify_once
from symml.data.paths import DataNotFoundError, data_dirs

MNIST_ROT_URL = "http://www.iro.umontreal.ca/~lisa/icml2007data/mnist_rotation_new.zip"
MNIST_ROT_ZIP = "mnist_rotation_new.zip"
MNIST_ROT_MD5 = "0f9a947ff3d30e95cd685462cbf3b847"
MNIST_ROT_TRAIN = "mnist_all_rotation_normalized_float_train_valid.amat"  # 12,000 rows
MNIST_ROT_TEST = "mnist_all_rotation_normalized_float_test.amat"  # 50,000 rows
HOW_TO_GET = (
    'python -c "from symml.data.mnist import download_mnist_rot; download_mnist_rot()" '
    f"(fetches {MNIST_ROT_URL}), or put {MNIST_ROT_ZIP} or the two extracted .amat files in "
    "<data dir>/mnist_rot/"
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


def download_mnist_rot(dest: Path | str | None = None) -> Path:
    """Fetch ``mnist_rotation_new.zip`` into ``dest`` (default: ``<first data dir>/mnist_rot``),
    checking its MD5; nothing partial is left behind. Needs network access; tests never call it.
    Returns the zip's path."""
    folder = Path(dest) if dest is not None else data_dirs()[0] / "mnist_rot"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MNIST_ROT_ZIP
    if target.is_file():
        verify_once(target, MNIST_ROT_MD5, "md5")
        return target
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=MNIST_ROT_ZIP + ".")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        urllib.request.urlretrieve(MNIST_ROT_URL, tmp)  # noqa: S310 - the fixed dataset URL
        verify_once(tmp, MNIST_ROT_MD5, "md5")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
