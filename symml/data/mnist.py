"""MNIST and its rotated variants (docs/design.md, "Models and data"; docs/published.md §0 and §7).

Four datasets, each built as ``builder(split, **options)`` (or ``symml.data.build(name, split)``):

- ``mnist``: the original digits from LeCun's four IDX files in ``<data dir>/mnist/`` (SHA-256
  checked); splits ``train`` (60,000) and ``test`` (10,000). Group `Trivial`: MNIST is upright.
- ``mnist_upright``: the same digits split for the "train upright, test rotated" protocol
  (docs/published.md §7).
- ``rotated_mnist``: MNIST-rot regenerated from MNIST (12,000 training digits including 2,000
  for validation, 50,000 test digits, uniform angles, seeded, cached); group `SO2`, or `O2` with
  ``flips=True``.
- ``mnist_rot_original``: the original Larochelle et al. files, for users who have them.

A sample is ``(image [1, 28, 28] float32 in [0, 1], label [] long)``. Every dataset accepts any
group that acts on images in `reps` (labels are invariant), so transformed test sets come from
`symml.data.grid_test_sets` / `random_test_set` with any planar group.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from symml.data._digits import DigitImages, TransformedDigits, check_split, first
from symml.data._idx import parse_amat, read_idx, verify_once
from symml.data._mnist_rot import (
    MNIST_ROT_TEST,
    MNIST_ROT_TRAIN,
    download_mnist_rot,
    find_mnist_rot,
    read_mnist_rot,
)
from symml.data._rotated_mnist import cached, generate_rotated_mnist
from symml.data.paths import (
    DOWNLOAD_TIMEOUT_S,
    ChecksumError,
    DataNotFoundError,
    DownloadError,
    data_dirs,
    download,
    find_dataset_dir,
)
from symml.groups import O2, SO2, Trivial

__all__ = [
    "MNIST_FILES",
    "DigitImages",
    "TransformedDigits",
    "build_mnist",
    "build_mnist_rot_original",
    "build_mnist_upright",
    "build_rotated_mnist",
    "download_mnist",
    "download_mnist_rot",
    "find_mnist",
    "find_mnist_rot",
    "load_mnist",
    "parse_amat",
    "read_idx",
    "rotated_mnist_arrays",
]

# file -> SHA-256 of the published .gz (shared/data/README.md; the same files torchvision and
# TFDS fetch)
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
# torchvision's mirrors, in its order; both serve the byte-identical files
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
HOW_TO_GET = (
    "run `symml data download mnist` (or `symml.data.mnist.download_mnist()` in Python), which "
    f"fetches the four files from {MNIST_MIRRORS[0]} and checks their SHA-256"
)
_TRAIN, _TEST = 60_000, 10_000


def load_mnist(split: str) -> tuple[Tensor, Tensor]:
    """``(pixels [N, 28, 28] uint8 0..255, labels [N] uint8)`` of the original ``"train"``
    (60,000) or ``"test"`` (10,000) digits, each file's SHA-256 checked (once per process).

    Raises:
        DataNotFoundError: listing every directory searched and how to get the files.
        ChecksumError: naming a file whose bytes are not the published ones.
    """
    check_split(split, _SPLIT_FILES, "mnist")
    images_file, labels_file = _SPLIT_FILES[split]
    folder = find_dataset_dir("mnist", list(MNIST_FILES), HOW_TO_GET)
    for name in (images_file, labels_file):
        verify_once(folder / name, MNIST_FILES[name])
    pixels = read_idx(folder / images_file, _IMAGES_MAGIC)
    labels = read_idx(folder / labels_file, _LABELS_MAGIC)
    if pixels.dim() != 3 or labels.shape != pixels.shape[:1]:
        raise ValueError(
            f"{folder}: {images_file} has shape {list(pixels.shape)} and {labels_file} "
            f"{list(labels.shape)}; expected [N, 28, 28] and [N]"
        )
    return pixels, labels


def find_mnist() -> Path | None:
    """The folder `load_mnist` would read, when its four files are there and match their
    published SHA-256; ``None`` when they are missing or corrupt (then `download_mnist` is the
    fix, and a corrupt file there makes it raise `ChecksumError` naming the file)."""
    try:
        folder = find_dataset_dir("mnist", list(MNIST_FILES), HOW_TO_GET)
        for name, sha256 in MNIST_FILES.items():
            verify_once(folder / name, sha256)
    except (DataNotFoundError, ChecksumError):
        return None
    return folder


def download_mnist(dest: Path | str | None = None, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch the four MNIST files from `MNIST_MIRRORS` (tried in order), each SHA-256 checked and
    written atomically. Needs network access; tests serve a mirror through ``file://`` URLs.

    Args:
        dest: the folder to fill (default ``<first data dir>/mnist``, where `load_mnist` looks
            first). Files already there with the published checksum are kept, not fetched.
        timeout: seconds each mirror gets to connect and to send each block, so that an offline
            machine fails within about ``timeout`` times the number of mirrors.

    Returns:
        The folder holding the four verified files.

    Raises:
        DownloadError: no mirror could be reached for some file (offline, mirrors down); the
            message lists each mirror's error.
        ChecksumError: a mirror served bytes that are not the published ones (and no other
            mirror served the right ones), or a file already in ``dest`` is corrupt.
        OSError: ``dest`` could not be written.
    """
    folder = Path(dest) if dest is not None else data_dirs()[0] / "mnist"
    # A mirror that could not be reached at all is not tried again for the next files: when it
    # is down, each file would otherwise wait ``timeout`` for it before trying the next mirror.
    unreachable: dict[str, DownloadError] = {}
    for name, sha256 in MNIST_FILES.items():
        target = folder / name
        if target.is_file():
            verify_once(target, sha256)
            continue
        failures: list[Exception] = []
        for mirror in MNIST_MIRRORS:
            if mirror in unreachable:
                failures.append(unreachable[mirror])
                continue
            try:
                download(mirror + name, target, sha256, timeout=timeout)
                break
            except DownloadError as err:
                if not isinstance(err.__cause__, urllib.error.HTTPError):
                    unreachable[mirror] = err
                failures.append(err)
            except ChecksumError as err:
                failures.append(err)
        else:
            detail = "; ".join(str(err) for err in failures) or "MNIST_MIRRORS is empty"
            # bytes that arrived but were wrong are not an outage: say so, to be retried or
            # reported rather than blamed on the network
            if any(isinstance(err, ChecksumError) for err in failures):
                raise ChecksumError(f"no mirror served the published {name}: {detail}")
            raise DownloadError(f"no mirror could be reached for {name}: {detail}")
    return folder


