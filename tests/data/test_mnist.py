"""MNIST and its rotated variants: the real files (checksums, counts, histograms), the failure
modes (corrupt, missing, malformed), regenerated MNIST-rot (seeded, disjoint, truly rotations,
cached), the original-file reader on synthetic files, and the group actions on samples.

Tests on the real MNIST files need ``SYMML_DATA_DIR`` (CI points it at ``shared/data``).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

import symml.data
from symml.data import (
    ChecksumError,
    DataNotFoundError,
    _idx,
    _mnist_rot,
    _rotated_mnist,
    grid_test_sets,
    paths,
)
from symml.data.mnist import (
    MNIST_FILES,
    DigitImages,
    TransformedDigits,
    build_mnist_rot_original,
    load_mnist,
    parse_amat,
    read_idx,
    rotated_mnist_arrays,
)
from symml.groups import O2, SO2, SO3, Cyclic, Dihedral, Group, Trivial, act_on_images, p4, p4m

REAL_DATA = os.environ.get("SYMML_DATA_DIR")
needs_mnist = pytest.mark.skipif(
    not REAL_DATA,
    reason="SYMML_DATA_DIR is not set: point it at a folder holding mnist/ (e.g. shared/data) "
    "to test on the real MNIST files",
)
HISTOGRAMS = {  # shared/data/README.md, "Contents"
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
SMALL = {"train_size": 250, "val_size": 50, "test_size": 100}  # a 300 + 100 digit variant


def _build(name: str, split: str, **options: Any) -> DigitImages:
    ds = symml.data.build(name, split, **options)
    assert isinstance(ds, DigitImages)
    return ds


def _rotated(split: str, **options: Any) -> TransformedDigits:
    ds = symml.data.build("rotated_mnist", split, **options)
    assert isinstance(ds, TransformedDigits)
    return ds


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated data goes to a fresh cache folder, never the user's."""
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def mnist_all() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    if not REAL_DATA:
        pytest.skip("SYMML_DATA_DIR is not set")
    return {split: load_mnist(split) for split in ("train", "test")}


@pytest.fixture(scope="module")
def small_rotated() -> dict[bool, dict[str, Any]]:
    if not REAL_DATA:
        pytest.skip("SYMML_DATA_DIR is not set")
    return {
        flips: rotated_mnist_arrays(seed=0, n_train=300, n_test=100, flips=flips, cache=False)
        for flips in (False, True)
    }


# ---------------------------------------------------------------- the real MNIST files


@needs_mnist
@pytest.mark.parametrize(("split", "count"), [("train", 60_000), ("test", 10_000)])
def test_counts_histograms_and_schema(split: str, count: int) -> None:
    ds = _build("mnist", split)
    assert len(ds) == count
    assert torch.bincount(ds.labels, minlength=10).tolist() == HISTOGRAMS[split]
    assert ds.labels.dtype == torch.long and ds.group == Trivial()
    image, label = ds[count - 1]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert label.shape == () and label.dtype == torch.long and label == ds.labels[-1]


@needs_mnist
def test_pixels_map_0_255_to_unit_interval(
    mnist_all: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    pixels, _ = mnist_all["test"]
    assert pixels.dtype == torch.uint8 and pixels.min() == 0 and pixels.max() == 255
    images = _build("mnist", "test").images()
    assert images.shape == (10_000, 1, 28, 28)
    assert images.min() == 0.0 and images.max() == 1.0
    assert torch.equal((images * 255).round().to(torch.uint8)[:, 0], pixels)


@needs_mnist
def test_files_have_published_checksums() -> None:
    folder = Path(REAL_DATA or "") / "mnist"
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    listed = {name: digest for digest, name in (line.split() for line in lines)}
    for name, sha256 in MNIST_FILES.items():
        assert paths.sha256_file(folder / name) == sha256 == listed[name]


@needs_mnist
@pytest.mark.parametrize("victim", ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"])
def test_corrupt_copy_raises_checksum_error_naming_the_file(
    victim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "data" / "mnist"
    shutil.copytree(Path(REAL_DATA or "") / "mnist", copy)
    raw = bytearray((copy / victim).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (copy / victim).write_bytes(bytes(raw))
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "data"))
    split = "train" if victim.startswith("train") else "test"
    with pytest.raises(ChecksumError, match=victim.replace(".", r"\.")):
        _build("mnist", split)


def test_missing_files_list_every_searched_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    searched = [d / "mnist" for d in paths.data_dirs()]
    assert len(searched) == 2
    with pytest.raises(DataNotFoundError, match="download_mnist") as info:
        _build("mnist", "test")
    for folder in searched:
        assert str(folder) in str(info.value)


def test_checksum_is_computed_once_per_unchanged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"digits")
    expected = hashlib.sha256(b"digits").hexdigest()
    _idx.verify_once(path, expected)

    def no_hashing(name: str) -> object:
        raise AssertionError("hashed a file already verified")

    monkeypatch.setattr(_idx.hashlib, "new", no_hashing)
    _idx.verify_once(path, expected)  # remembered: no hashing
    monkeypatch.undo()
    path.write_bytes(b"digitz")  # same size, new content and times: checked again
    with pytest.raises(ChecksumError, match="file.bin"):
        _idx.verify_once(path, expected)


# ---------------------------------------------------------------- the IDX reader


def _idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + payload


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path: Path, compress: bool) -> None:
    pixels = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(2051, (2, 3, 4), pixels.numpy().tobytes())
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    assert torch.equal(read_idx(path, 2051), pixels)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_idx_bytes(2049, (2,), b"\x01\x02"), r"magic number 2049 \(0x00000801\), expected 2051"),
        (b"\x89PNG" + bytes(20), "not an IDX file"),
        (_idx_bytes(2051, (2, 28, 28), bytes(100)), "truncated or corrupt"),
        (b"\x00\x00", "no 4-byte header"),
    ],
    ids=["wrong-magic", "not-idx", "truncated", "empty"],
)
def test_malformed_idx_gives_clear_error(tmp_path: Path, raw: bytes, match: str) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        read_idx(path, 2051)


