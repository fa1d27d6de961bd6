"""EMLP synthetic tasks: the group actions commute with the task, and the data is as emlp's."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import symml.data
from symml.data.synthetic import (
    DEFAULT_SIZES,
    Inertia,
    O5Synthetic,
    build_inertia,
    build_o5_synthetic,
    inertia_target,
    o5_target,
)
from symml.groups import O3, SO, SO3, Cyclic, E, Group, O, Orthogonal, Permutations

TASKS = {"o5_synthetic": (O5Synthetic, o5_target), "inertia": (Inertia, inertia_target)}
# the task's group, its rotation subgroup, and a finite subgroup acting by permutation matrices
GROUPS = {
    "o5_synthetic": [O(5), SO(5), Permutations(5)],
    "inertia": [O3(), SO3(), Permutations(3)],
}
CASES = [(task, group) for task, groups in GROUPS.items() for group in groups]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("task", "group"), CASES, ids=[f"{t}-{g!r}" for t, g in CASES])
def test_target_commutes_with_group(task: str, group: Group) -> None:
    """f(ρ_in(g) x) = ρ_out(g) f(x) for a fresh g per sample, to 1e-10 in float64."""
    cls, f = TASKS[task]
    ds = cls("test", size=64, dtype=torch.float64)
    rep_in, rep_out = ds.reps(group)
    assert (rep_in.dim, rep_out.dim) == (ds.x.shape[1], ds.y.shape[1])
    g = group.sample(len(ds), generator=_gen(1), dtype=torch.float64)
    moved = torch.einsum("bij,bj->bi", rep_in(g, dtype=torch.float64), ds.x)
    expected = torch.einsum("bij,bj->bi", rep_out(g, dtype=torch.float64), f(ds.x))
    torch.testing.assert_close(f(moved), expected, atol=1e-10, rtol=0)
    assert not torch.allclose(moved, ds.x)  # the action did something


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("task", "group"), CASES, ids=[f"{t}-{g!r}" for t, g in CASES])
def test_act_gives_a_valid_sample(task: str, group: Group, dtype: torch.dtype) -> None:
    cls, f = TASKS[task]
    ds = cls("val", size=8, dtype=dtype)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    for i, g in enumerate(group.sample(len(ds), generator=_gen(2), dtype=dtype)):
        x, y = ds.act(g, ds[i])
        assert x.dtype == y.dtype == dtype
        torch.testing.assert_close(y, f(x), atol=tol, rtol=tol)


def test_o5_formula_by_hand() -> None:
    x = torch.zeros(10, dtype=torch.float64)
    x[0], x[5], x[6] = 2.0, 3.0, 4.0  # |x1| = 2, |x2| = 5, x1·x2 = 6
    expected = math.sin(2.0) - 0.5 * 125.0 + 6.0 / 10.0
    assert o5_target(x).item() == pytest.approx(expected, abs=1e-12)


def test_inertia_formula_by_hand() -> None:
    x = torch.zeros(20, dtype=torch.float64)
    x[:5] = torch.tensor([2.0, 3.0, 1.0, 1.0, 1.0])
    x[5:8] = torch.tensor([1.0, 0.0, 0.0])  # mass 2 on the x axis at distance 1
    x[8:11] = torch.tensor([0.0, 2.0, 0.0])  # mass 3 on the y axis at distance 2
    expected = torch.diag(torch.tensor([12.0, 2.0, 14.0], dtype=torch.float64))
    torch.testing.assert_close(inertia_target(x).reshape(3, 3), expected)


def test_inertia_is_symmetric_positive_semidefinite() -> None:
    ds = Inertia("train", size=256, dtype=torch.float64)
    mats = ds.y.reshape(-1, 3, 3)
    torch.testing.assert_close(mats, mats.transpose(1, 2), atol=0, rtol=0)
    assert torch.linalg.eigvalsh(mats).min() > -1e-12
    assert (ds.x[:, :5] > 0).all()


def test_input_distributions_match_emlp() -> None:
    """O5: x ~ N(0, I₁₀). Inertia: masses softplus(z), positions z, with z ~ N(0, I)."""
    o5 = O5Synthetic("test", dtype=torch.float64).x
    inertia = Inertia("test", dtype=torch.float64).x
    z = torch.cat([inertia[:, 5:].reshape(-1, 15), torch.log(torch.expm1(inertia[:, :5]))], 1)
    for sample in (o5, z):
        assert sample.mean(0).abs().max() < 0.06  # 5,000 samples: std error 0.014
        assert (sample.std(0) - 1).abs().max() < 0.05
    torch.testing.assert_close(F.softplus(z[:, 15:]), inertia[:, :5])


@pytest.mark.parametrize("task", list(TASKS))
def test_shapes_dtypes_and_default_sizes(task: str) -> None:
    cls, _ = TASKS[task]
    d_in, d_out = (10, 1) if task == "o5_synthetic" else (20, 9)
    for split, size in DEFAULT_SIZES.items():
        assert len(cls(split)) == size
    x, y = cls("train", size=3)[2]
    assert x.shape == (d_in,) and y.shape == (d_out,)
    assert x.dtype == y.dtype == torch.float32
    ds64 = cls("train", size=3, dtype="float64")
    assert ds64.x.dtype == ds64.y.dtype == torch.float64
    torch.testing.assert_close(ds64.x.float(), cls("train", size=3).x)


@pytest.mark.parametrize("task", list(TASKS))
def test_determinism_seeds_and_splits(task: str) -> None:
    cls, _ = TASKS[task]
    a = cls("train", size=50, seed=3)
    assert torch.equal(a.x, cls("train", size=50, seed=3).x)
    assert not torch.allclose(a.x, cls("train", size=50, seed=4).x)
    assert not torch.allclose(a.x, cls("val", size=50, seed=3).x)
    assert not torch.allclose(cls("val", size=50).x, cls("test", size=50).x)


@pytest.mark.parametrize("task", list(TASKS))
def test_smaller_size_is_a_prefix(task: str) -> None:
    """Data-efficiency subsets of one seed are nested: size n is the first n of size m."""
    cls, _ = TASKS[task]
    big = cls("train", size=2500)
    for n in (1, 30, 1024, 1500):
        assert torch.equal(cls("train", size=n).x, big.x[:n])


def test_tasks_use_different_streams() -> None:
    o5 = O5Synthetic("train", size=4, dtype=torch.float64).x
    inertia = Inertia("train", size=4, dtype=torch.float64).x
    assert not torch.allclose(o5, inertia[:, 10:])


def test_stats_respect_the_symmetry() -> None:
    x_mean, x_scale, y_mean, y_std = O5Synthetic("train").stats()
    assert torch.equal(x_mean, torch.zeros(10))
    assert torch.equal(x_scale[:5], x_scale[:1].expand(5))  # one scale per vector
    assert torch.equal(x_scale[5:], x_scale[5:6].expand(5))
    assert (x_scale - 1).abs().max() < 0.1 and y_mean.shape == y_std.shape == (1,)
    stats = Inertia("train", size=2).stats()
    assert [s.tolist() for s in stats] == [[0.0] * 20, [1.0] * 20, [0.0] * 9, [1.0] * 9]


def test_reps_and_groups() -> None:
    o5 = O5Synthetic("train", size=2)
    assert o5.group == Orthogonal(5)
    rep_in, rep_out = o5.reps()
    assert (rep_in.dim, rep_out.dim) == (10, 1) and o5.input_rep == rep_in
    inertia = Inertia("train", size=2)
    assert inertia.group == O3()
    rep_in, rep_out = inertia.reps(SO3())
    assert rep_in.group == SO3() and (rep_in.dim, rep_out.dim) == (20, 9)


def test_registry_builds_both_tasks() -> None:
    ds = symml.data.build("o5_synthetic", "train", size=8)
    assert (len(ds), ds.group) == (8, Orthogonal(5))
    ds = symml.data.build("inertia", "val", size=5, seed=1)
    assert isinstance(ds, Inertia) and len(ds) == 5
    assert torch.equal(ds.x, build_inertia("val", size=5, seed=1).x)
    assert torch.equal(build_o5_synthetic("test", size=3).y, O5Synthetic("test", size=3).y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "validation"}, r"unknown split 'validation'; expected one of"),
        ({"size": 0}, r"expected size to be a positive integer \(got 0\)"),
        ({"size": 2.5}, r"expected size to be a positive integer \(got 2.5\)"),
        ({"seed": "a"}, r"expected seed to be an integer"),
        ({"dtype": torch.int64}, r"expected a floating dtype .* \(got torch.int64\)"),
        ({"dtype": "float6"}, r"expected a floating dtype .* \(got 'float6'\)"),
    ],
)
def test_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        O5Synthetic(**kwargs)  # type: ignore[arg-type]


def test_registry_rejects_unknown_option() -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['n'\]; it accepts"):
        symml.data.build("inertia", "train", n=3)


@pytest.mark.parametrize(
    ("cls", "group", "match"),
    [
        (O5Synthetic, O3(), r"5-dimensional standard representation, .* \(got O3\(\)\)"),
        (Inertia, Cyclic(4), r"3-dimensional standard representation"),
        (Inertia, Permutations(4), r"3-dimensional standard representation"),
        (Inertia, E(3), r"translations change the target, so E\(3\) is not a symmetry"),
    ],
)
def test_reps_reject_other_groups(cls: type[Inertia], group: Group, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls("train", size=1).reps(group)


def test_transformed_test_set_stays_on_the_task() -> None:
    ds = Inertia("test", size=16, dtype=torch.float64)
    moved = symml.data.random_test_set(ds, seed=4)
    for i in range(len(ds)):
        x, y = moved[i]
        # random_test_set draws elements in torch's default dtype (float32 rotations)
        torch.testing.assert_close(y, inertia_target(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(x, ds.x[i])
