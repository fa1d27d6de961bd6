"""3-D Tetris: the shapes, their congruences, the splits, and how rotations/reflections act."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch

import symml.data
from symml.data.tetris import (
    CHIRAL_PAIR,
    HOLDOUT_SHAPES,
    SHAPES,
    Tetris3D,
    build_tetris3d,
    fully_connected,
    label_rep,
)
from symml.groups import O3, SE, SO2, SO3, Cyclic, E, Group, O, Translations
from symml.reps import GraphRep, trivial

MIRROR = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
ACHIRAL = [k for k in range(8) if k not in CHIRAL_PAIR]


def _kabsch_residual(a: Tensor, b: Tensor) -> float:
    """min over rotations R ∈ SO(3) and translations t of ‖a Rᵀ + t − b‖ (points matched in
    order), by the Kabsch algorithm with the determinant fix."""
    a = a.double() - a.double().mean(0)
    b = b.double() - b.double().mean(0)
    u, _, vt = torch.linalg.svd(a.T @ b)
    d = torch.sign(torch.linalg.det(vt.T @ u.T))
    rot = vt.T @ torch.diag(torch.tensor([1.0, 1.0, float(d)], dtype=torch.float64)) @ u.T
    return float((a @ rot.T - b).norm())


def _congruent_by_rotation(a: Tensor, b: Tensor, tol: float = 1e-5) -> bool:
    """Whether some rotation + translation maps point set ``a`` onto ``b`` (any matching)."""
    return any(_kabsch_residual(a[list(p)], b) < tol for p in itertools.permutations(range(4)))


def _distances(points: Tensor) -> list[float]:
    return sorted(torch.pdist(points.double()).tolist())


# ----- the shapes ----------------------------------------------------------------------------
def test_eight_shapes_of_four_distinct_unit_voxels_face_connected() -> None:
    assert SHAPES.shape == (8, 4, 3)
    assert torch.equal(SHAPES, SHAPES.round())  # voxel centres on the unit lattice
    for shape in SHAPES:
        dist = torch.cdist(shape, shape)
        assert (dist + torch.eye(4)).min() >= 1  # distinct voxels
        adjacent = (dist - 1).abs() < 1e-12  # sharing a face: centres one unit apart
        reached = {0}
        for _ in range(4):
            reached |= {j for i in reached for j in range(4) if adjacent[i, j]}
        assert reached == {0, 1, 2, 3}


def test_only_the_chiral_pair_shares_pairwise_distances() -> None:
    pairs = [(i, j) for i, j in itertools.combinations(range(8), 2)]
    same = [(i, j) for i, j in pairs if _distances(SHAPES[i]) == _distances(SHAPES[j])]
    assert same == [CHIRAL_PAIR]


@pytest.mark.parametrize(("i", "j"), list(itertools.combinations(range(8), 2)))
def test_no_two_shapes_are_congruent_by_rotation(i: int, j: int) -> None:
    assert not _congruent_by_rotation(SHAPES[i], SHAPES[j])


def test_the_chiral_pair_is_congruent_by_reflection_only() -> None:
    a, b = (SHAPES[k] for k in CHIRAL_PAIR)
    assert not _congruent_by_rotation(a, b)
    assert _congruent_by_rotation(a @ MIRROR, b)
    assert not _congruent_by_rotation(a @ MIRROR, a)  # chiral: its mirror image is not itself


@pytest.mark.parametrize("k", ACHIRAL)
def test_other_shapes_are_achiral(k: int) -> None:
    """The mirror image equals a rotation of the shape itself, up to the order of points."""
    assert _congruent_by_rotation(SHAPES[k] @ MIRROR, SHAPES[k])


# ----- the splits ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "dtype"),
    [
        ({"translate": False, "reflect": False}, torch.float64),
        ({"translate": True, "reflect": False}, torch.float32),
        ({"translate": True, "reflect": True}, torch.float64),
    ],
)
def test_test_samples_are_rigid_motions_of_their_labelled_shape(
    kwargs: dict[str, bool], dtype: torch.dtype
) -> None:
    ds = Tetris3D("test", count=6, dtype=dtype, **kwargs)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for i in range(len(ds)):
        sample, shape = ds[i], i % 8
        assert sample.pos.dtype == dtype
        assert _distances(sample.pos) == pytest.approx(_distances(SHAPES[shape]), abs=tol)
        # with the points kept in order, a mirrored non-planar shape is no proper motion of it
        mirrored = _kabsch_residual(SHAPES[shape], sample.pos) > 1e-3
        if mirrored:
            assert kwargs["reflect"]
            assert _kabsch_residual(SHAPES[shape] @ MIRROR, sample.pos) < tol
        else:
            assert _kabsch_residual(SHAPES[shape], sample.pos) < tol
        # the label is the class of the shape this sample is a rotation of
        assert _congruent_by_rotation(SHAPES[int(sample.y)], sample.pos, tol=1e-4)
        expected = CHIRAL_PAIR[1 - CHIRAL_PAIR.index(shape)] if mirrored and shape < 2 else shape
        assert int(sample.y) == expected
    centroids = ds.pos.mean(1)
    assert (centroids.abs().max() > 2) == kwargs["translate"]


def test_reflect_mirrors_about_half_and_swaps_chiral_labels() -> None:
    ds = Tetris3D("test", count=40, reflect=True)
    shape = torch.arange(len(ds)) % 8
    chiral = shape < 2
    mirrored = torch.tensor(
        [
            bool(c) and _kabsch_residual(SHAPES[k], ds[i].pos) > 1e-3
            for i, (k, c) in enumerate(zip(shape.tolist(), chiral.tolist(), strict=True))
        ]
    )
    assert 0.3 < mirrored[chiral].float().mean() < 0.7  # Haar on O(3): det -1 half the time
    assert torch.equal(ds.labels[mirrored], 1 - shape[mirrored])
    assert torch.equal(ds.labels[~mirrored], shape[~mirrored])


def test_train_split_is_the_canonical_poses() -> None:
    ds = Tetris3D("train")
    assert len(ds) == 8 and ds.labels.tolist() == list(range(8))
    torch.testing.assert_close(ds.pos, SHAPES.float())
    assert len(Tetris3D("train", count=3)) == 24
    assert len(Tetris3D("test")) == 200  # TFN: 25 rotations of each shape


def test_holdout_protocol() -> None:
    train = Tetris3D("holdout_train")
    assert train.labels.tolist() == list(HOLDOUT_SHAPES) and 0 not in train.labels
    torch.testing.assert_close(train.pos, SHAPES[1:].float())
    test = Tetris3D("holdout_test", count=3)
    assert sorted(set(test.labels.tolist())) == list(range(8)) and len(test) == 24
    assert not torch.allclose(test.pos, Tetris3D("test", count=3).pos)


def test_validation_splits_are_rotated_draws_of_their_own() -> None:
    val, test = Tetris3D("val", count=3), Tetris3D("test", count=3)
    assert val.labels.tolist() == test.labels.tolist() and len(val) == 24
    assert not torch.allclose(val.pos, test.pos)  # an independent stream: no test sample reused
    # each is a rotation of its canonical shape: same pairwise distances
    torch.testing.assert_close(
        torch.cdist(val.pos, val.pos), torch.cdist(*[SHAPES[val.labels].float()] * 2)
    )
    held = Tetris3D("holdout_val", count=2)
    assert 0 not in held.labels and sorted(set(held.labels.tolist())) == list(HOLDOUT_SHAPES)
    assert len(Tetris3D("val")) == 200 and len(Tetris3D("val", translate=True, reflect=True)) == 200


def test_sample_schema_and_batching() -> None:
    ds = Tetris3D("test", count=2)
    sample = ds[3]
    assert sample.pos.shape == (4, 3) and sample.x.shape == (4, 1)
    assert sample.y.dtype == torch.long and sample.y.shape == ()
    assert sample.edge_index.shape == (2, 12)
    edges = set(map(tuple, sample.edge_index.T.tolist()))
    assert edges == {(i, j) for i in range(4) for j in range(4) if i != j}
    batch = Batch.from_data_list([ds[i] for i in range(5)])
    assert batch.y.tolist() == ds.labels[:5].tolist() and batch.pos.shape == (20, 3)
    assert fully_connected(3).shape == (2, 6)


def test_determinism_by_seed() -> None:
    a = Tetris3D("test", count=2, seed=5, translate=True, reflect=True)
    b = Tetris3D("test", count=2, seed=5, translate=True, reflect=True)
    assert torch.equal(a.pos, b.pos) and torch.equal(a.labels, b.labels)
    assert not torch.allclose(a.pos, Tetris3D("test", count=2, seed=6).pos)


# ----- reps and act --------------------------------------------------------------------------
@pytest.mark.parametrize("group", [SE(3), SO3(), Translations(3)], ids=repr)
def test_rotations_and_translations_keep_labels(group: Group) -> None:
    ds = Tetris3D("test", count=2)
    input_rep, target_rep = ds.reps(group)
    assert input_rep == GraphRep(group) and target_rep == trivial(group)
    for i, g in enumerate(group.sample(len(ds), generator=torch.Generator().manual_seed(0))):
        moved = ds.act(g, ds[i])
        assert torch.equal(moved.y, ds[i].y)
        assert _congruent_by_rotation(SHAPES[int(moved.y)], moved.pos, tol=1e-4)


@pytest.mark.parametrize("group", [O3(), E(3)], ids=repr)
def test_reflections_swap_the_chiral_labels(group: Group) -> None:
    ds = Tetris3D("test", count=4)
    gen = torch.Generator().manual_seed(1)
    seen = set()
    for i, g in enumerate(group.sample(len(ds), generator=gen, dtype=torch.float64)):
        moved = ds.act(g, ds[i])
        det = float(torch.linalg.det(group.matrices(g)[0]))
        y = int(ds[i].y)
        expected = 1 - y if det < 0 and y in CHIRAL_PAIR else y
        assert int(moved.y) == expected and moved.y.dtype == torch.long
        # the task commutes with the action: the moved shape is a rotation of its new class
        assert _congruent_by_rotation(SHAPES[expected], moved.pos, tol=1e-4)
        seen.add(det < 0)
    assert seen == {True, False}


def test_act_with_the_inversion_swaps_exactly_the_chiral_pair() -> None:
    ds = Tetris3D("train")
    inversion = O3().element(-torch.eye(3))
    assert [int(ds.act(inversion, ds[k]).y) for k in range(8)] == [1, 0, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("group", [O3(), E(3)], ids=repr)
def test_label_rep_is_a_permutation_homomorphism(group: Group) -> None:
    rep = label_rep(group)
    assert Tetris3D("train").reps(group)[1] == rep and rep.dim == 8
    gen = torch.Generator().manual_seed(2)
    g, h = (group.sample(16, generator=gen, dtype=torch.float64) for _ in range(2))
    mats = rep(g, dtype=torch.float64)
    assert torch.allclose(mats, mats.round(), atol=1e-12)  # permutation matrices
    assert torch.allclose(mats.round().sum(1), torch.ones(16, 8, dtype=torch.float64))
    torch.testing.assert_close(rep(g @ h, dtype=torch.float64), mats @ rep(h, torch.float64))
    dets = torch.linalg.det(group.matrices(g))
    swapped = mats[:, 0, 1].round() == 1
    assert torch.equal(swapped, dets < 0)


def test_registry_builds_tetris() -> None:
    ds = symml.data.build("tetris3d", "test", count=2, translate=True)
    assert isinstance(ds, Tetris3D) and len(ds) == 16 and ds.group == SE(3)
    assert torch.equal(ds.pos, build_tetris3d("test", count=2, translate=True).pos)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "valid"}, r"unknown split 'valid'; expected one of"),
        ({"count": 0}, r"expected count to be a positive integer \(got 0\)"),
        ({"seed": 1.5}, r"expected seed to be an integer \(got 1.5\)"),
        ({"dtype": torch.long}, r"expected a floating dtype for pos"),
        ({"split": "train", "reflect": True}, r"translate/reflect transform the test splits"),
        ({"split": "holdout_train", "translate": True}, r"but split is 'holdout_train'"),
    ],
)
def test_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Tetris3D(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("group", [SO2(), Cyclic(4), O(5), Translations(2)], ids=repr)
def test_reps_reject_groups_not_acting_on_3d_space(group: Group) -> None:
    with pytest.raises(ValueError, match=r"expected a group of rotations, reflections or trans"):
        Tetris3D("train").reps(group)


def test_symmetry_transforms_work_on_tetris() -> None:
    """The generic transformed test sets relabel through `Tetris3D.act`."""
    ds = Tetris3D("train", count=4)
    mirrored = symml.data.random_test_set(ds, O3(), seed=3)
    for i in range(len(ds)):
        sample = mirrored[i]
        assert _congruent_by_rotation(SHAPES[int(sample.y)], sample.pos, tol=1e-4)
    augmented = symml.data.RandomGroupAction(ds)
    assert [int(augmented[i].y) for i in range(len(ds))] == ds.labels.tolist()