# ---------------------------------------------------------------- regenerated MNIST-rot


@needs_mnist
def test_same_seed_same_bytes_other_seed_differs(small_rotated: dict[bool, dict[str, Any]]) -> None:
    again = rotated_mnist_arrays(seed=0, n_train=300, n_test=100, cache=False)
    other = rotated_mnist_arrays(seed=1, n_train=300, n_test=100, cache=False)
    for key in ("pixels", "labels", "angles", "flips", "source_index"):
        assert torch.equal(small_rotated[False][key], again[key]), key
    assert not torch.equal(small_rotated[False]["pixels"], other["pixels"])
    assert not torch.equal(small_rotated[False]["source_index"], other["source_index"])


@needs_mnist
def test_train_and_test_share_no_source_digit() -> None:
    train = _rotated("train_all", **SMALL)
    test = _rotated("test", **SMALL)
    assert (len(train), len(test)) == (300, 100)
    shared = set(train.source_index.tolist()) & set(test.source_index.tolist())
    assert not shared
    assert len(set(train.source_index.tolist())) == 300
    assert int(train.source_index.max()) < 70_000


@needs_mnist
@pytest.mark.parametrize("flips", [False, True])
def test_rotated_digits_are_rotations_of_their_sources(
    flips: bool,
    small_rotated: dict[bool, dict[str, Any]],
    mnist_all: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    """Each stored digit = round(255 · act_on_images(g_i, source_i)) for its recorded g_i."""
    arrays = small_rotated[flips]
    sources = torch.cat([mnist_all["train"][0], mnist_all["test"][0]])
    source_labels = torch.cat([mnist_all["train"][1], mnist_all["test"][1]])
    index = arrays["source_index"]
    angles = arrays["angles"]
    assert angles.dtype == torch.float64 and angles.min() >= 0 and angles.max() < 2 * math.pi
    if flips:
        g = O2().element(torch.stack([arrays["flips"].double(), angles], -1))
        assert 0.3 < arrays["flips"].double().mean() < 0.7
    else:
        g = SO2().element(angles)
        assert not arrays["flips"].any()
    expected = act_on_images(g, sources[index].float()[:, None] / 255, interpolation=True)
    stored = arrays["pixels"].float()[:, None] / 255
    assert (stored - expected).abs().max() <= 0.5 / 255 + 1e-6
    assert torch.equal(arrays["labels"], source_labels[index])
    # and they are not the unrotated digits (a few may be, by angle near 0 or by symmetry)
    change = (stored - sources[index].float()[:, None] / 255).abs().amax((1, 2, 3))
    assert change.median() > 0.5


@needs_mnist
def test_splits_slice_one_generated_set() -> None:
    parts = {s: _rotated(s, **SMALL) for s in ("train", "val")}
    whole = _rotated("train_all", **SMALL)
    assert (len(parts["train"]), len(parts["val"])) == (250, 50)
    assert torch.equal(torch.cat([parts["train"].pixels, parts["val"].pixels]), whole.pixels)
    assert torch.equal(torch.cat([parts["train"].angles, parts["val"].angles]), whole.angles)
    assert whole.group == SO2() and whole.angles.shape == (300,)
    flipped = _rotated("test", flips=True, **SMALL)
    assert flipped.group == O2() and flipped.flips.dtype == torch.bool
    assert len(_rotated("test", size=7, **SMALL)) == 7


@needs_mnist
def test_cache_file_created_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = _rotated("test", **SMALL)
    files = sorted(cache.glob("rotated_mnist-*.pt"))
    assert len(files) == 1 and not list(cache.glob("*.tmp"))

    def no_generation(*args: object, **kwargs: object) -> dict:
        raise AssertionError("regenerated data that is in the cache")

    monkeypatch.setattr("symml.data.mnist.generate_rotated_mnist", no_generation)
    again = _rotated("val", **SMALL)  # same arrays, another split
    assert len(again) == 50
    assert torch.equal(_rotated("test", **SMALL).pixels, first.pixels)
    assert sorted(cache.glob("rotated_mnist-*.pt")) == files
    with pytest.raises(AssertionError, match="regenerated"):  # other parameters: another file
        _rotated("test", flips=True, **SMALL)


def test_cache_file_name_hashes_every_parameter() -> None:
    base = {"seed": 0, "n_train": 12_000, "n_test": 50_000, "flips": False}
    names = {_rotated_mnist.cache_path(base).name}
    for key, value in [("seed", 1), ("n_train", 300), ("n_test", 100), ("flips", True)]:
        names.add(_rotated_mnist.cache_path({**base, key: value}).name)
    assert len(names) == 5


# ---------------------------------------------------------------- group actions on samples


@needs_mnist
@pytest.mark.parametrize("name", ["mnist", "rotated_mnist"])
def test_grid_test_sets_quarter_turn_is_exact_rot90(name: str) -> None:
    options = {"size": 20} if name == "mnist" else {**SMALL, "size": 20}
    ds = _build(name, "test", **options)
    sets = grid_test_sets(ds, SO2(), steps=24)
    assert list(sets) == [f"rot{15 * k:03d}" for k in range(24)]
    for i in (0, 7, 19):
        image, label = sets["rot090"][i]
        assert torch.equal(image, torch.rot90(ds[i][0], 1, dims=(-2, -1)))
        assert label == ds.labels[i]
        assert torch.equal(sets["rot000"][i][0], ds[i][0])


@needs_mnist
def test_act_keeps_the_label_and_rotates_the_image() -> None:
    ds = _build("mnist", "test", size=5)
    image, label = ds[3]
    g = SO2().element(torch.tensor([0.7], dtype=torch.float64))
    moved, moved_label = ds.act(g, (image, label))
    assert moved_label is label
    assert torch.allclose(moved, act_on_images(g, image[None], interpolation=True)[0])
    assert not torch.allclose(moved, image)
    flip = Dihedral(4).element([4])  # the reflection (x, y) -> (x, -y): rows reversed
    assert torch.equal(ds.act(flip, (image, label))[0], torch.flip(image, dims=(-2,)))


@pytest.mark.parametrize(
    "group", [Trivial(), Cyclic(4), Dihedral(8), SO2(), O2(), p4(), p4m()], ids=repr
)
def test_reps_accept_every_group_acting_on_images(group: Group) -> None:
    ds = DigitImages(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.arange(3), SO2(), "zeros")
    grid, label = ds.reps(group)
    assert grid.group == group and grid.channels == 1 and label.dim == 1
    g = group.sample(1, generator=torch.Generator().manual_seed(0))
    image, y = ds.act(g, ds[1])
    assert image.shape == (1, 8, 8) and y == 1


def test_reps_reject_groups_that_do_not_act_on_images() -> None:
    ds = DigitImages(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.arange(3), SO2(), "zeros")
    with pytest.raises(ValueError, match=r"SO3\(\) does not act on images"):
        ds.reps(SO3())


@pytest.mark.parametrize(
    ("images", "labels", "error", "match"),
    [
        (torch.zeros(3, 8, 9), torch.arange(3), ValueError, r"\[N, H, H\]"),
        (torch.zeros(3, 8, 8, dtype=torch.float64), torch.arange(3), TypeError, "float32"),
        (torch.zeros(3, 8, 8), torch.zeros(3), ValueError, "integer labels"),
    ],
    ids=["not-square", "float64", "float-labels"],
)
def test_digit_images_checks_its_arrays(
    images: torch.Tensor, labels: torch.Tensor, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        DigitImages(images, labels, Trivial(), "bad")


# ---------------------------------------------------------------- splits and options


@needs_mnist
def test_mnist_upright_splits(mnist_all: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    sizes = {"train": 50_000, "val": 10_000, "train_all": 60_000, "test": 10_000}
    built = {s: _build("mnist_upright", s) for s in sizes}
    assert {s: len(d) for s, d in built.items()} == sizes
    assert torch.equal(built["val"].pixels, mnist_all["train"][0][50_000:])
    assert torch.equal(built["test"].pixels, mnist_all["test"][0])
    assert all(d.group == Trivial() for d in built.values())


@pytest.mark.parametrize(
    ("name", "split", "options", "match"),
    [
        ("mnist", "val", {}, r"unknown split 'val'; expected one of \['test', 'train'\]"),
        ("mnist_upright", "valid", {}, "unknown split 'valid'"),
        ("rotated_mnist", "dev", SMALL, "unknown split 'dev'"),
        ("mnist_rot_original", "valid", {}, "unknown split 'valid'"),
        ("mnist", "train", {"angle": 3}, r"unknown option\(s\) \['angle'\]"),
        ("rotated_mnist", "train", {"n_test": 5}, r"unknown option\(s\) \['n_test'\]"),
        ("rotated_mnist", "train", {**SMALL, "val_size": 0}, "must be >= 1"),
    ],
)
def test_unknown_split_or_option_is_a_value_error(
    name: str, split: str, options: dict[str, int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        symml.data.build(name, split, **options)


@needs_mnist
@pytest.mark.parametrize("size", [0, 10_001, 2.5, True])
def test_bad_size_is_a_value_error(size: object) -> None:
    with pytest.raises(ValueError, match=r"size must be an integer in 1\.\.10000"):
        _build("mnist", "test", size=size)


# ---------------------------------------------------------------- original MNIST-rot reader


def _amat_rows(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    gen = torch.Generator().manual_seed(seed)
    pixels = (torch.randint(0, 256, (n, 784), generator=gen) / 255).float()
    labels = torch.randint(0, 10, (n,), generator=gen)
    text = "".join(
        " ".join(f"{v:.9e}" for v in row) + f" {float(y):.9e}\n"
        for row, y in zip(pixels.tolist(), labels.tolist(), strict=True)
    )
    return pixels, labels, text


@pytest.fixture
def amat_files(tmp_path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor, str]]:
    return {
        _mnist_rot.MNIST_ROT_TRAIN: _amat_rows(12, seed=0),
        _mnist_rot.MNIST_ROT_TEST: _amat_rows(5, seed=1),
    }


@pytest.mark.parametrize("packed", ["amat", "zip"])
def test_original_reader_on_synthetic_files(
    packed: str,
    amat_files: dict[str, tuple[torch.Tensor, torch.Tensor, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "data" / "mnist_rot"
    folder.mkdir(parents=True)
    if packed == "zip":
        archive = folder / _mnist_rot.MNIST_ROT_ZIP
        with zipfile.ZipFile(archive, "w") as zf:
            for name, (_, _, text) in amat_files.items():
                zf.writestr(f"mnist_rotation_new/{name}", text)
        md5 = hashlib.md5(archive.read_bytes()).hexdigest()
        monkeypatch.setattr(_mnist_rot, "MNIST_ROT_MD5", md5)
    else:
        for name, (_, _, text) in amat_files.items():
            (folder / name).write_text(text)
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "data"))
    pixels, labels, _ = amat_files[_mnist_rot.MNIST_ROT_TRAIN]
    images = pixels.reshape(-1, 28, 28)
    built = {s: _build("mnist_rot_original", s) for s in ("train", "val", "train_all")}
    assert [len(built[s]) for s in ("train", "val", "train_all")] == [10, 2, 12]
    assert torch.allclose(built["train_all"].pixels, images, atol=1e-7)
    assert torch.equal(built["val"].labels, labels[10:])
    assert built["train"].group == SO2()
    test = build_mnist_rot_original("test", size=3)
    assert torch.equal(test.labels, amat_files[_mnist_rot.MNIST_ROT_TEST][1][:3])
    transposed = build_mnist_rot_original("train_all", transpose=True)
    assert torch.equal(transposed.pixels, built["train_all"].pixels.transpose(1, 2))


def test_original_zip_with_wrong_md5_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mnist_rot"
    folder.mkdir()
    with zipfile.ZipFile(folder / _mnist_rot.MNIST_ROT_ZIP, "w") as zf:
        zf.writestr(_mnist_rot.MNIST_ROT_TRAIN, "0 " * 784 + "1\n")
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path))
    with pytest.raises(ChecksumError, match="mnist_rotation_new.zip: MD5"):
        build_mnist_rot_original("train")


def test_original_files_missing_list_every_searched_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError, match="mnist_rotation_new.zip") as info:
        build_mnist_rot_original("test")
    for folder in paths.data_dirs():
        assert str(folder / "mnist_rot") in str(info.value)
    assert _mnist_rot.MNIST_ROT_URL in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0.5 " * 10 + "3\n", "line 1 has 11 columns, expected 785"),
        ("0.5 " * 784 + "3\n" + "x " * 784 + "3\n", "line 2: a value is not a number"),
        ("0.5 " * 784 + "3.5\n", "must be a whole number"),
        ("\n\n", "no rows"),
    ],
    ids=["columns", "not-a-number", "label", "empty"],
)
def test_malformed_amat_gives_clear_error(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_amat(text.splitlines(), "bad.amat")