def build_mnist(split: str = "train", *, size: int | None = None) -> DigitImages:
    """MNIST as published: ``"train"`` (60,000) or ``"test"`` (10,000) digits, upright.

    Args:
        split: ``"train"`` or ``"test"``.
        size: keep the first ``size`` digits (default all); for nested, class-balanced subsets
            use `symml.data.nested_subsets` on ``dataset.labels``.
    """
    pixels, labels = load_mnist(split)
    part = first(size, len(pixels), "mnist")
    return DigitImages(pixels[part], labels[part], Trivial(), f"mnist/{split}")


def build_mnist_upright(split: str = "train", *, size: int | None = None) -> DigitImages:
    """Upright MNIST for the "train upright, test rotated" protocol (docs/published.md §7).

    Splits: ``"train"`` = the first 50,000 training digits and ``"val"`` = the last 10,000 (for
    model selection, the usual 50k/10k split of the MNIST training set), ``"train_all"`` = all
    60,000 (to retrain on once a model is chosen, as with MNIST-rot's 10k/2k → 12k), ``"test"`` =
    the 10,000 test digits. Rotate the test split with
    ``grid_test_sets(ds, SO2())`` / ``random_test_set(ds, SO2())``. Group `Trivial`.
    """
    splits = {
        "train": slice(0, 50_000),
        "val": slice(50_000, _TRAIN),
        "train_all": slice(0, _TRAIN),
        "test": slice(0, _TEST),
    }
    check_split(split, splits, "mnist_upright")
    part = splits[split]
    pixels, labels = load_mnist("test" if split == "test" else "train")
    pixels, labels = pixels[part], labels[part]
    keep = first(size, len(pixels), "mnist_upright")
    return DigitImages(pixels[keep], labels[keep], Trivial(), f"mnist_upright/{split}")


def rotated_mnist_arrays(
    *,
    seed: int = 0,
    n_train: int = 12_000,
    n_test: int = 50_000,
    flips: bool = False,
    cache: bool = True,
) -> dict[str, Any]:
    """The regenerated MNIST-rot arrays: ``n_train`` training digits (validation included) and
    then ``n_test`` test digits, drawn without overlap from the 70,000 MNIST digits (train then
    test; ``source_index`` ≥ 60,000 is test digit ``source_index - 60,000``) and rotated by angles
    uniform in [0, 2π) (see `symml.data._rotated_mnist.generate_rotated_mnist`).

    With ``cache`` the result is read from, or written to, ``<cache dir>/rotated_mnist-<hash>.pt``
    (the hash covers every parameter and the MNIST checksums). Stored as uint8 (~50 MB for the
    full 62,000 digits): each pixel is ``round(255 · bilinear)``, within half a grey level of
    the float rotation.
    """
    params = {
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "flips": bool(flips),
        "mnist_sha256": sorted(MNIST_FILES.values()),
    }

    def make() -> dict[str, Any]:
        train_pixels, train_labels = load_mnist("train")
        test_pixels, test_labels = load_mnist("test")
        return generate_rotated_mnist(
            torch.cat([train_pixels, test_pixels]),
            torch.cat([train_labels, test_labels]),
            n_train=n_train,
            n_test=n_test,
            seed=seed,
            flips=flips,
        )

    return cached(params, make) if cache else make()


