"""Digit files: readers for LeCun's IDX (MNIST) and Larochelle's ``.amat`` text formats, and a
checksum check that hashes each file once per process.

The readers return plain tensors; finding the files is the caller's business
(`symml.data.mnist`).
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from symml.data.paths import ChecksumError

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"

# files whose checksum matched, by (path, size, mtime, ctime, inode, digest): hashing the 10 MB
# MNIST images costs ~50 ms, so repeated builds in one process check each file once
_VERIFIED: set[tuple[str, int, int, int, int, str]] = set()


def verify_once(path: Path, expected: str, algorithm: str = "sha256") -> None:
    """Raise `ChecksumError` naming ``path`` unless its ``algorithm`` digest is ``expected``.

    A match is remembered for this process while the file's size and times are unchanged.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if (*key, expected) in _VERIFIED:
        return
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{path}: {algorithm.upper()} {actual} does not match the published {expected}; the "
            "file is corrupt or truncated: delete it and fetch it again"
        )
    _VERIFIED.add((*key, expected))


def read_idx(path: Path, expected_magic: int | None = None) -> Tensor:
    """The array stored in an IDX file (gzip-compressed or not), as a tensor of its own shape.

    The header is ``0x00 0x00 <type> <ndim>`` (the magic number, e.g. 2051 = ``0x0803`` for
    MNIST images: unsigned bytes, 3 dimensions), then ``ndim`` big-endian uint32 sizes, then the
    data in row-major (C) order.

    Args:
        path: the ``.idx*-ubyte`` file, optionally ``.gz``-compressed (detected by content).
        expected_magic: raise unless the magic number is this one (2051 images, 2049 labels).

    Raises:
        ValueError: naming the file, for a wrong magic number, an unknown type byte or a size
            that does not match the header (truncated or padded file).
    """
    raw = Path(path).read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(raw)} bytes, no 4-byte header")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number {magic} (0x{magic:08x}) must be "
            "0x0000TTNN with type TT in {08, 09, 0B, 0C, 0D, 0E} and NN >= 1 dimensions"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path}: IDX magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}); is this the right file (images 2051, labels 2049)?"
        )
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: IDX header says shape {list(shape)} ({expected} bytes), but the file has "
            f"{len(raw)} bytes: it is truncated or corrupt"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def parse_amat(
    lines: Iterable[str | bytes], source: str, width: int = 784
) -> tuple[Tensor, Tensor]:
    """``(pixels [N, width] float32, labels [N] long)`` from ``.amat`` text: one sample per line,
    ``width`` whitespace-separated floats then the label (written as a float). Lines are parsed
    one at a time, so a file object or a zip member streams without holding the text.

    Raises:
        ValueError: naming ``source`` and the first bad line (column count not ``width + 1``, a
            value that is not a number, a label that is not a whole number), or an empty file.

    Example:
        >>> pixels, labels = parse_amat(["0.0 0.5 1.0 0.25 7.000e+00"], "tiny.amat", width=4)
        >>> pixels.tolist(), labels.tolist()
        ([[0.0, 0.5, 1.0, 0.25]], [7])
    """
    rows: list[np.ndarray] = []
    for number, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != width + 1:
            raise ValueError(
                f"{source}: line {number} has {len(tokens)} columns, expected {width + 1} "
                f"({width} pixels and the label)"
            )
        try:
            row = np.array(tokens, dtype=np.float32)
        except ValueError as err:
            raise ValueError(f"{source}: line {number}: a value is not a number ({err})") from err
        if row[-1] != np.round(row[-1]):
            raise ValueError(
                f"{source}: line {number}: the last column is the label and must be a whole "
                f"number (got {row[-1]})"
            )
        rows.append(row)
    if not rows:
        raise ValueError(f"{source}: no rows; expected {width} pixel values and a label per line")
    table = torch.from_numpy(np.stack(rows))
    return table[:, :-1].contiguous(), table[:, -1].round().long()
