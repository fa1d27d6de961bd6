"""The data core: paths and checksums, the registry, nested subsets, symmetry transforms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from symml.data import (
    ChecksumError,
    DataNotFoundError,
    RandomGroupAction,
    SymmetricDataset,
    TransformedDataset,
    build,
    data_dirs,
    describe,
    grid_test_sets,
    names,
    nested_order,
    nested_subsets,
    random_test_set,
    register,
)
from symml.data.paths import cache_dir, download, find_dataset_dir, sha256_file, verify_sha256
from symml.data.synthetic import inertia_target, o5_target
from symml.groups import O2, SO2, Cyclic, Dihedral, E, Group, act_on_images
from symml.reps import GridRep, RepLike, standard, trivial


class ToyImages(SymmetricDataset):
    """Random 5x5 images with labels; rotation-invariant labels (a toy task)."""

    def __init__(self, n: int = 12, group: Group | None = None) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, 1, 5, 5, generator=gen)
        self._labels = torch.arange(n) % 3
        self.group = group or SO2()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self._labels[index]

    def reps(self, group: Group | None = None) -> tuple[RepLike, RepLike]:
        group = group or self.group
        return GridRep(trivial(group)), trivial(group)

    @property
    def labels(self) -> torch.Tensor:
        return self._labels


class ToyVectors(SymmetricDataset):
    """Vectors in R^2 with the vector itself doubled as target (equivariant task)."""

    group = Dihedral(4)

    def __init__(self) -> None:
        self.x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], 2 * self.x[index]

    def reps(self, group: Group | None = None) -> tuple[RepLike, RepLike]:
        group = group or self.group
        return standard(group), standard(group)


# ----- paths -------------------------------------------------------------------------------------
def test_data_dirs_start_with_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path))
    assert data_dirs()[0] == tmp_path


def test_cache_dir_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_missing_dataset_lists_every_searched_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="Searched") as info:
        find_dataset_dir("toy", ["a.bin"], "run `fetch-toy`")
    message = str(info.value)
    for folder in data_dirs():
        assert str(folder / "toy") in message
    assert "a.bin" in message and "fetch-toy" in message


def test_find_dataset_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.bin").write_bytes(b"abc")
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path))
    assert find_dataset_dir("toy", ["a.bin"], "") == tmp_path / "toy"


def test_checksum(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert sha256_file(path) == digest
    verify_sha256(path, digest)
    path.write_bytes(b"abd")
    with pytest.raises(ChecksumError, match="f.bin"):
        verify_sha256(path, digest)


def test_failed_download_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    destination = tmp_path / "out" / "file.bin"
    with pytest.raises(ChecksumError):
        download(source.as_uri(), destination, "0" * 64)
    assert not destination.exists()
    assert list((tmp_path / "out").iterdir()) == []
    download(source.as_uri(), destination, sha256_file(source))
    assert destination.read_bytes() == b"payload"


# ----- registry ----------------------------------------------------------------------------------
def test_registry_lists_builtin_datasets() -> None:
    for name in ["mnist", "rotated_mnist", "nbody_charged", "tetris3d", "o5_synthetic", "inertia"]:
        assert name in names()
        assert describe()[name]


def test_register_and_build_user_dataset() -> None:
    @register("toy_images_test", "toy images for the registry test")
    def build_toy(split: str = "train", n: int = 4) -> ToyImages:
        return ToyImages(n)

    assert len(build("toy_images_test", "train", n=5)) == 5
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['m'\]"):
        build("toy_images_test", "train", m=1)
    with pytest.raises(ValueError, match="already registered"):
        register("toy_images_test", "again")(build_toy)


def test_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'nope'; registered datasets: .*mnist"):
        build("nope")


# ----- subsets -----------------------------------------------------------------------------------
def test_nested_subsets_are_nested_and_deterministic() -> None:
    labels = torch.arange(1000) % 10
    subsets = nested_subsets(1000, [10, 100, 500], labels=labels, seed=3)
    assert set(subsets[10].tolist()) <= set(subsets[100].tolist()) <= set(subsets[500].tolist())
    again = nested_subsets(1000, [10, 100, 500], labels=labels, seed=3)
    assert all(torch.equal(subsets[k], again[k]) for k in subsets)
    other = nested_subsets(1000, [100], labels=labels, seed=4)
    assert not torch.equal(subsets[100], other[100])


def test_nested_subsets_are_class_balanced() -> None:
    labels = torch.cat([torch.zeros(700), torch.ones(200), torch.full((100,), 2)]).long()
    order = nested_order(1000, labels, seed=0)
    assert sorted(order.tolist()) == list(range(1000))
    for size in [30, 150, 300]:
        counts = torch.bincount(labels[order[:size]], minlength=3)
        assert int(counts.max() - counts.min()) <= 1, counts
    counts = torch.bincount(labels[order[:600]], minlength=3)
    assert counts.tolist() == [300, 200, 100]  # the small classes are exhausted first


def test_nested_subsets_errors() -> None:
    with pytest.raises(ValueError, match="sizes must be in 1..10"):
        nested_subsets(10, [11])
    with pytest.raises(ValueError, match=r"expected labels of shape \[10\]"):
        nested_order(10, torch.zeros(9))


# ----- transforms --------------------------------------------------------------------------------
def test_act_rotates_images_and_keeps_labels() -> None:
    ds = ToyImages()
    g = Cyclic(4).element([1])
    image, label = ds.act(g, ds[0])
    assert torch.equal(image, torch.rot90(ds[0][0], 1, dims=(-2, -1)))
    assert label == ds[0][1]


def test_act_on_equivariant_targets() -> None:
    ds = ToyVectors()
    g = Dihedral(4).element([5])
    x, y = ds.act(g, ds[0])
    mat = standard(Dihedral(4))(g)[0]
    assert torch.allclose(x, mat @ ds[0][0]) and torch.allclose(y, 2 * x)


def test_integer_targets_must_be_invariant() -> None:
    class BadLabels(ToyVectors):
        def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self.x[index], torch.tensor(1)

    with pytest.raises(ValueError, match="class labels and must be invariant"):
        BadLabels().act(Dihedral(4).element([1]), BadLabels()[0])


def test_random_group_action_is_reproducible_and_varies_with_epoch() -> None:
    ds = ToyImages(group=Cyclic(4))
    aug = RandomGroupAction(ds, seed=0)
    first = [aug[i][0] for i in range(len(ds))]
    assert all(torch.equal(a, aug[i][0]) for i, a in enumerate(first))
    rotations = {
        tuple(torch.rot90(ds[0][0], k, dims=(-2, -1)).flatten().tolist()) for k in range(4)
    }
    assert tuple(first[0].flatten().tolist()) in rotations
    aug.set_epoch(1)
    assert any(not torch.equal(a, aug[i][0]) for i, a in enumerate(first))


def test_random_test_set_uses_one_element_per_sample() -> None:
    ds = ToyImages(group=Cyclic(4))
    test = random_test_set(ds, seed=1)
    assert len(test) == len(ds)
    for i in range(len(ds)):
        expected = act_on_images(test.elements[i], ds[i][0])
        assert torch.equal(test[i][0], expected)


def test_transformed_dataset_checks_element_count() -> None:
    with pytest.raises(ValueError, match="expected 1 element or one per sample"):
        TransformedDataset(ToyImages(12), Cyclic(4).element([0, 1]))


def test_grid_test_sets_for_so2_and_o2() -> None:
    ds = ToyImages()
    grid = grid_test_sets(ds, SO2(), steps=24)
    assert list(grid)[:3] == ["rot000", "rot015", "rot030"] and len(grid) == 24
    assert torch.equal(grid["rot090"][3][0], torch.rot90(ds[3][0], 1, dims=(-2, -1)))
    flips = grid_test_sets(ds, O2(), steps=4)
    assert sorted(flips) == sorted(
        [
            "rot000",
            "rot090",
            "rot180",
            "rot270",
            "flip_rot000",
            "flip_rot090",
            "flip_rot180",
            "flip_rot270",
        ]
    )
    assert torch.equal(flips["flip_rot000"][0][0], torch.flip(ds[0][0], dims=(-2,)))


def test_grid_test_sets_interpolate_other_angles() -> None:
    ds = ToyImages()
    image = grid_test_sets(ds, SO2(), steps=24)["rot015"][0][0]
    assert not torch.equal(image, ds[0][0]) and math.isfinite(float(image.sum()))


def test_grid_test_sets_for_finite_groups_and_errors() -> None:
    grid = grid_test_sets(ToyImages(group=Dihedral(4)), Dihedral(4))
    assert len(grid) == 8 and "r^1_f" in grid
    with pytest.raises(ValueError, match="grids are defined for SO2, O2, Cyclic and Dihedral"):
        grid_test_sets(ToyImages(), E(3))


def test_random_group_action_on_graphs_moves_input_and_target_together() -> None:
    ds = build("nbody_charged", "test", size=4)
    aug = RandomGroupAction(ds, seed=2)
    for i in range(len(ds)):
        sample, moved = ds[i], aug[i]
        # an E(3) element: distances within pos, within y, and between pos and y are preserved
        before = torch.cdist(torch.cat([sample.pos, sample.y]), torch.cat([sample.pos, sample.y]))
        after = torch.cdist(torch.cat([moved.pos, moved.y]), torch.cat([moved.pos, moved.y]))
        assert torch.allclose(before, after, atol=1e-4)
        assert torch.allclose(sample.vel.norm(dim=-1), moved.vel.norm(dim=-1), atol=1e-5)
        assert not torch.allclose(sample.pos, moved.pos)


def test_random_group_action_on_vectors_keeps_invariant_targets() -> None:
    ds = build("o5_synthetic", "train", size=6)
    aug = RandomGroupAction(ds, seed=0)
    for i in range(len(ds)):
        (x, y), (x2, y2) = ds[i], aug[i]
        assert torch.allclose(y, y2) and not torch.allclose(x, x2)
        assert torch.allclose(
            x.reshape(2, 5).norm(dim=-1), x2.reshape(2, 5).norm(dim=-1), atol=1e-5
        )


@pytest.mark.parametrize("name", ["o5_synthetic", "inertia"])
def test_a_batch_of_vectors_is_augmented_at_once_and_consistently(name: str) -> None:
    ds = build(name, "train", size=64, dtype=torch.float64)
    aug = RandomGroupAction(ds, seed=3)
    batch = aug.__getitems__(list(range(0, 64, 2)))
    again = aug.__getitems__(list(range(0, 64, 2)))  # reproducible
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(batch, again, strict=True)
    )
    target = o5_target if name == "o5_synthetic" else inertia_target
    for (x, y), (x0, _) in zip(batch, (ds[i] for i in range(0, 64, 2)), strict=True):
        # a group element moved input and target together: the task's own target of the moved
        # input is the moved target, and the input moved (it is not the identity)
        torch.testing.assert_close(target(x), y)
        assert not torch.allclose(x, x0)
    aug.set_epoch(1)
    assert not torch.equal(batch[0][0], aug.__getitems__(list(range(0, 64, 2)))[0][0])
    # the batched action is the per-sample action with the same elements
    g = ds.group.sample(3, dtype=torch.float64)
    stacked = tuple(torch.stack(parts) for parts in zip(*(ds[i] for i in range(3)), strict=True))
    moved_x, moved_y = ds.act_batch(g, stacked)
    for i in range(3):
        x_i, y_i = ds.act(g[i], ds[i])
        torch.testing.assert_close(moved_x[i], x_i)
        torch.testing.assert_close(moved_y[i], y_i)


def test_a_data_loader_augments_standardized_vectors_in_batches() -> None:
    from symml.training.config import DataConfig
    from symml.training.datasets import build_run_data

    config = DataConfig(
        name="o5_synthetic",
        train_size=40,
        val_size=8,
        test_size=8,
        augment=True,
        standardize=True,
    )
    data = build_run_data(config, seed=0)
    loader = torch.utils.data.DataLoader(data.train, batch_size=20)
    plain = torch.utils.data.DataLoader(data.train_base, batch_size=20)
    x_mean, x_scale, y_mean, y_std = data.train_base.stats
    for (x, y), (x0, _) in zip(loader, plain, strict=True):
        assert x.shape == (20, 10) and not torch.allclose(x, x0)
        # moved in raw units: the task's own target of each moved input is its moved target
        raw_target = o5_target((x * x_scale + x_mean).double()).float()
        torch.testing.assert_close(raw_target, y * y_std + y_mean, rtol=1e-4, atol=1e-4)


def test_images_and_graphs_are_still_augmented_sample_by_sample() -> None:
    images = ToyImages(group=Cyclic(4))
    aug = RandomGroupAction(images, seed=0)
    assert all(torch.equal(a[0], aug[i][0]) for i, a in enumerate(aug.__getitems__([0, 1, 2])))
    graphs = RandomGroupAction(build("nbody_charged", "test", size=2), seed=2)
    assert torch.equal(graphs.__getitems__([0, 1])[1].pos, graphs[1].pos)


def test_act_batch_needs_one_element_per_sample() -> None:
    ds = build("o5_synthetic", "train", size=4)
    stacked = tuple(torch.stack(parts) for parts in zip(*(ds[i] for i in range(4)), strict=True))
    with pytest.raises(ValueError, match="one element per sample, got 2 elements for 4 inputs"):
        ds.act_batch(ds.group.sample(2), stacked)