def build_rotated_mnist(
    split: str = "train",
    *,
    seed: int = 0,
    flips: bool = False,
    train_size: int = 10_000,
    val_size: int = 2_000,
    test_size: int = 50_000,
    size: int | None = None,
) -> TransformedDigits:
    """MNIST-rot regenerated from MNIST (docs/published.md §0, "How to use this"): a regenerated
    variant with the published sizes, not the original files (see ``mnist_rot_original``).

    Each digit is rotated by an angle uniform in [0, 2π) with bilinear interpolation and zero
    padding; with ``flips`` it is first mirrored with probability 1/2 (the O(2) variant, like
    e2cnn's ``mnist_fliprot``, except that its test set is not doubled). ``angles``, ``flips``,
    ``source_index`` and ``elements`` record what was applied.

    Args:
        split: ``"train"`` (the first ``train_size`` = 10,000 training digits), ``"val"`` (the
            last ``val_size`` = 2,000), ``"train_all"`` (all 12,000) or ``"test"`` (50,000).
        seed: seeds the digits, angles and flips; same seed, same bytes.
        flips: random reflections too (group `O2` instead of `SO2`), cached separately.
        train_size, val_size, test_size: smaller variants for tests and quick runs.
        size: keep the first ``size`` samples of the split.
    """
    n_all = train_size + val_size
    splits = {
        "train": slice(0, train_size),
        "val": slice(train_size, n_all),
        "train_all": slice(0, n_all),
        "test": slice(n_all, n_all + test_size),
    }
    check_split(split, splits, "rotated_mnist")
    part = splits[split]
    if min(train_size, val_size, test_size) < 1:
        raise ValueError(
            f"rotated_mnist: train_size, val_size and test_size must be >= 1 "
            f"(got {train_size}, {val_size}, {test_size})"
        )
    arrays = rotated_mnist_arrays(seed=seed, n_train=n_all, n_test=test_size, flips=flips)
    keep = first(size, part.stop - part.start, "rotated_mnist")
    index = torch.arange(part.start, part.stop)[keep]
    angles = arrays["angles"][index]
    if flips:
        elements = O2().element(torch.stack([arrays["flips"][index].double(), angles], -1))
    else:
        elements = SO2().element(angles)
    name = f"rotated_mnist/{split} (seed {seed}{', flips' if flips else ''})"
    return TransformedDigits(
        arrays["pixels"][index],
        arrays["labels"][index].long(),
        elements,
        arrays["source_index"][index],
        name,
    )


def build_mnist_rot_original(
    split: str = "train", *, size: int | None = None, transpose: bool = False
) -> DigitImages:
    """The original MNIST-rot of Larochelle et al. (2007) from ``<data dir>/mnist_rot/``.

    Splits as in the G-CNN convert script: ``"train"`` = the first 10,000 rows of the
    train/valid file, ``"val"`` = the last 2,000, ``"train_all"`` = all 12,000, ``"test"`` =
    the 50,000 test rows. (For a file of another length the train part is its first
    ``floor(5N/6)`` rows, e2cnn's split rule, which gives 10,000 of 12,000.) Pixels are float32
    as stored; group `SO2`.

    Args:
        split: ``"train"``, ``"val"``, ``"train_all"`` or ``"test"``.
        size: keep the first ``size`` samples of the split.
        transpose: read each row column-major (see `symml.data._mnist_rot` on the layout).
    """
    check_split(split, ("train", "val", "train_all", "test"), "mnist_rot_original")
    member = MNIST_ROT_TEST if split == "test" else MNIST_ROT_TRAIN
    pixels, labels = read_mnist_rot(member, transpose)
    n_train = (5 * len(pixels)) // 6
    part = {"train": slice(0, n_train), "val": slice(n_train, None)}.get(split, slice(None))
    pixels, labels = pixels[part], labels[part]
    keep = first(size, len(pixels), "mnist_rot_original")
    return DigitImages(pixels[keep], labels[keep], SO2(), f"mnist_rot_original/{split}")
