"""Subgroup inclusions: homomorphisms, injective, compatible with the actions and Lie algebras."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from symml import groups
from symml.groups import (
    O2,
    O3,
    SE,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Group,
    Permutations,
    Trivial,
    inclusion,
    p4,
    p4m,
)
from symml.groups.orthogonal import so_n_basis

# every inclusion the module docstring lists, with a few instances each
INCLUSIONS: list[tuple[Group, Group]] = [
    (Cyclic(2), Cyclic(6)),  # C_M ⊂ C_N
    (Cyclic(1), Cyclic(5)),
    (Dihedral(2), Dihedral(6)),  # D_M ⊂ D_N
    (Dihedral(3), Dihedral(12)),
    (Cyclic(5), Dihedral(5)),  # C_N ⊂ D_N
    (Cyclic(4), Dihedral(8)),
    (Dihedral(6), O2()),  # D_N ⊂ O(2)
    (Cyclic(6), SO2()),  # C_N ⊂ SO(2)
    (Cyclic(7), O2()),
    (SO2(), O2()),  # SO(2) ⊂ O(2)
    (O2(), O3()),  # O(2) and its subgroups in O(3)
    (SO2(), O3()),
    (Dihedral(4), O3()),
    (Cyclic(3), O3()),
    (SO2(), SO3()),  # the rotation-only ones in SO(3)
    (Cyclic(6), SO3()),
    (SO3(), O3()),
    (p4(), p4m()),  # point-group inclusions extend to the semidirect products
    (SE(2), E(2)),
    (SE(3), E(3)),
    (Cyclic(4), p4()),  # H ⊂ T ⋊ H at translation 0
    (Cyclic(4), p4m()),
    (Dihedral(4), p4m()),
    (SO3(), SE(3)),
    (O2(), E(2)),
    (SO2(), E(2)),
    (Trivial(), Dihedral(4)),  # the trivial group is in every group
    (Trivial(), SO3()),
    (Trivial(), E(3)),
    (Dihedral(4), Dihedral(4)),  # every group is in itself
]
SEEDS = st.integers(0, 2**32 - 1)
F64 = torch.float64


def _ids(case: tuple[Group, Group]) -> str:
    return f"{case[0]!r}<{case[1]!r}"


def _unit(v: list[float]) -> tuple[float, float, float]:
    t = torch.tensor(v, dtype=F64)
    return tuple((t / t.norm()).tolist())


AXES = st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(
    lambda v: math.sqrt(sum(a * a for a in v)) > 0.1
)


@pytest.mark.parametrize("case", INCLUSIONS, ids=_ids)
@given(seed=SEEDS)
def test_inclusion_is_a_homomorphism(case: tuple[Group, Group], seed: int) -> None:
    sub, sup = case
    inc = inclusion(sub, sup)
    gen = torch.Generator().manual_seed(seed)
    a, b = sub.sample(6, generator=gen, dtype=F64), sub.sample(6, generator=gen, dtype=F64)
    ia, ib = inc(a), inc(b)
    assert ia.group == sup and len(ia) == 6
    sup.element(ia.data)  # valid elements of sup
    assert bool((inc(a @ b) == ia @ ib).all())
    assert bool((inc(~a) == ~ia).all())
    assert bool((inc(sub.identity(2)) == sup.identity(2)).all())


@pytest.mark.parametrize("case", [c for c in INCLUSIONS if c[0].is_finite], ids=_ids)
def test_inclusion_of_a_finite_group_is_injective(case: tuple[Group, Group]) -> None:
    sub, sup = case
    images = inclusion(sub, sup)(sub.elements())
    same = torch.stack([images == images[i] for i in range(sub.order)])
    assert torch.equal(same, torch.eye(sub.order, dtype=torch.bool))


@pytest.mark.parametrize(
    "case", [c for c in INCLUSIONS if c[0].point_dim == c[1].point_dim is not None], ids=_ids
)
@given(seed=SEEDS)
def test_inclusion_preserves_the_action_on_points(case: tuple[Group, Group], seed: int) -> None:
    sub, sup = case
    gen = torch.Generator().manual_seed(seed)
    g = sub.sample(4, generator=gen, dtype=F64)
    x = torch.randn(4, 3, sub.point_dim, generator=gen, dtype=F64)
    image = inclusion(sub, sup)(g)
    # float elements keep their dtype; finite groups map to the default float dtype (float32)
    if g.data.is_floating_point():
        assert image.data.dtype == g.data.dtype
    atol = 1e-12 if image.data.dtype in (torch.float64, torch.long) else 1e-5
    torch.testing.assert_close(
        sup.act_on_points(image, x), sub.act_on_points(g, x), atol=atol, rtol=0
    )


@pytest.mark.parametrize(
    "case", [c for c in INCLUSIONS if c[0].point_dim == 2 and c[1].point_dim == 3], ids=_ids
)
@given(seed=SEEDS)
def test_planar_groups_act_in_the_xy_plane_of_r3(case: tuple[Group, Group], seed: int) -> None:
    sub, sup = case
    g = sub.sample(4, generator=torch.Generator().manual_seed(seed), dtype=F64)
    m = sup.matrices(inclusion(sub, sup)(g), dtype=F64)
    expected = torch.zeros(4, 3, 3, dtype=F64)
    expected[:, :2, :2] = sub.matrices(g, dtype=F64)
    expected[:, 2, 2] = 1.0
    torch.testing.assert_close(m, expected)


@given(m=st.integers(1, 6), k=st.integers(1, 4))
def test_cyclic_generator_maps_to_a_power(m: int, k: int) -> None:
    n = m * k
    r = Cyclic(m).element([1 % m])
    assert inclusion(Cyclic(m), Cyclic(n))(r).data.tolist() == [k % n]  # r ↦ r^(N/M)
    assert inclusion(Cyclic(m), Dihedral(n))(r).data.tolist() == [k % n]
    d = inclusion(Dihedral(m), Dihedral(n))(Dihedral(m).element([1 % m, m]))
    assert d.data.tolist() == [k % n, n]  # r ↦ r^(N/M), f ↦ f


@given(axis=AXES, theta=st.floats(-7, 7))
def test_so2_in_so3_rotates_about_the_axis(axis: list[float], theta: float) -> None:
    inc = inclusion(SO2(), SO3(), axis=tuple(axis))
    unit = torch.tensor(_unit(axis), dtype=F64)
    rot = inc(SO2().element(torch.tensor([theta], dtype=F64))).data[0]
    torch.testing.assert_close(rot @ unit, unit)  # fixes the axis
    assert torch.linalg.det(rot) > 0
    # rotates a perpendicular vector by θ, counter-clockwise about the axis (right-hand rule)
    helper = (
        torch.tensor([1.0, 0, 0], dtype=F64) if abs(unit[0]) < 0.9 else torch.eye(3)[1].double()
    )
    u = torch.linalg.cross(unit, helper)
    u = u / u.norm()
    v = rot @ u
    torch.testing.assert_close(v @ u, torch.tensor(math.cos(theta), dtype=F64))
    torch.testing.assert_close(
        torch.linalg.cross(u, v) @ unit, torch.tensor(math.sin(theta), dtype=F64)
    )


@given(axis=AXES, theta=st.floats(-7, 7))
def test_lie_map_of_so2_in_so3(axis: list[float], theta: float) -> None:
    """ι(exp(tJ)) = exp(t Σ_i lie_map_i L_i) with (L_x, L_y, L_z) = so_n_basis(3)."""
    inc = inclusion(SO2(), SO3(), axis=tuple(axis))
    lie_map = inc.lie_map
    assert lie_map.shape == (1, 3)
    torch.testing.assert_close(lie_map[0], torch.tensor(_unit(axis), dtype=F64))
    generator = torch.einsum("i,ijk->jk", lie_map[0], so_n_basis(3))
    expected = torch.linalg.matrix_exp(theta * generator)
    torch.testing.assert_close(
        inc(SO2().element(torch.tensor([theta], dtype=F64))).data[0], expected
    )
    # the same through SO2's own Lie algebra: exp(tJ) is the element at angle t
    j = SO2().lie_algebra[0]
    torch.testing.assert_close(
        torch.linalg.matrix_exp(theta * j),
        SO2().matrices(SO2().element(torch.tensor([theta], dtype=F64)))[0],
    )


@pytest.mark.parametrize(
    ("sub", "sup", "expected"),
    [
        (SO3(), O3(), torch.eye(3, dtype=F64)),
        (SO2(), O2(), torch.ones(1, 1, dtype=F64)),
        (Cyclic(4), SO2(), torch.zeros(0, 1, dtype=F64)),
        (O2(), O3(), torch.tensor([[0.0, 0.0, 1.0]], dtype=F64)),
    ],
    ids=repr,
)
def test_lie_map(sub: Group, sup: Group, expected: torch.Tensor) -> None:
    assert torch.equal(inclusion(sub, sup).lie_map, expected)


@given(axis=AXES, theta=st.floats(-7, 7))
def test_o2_reflection_in_o3_is_a_mirror_containing_the_axis(
    axis: list[float], theta: float
) -> None:
    inc = inclusion(O2(), O3(), axis=tuple(axis))
    unit = torch.tensor(_unit(axis), dtype=F64)
    flip = inc(O2().element(torch.tensor([[1.0, theta]], dtype=F64))).data[0]
    torch.testing.assert_close(torch.linalg.det(flip), torch.tensor(-1.0, dtype=F64))
    torch.testing.assert_close(flip @ flip, torch.eye(3, dtype=F64))  # a mirror
    torch.testing.assert_close(flip @ unit, unit)  # whose plane contains the axis
    rot = inc(O2().element(torch.tensor([[0.0, theta]], dtype=F64))).data[0]
    torch.testing.assert_close(torch.linalg.det(rot), torch.tensor(1.0, dtype=F64))


def test_translations_are_zero_for_the_point_group_in_t_h() -> None:
    g = Dihedral(4).elements()
    image = inclusion(Dihedral(4), p4m())(g)
    point, shift = p4m().split(image)
    assert torch.equal(point.data, g.data) and torch.equal(
        shift, torch.zeros(8, 2, dtype=torch.long)
    )


@pytest.mark.parametrize(
    ("sub", "sup", "reason"),
    [
        (Cyclic(3), Cyclic(4), "3 does not divide 4"),
        (Dihedral(4), Dihedral(6), "4 does not divide 6"),
        (Dihedral(4), SO2(), "it contains reflections"),
        (Dihedral(4), Cyclic(8), "it contains reflections"),
        (SO2(), Cyclic(4), "a continuous group is not a subgroup of a finite one"),
        (O2(), Dihedral(4), "a continuous group is not a subgroup of a finite one"),
        (Dihedral(2), SO3(), "reflections are not rotations"),
        (O2(), SE(3), "reflections are not rotations"),
        (p4(), SE(2), "one acts on a lattice, the other on R\\^n"),
        (SO3(), SO2(), "no such inclusion is implemented"),
        (O3(), SO3(), "no such inclusion is implemented"),
        (Cyclic(4), Permutations(4), "no such inclusion is implemented"),
    ],
    ids=repr,
)
def test_non_subgroups_raise(sub: Group, sup: Group, reason: str) -> None:
    message = f"{re.escape(repr(sub))} is not a subgroup of {re.escape(repr(sup))} .*{reason}"
    with pytest.raises(ValueError, match=message):
        inclusion(sub, sup)


def test_zero_axis_raises() -> None:
    with pytest.raises(ValueError, match="expected a non-zero 3-vector axis"):
        inclusion(SO2(), SO3(), axis=(0.0, 0.0, 0.0))


def test_inclusion_rejects_elements_of_another_group() -> None:
    inc = inclusion(Cyclic(2), Cyclic(4))
    with pytest.raises(
        ValueError, match="expected elements of Cyclic\\(2\\) \\(got elements of Cyclic\\(4\\)\\)"
    ):
        inc(Cyclic(4).element([1]))


@given(axis=AXES)
def test_inclusion_repr_round_trips(axis: list[float]) -> None:
    assume(_unit(axis) != (0.0, 0.0, 1.0))
    inc = inclusion(SO2(), SO3(), axis=tuple(axis))
    assert eval(repr(inc), vars(groups)) == inc
    assert repr(inclusion(Cyclic(2), Cyclic(4))) == "inclusion(Cyclic(2), Cyclic(4))"
