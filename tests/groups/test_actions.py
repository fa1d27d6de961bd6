"""The standard action on points: it is a group action, the matrices are the expected ones."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import (
    O2,
    O3,
    SE,
    SO,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Group,
    O,
    Permutations,
    Translations,
    Trivial,
    p4,
    p4m,
)

POINT_GROUPS: list[Group] = [
    Cyclic(1),
    Cyclic(6),
    Dihedral(1),
    Dihedral(5),
    SO2(),
    O2(),
    SO3(),
    O3(),
    SO(4),
    O(5),
    Translations(2),
    Translations(3, lattice=True),
    p4(),
    p4m(),
    E(2),
    E(3),
    SE(2),
    SE(3),
]
LINEAR = [G for G in POINT_GROUPS if not isinstance(G, Translations) and not hasattr(G, "point")]
SEEDS = st.integers(0, 2**32 - 1)
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def _sample(group: Group, seed: int, k: int, dtype: torch.dtype = torch.float64):
    gen = torch.Generator().manual_seed(seed)
    g = group.sample(k, generator=gen, dtype=dtype)
    h = group.sample(k, generator=gen, dtype=dtype)
    x = torch.randn(k, 5, group.point_dim, generator=gen, dtype=torch.float64).to(dtype)
    return g, h, x


def _rotation(theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


FLIP = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
@given(seed=SEEDS)
def test_act_on_points_is_an_action(group: Group, dtype: torch.dtype, seed: int) -> None:
    g, h, x = _sample(group, seed, k=4, dtype=dtype)
    tol = TOL[dtype] * 10  # translations are ~N(0, 1) and lattice shifts up to 4
    gh_x = group.act_on_points(g @ h, x)
    assert gh_x.dtype == dtype and gh_x.shape == x.shape
    torch.testing.assert_close(
        group.act_on_points(g, group.act_on_points(h, x)), gh_x, atol=tol, rtol=0
    )
    torch.testing.assert_close(group.act_on_points(group.identity(4), x), x, atol=tol, rtol=0)
    torch.testing.assert_close(
        group.act_on_points(~g, group.act_on_points(g, x)), x, atol=tol, rtol=0
    )


@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
def test_one_element_acts_on_unbatched_points(group: Group) -> None:
    g, _, x = _sample(group, seed=0, k=3)
    # the reference: one element at a time, on points without a batch dimension
    one_by_one = torch.stack([group.act_on_points(g[i], x[i]) for i in range(3)])
    torch.testing.assert_close(group.act_on_points(g, x), one_by_one)


@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
def test_action_moves_points(group: Group) -> None:
    """Guards the action law: a non-identity element must actually move some point."""
    g, _, x = _sample(group, seed=1, k=8)
    moved = (group.act_on_points(g, x) - x).abs().amax(dim=(1, 2)) > 1e-6
    assert torch.equal(moved, ~(g == group.identity(8)))


@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
@given(seed=SEEDS)
def test_matrices_are_a_homomorphism(group: Group, seed: int) -> None:
    """The linear part: for T ⋊ H it is the quotient map to H followed by H's matrices."""
    g, h, _ = _sample(group, seed, k=4)
    mg, mh = group.matrices(g, dtype=torch.float64), group.matrices(h, dtype=torch.float64)
    torch.testing.assert_close(group.matrices(g @ h, dtype=torch.float64), mg @ mh)
    eye = torch.eye(group.point_dim, dtype=torch.float64).expand(4, -1, -1)
    torch.testing.assert_close(group.matrices(group.identity(4), dtype=torch.float64), eye)


@pytest.mark.parametrize("group", LINEAR, ids=repr)
@given(seed=SEEDS)
def test_linear_groups_act_by_their_matrices(group: Group, seed: int) -> None:
    g, _, x = _sample(group, seed, k=4)
    expected = torch.einsum("bij,bkj->bki", group.matrices(g, dtype=torch.float64), x)
    torch.testing.assert_close(group.act_on_points(g, x), expected)


@pytest.mark.parametrize("group", [E(2), E(3), SE(2), SE(3), p4(), p4m()], ids=repr)
@given(seed=SEEDS)
def test_euclidean_groups_preserve_distances(group: Group, seed: int) -> None:
    g, _, x = _sample(group, seed, k=1)
    x = x[0]
    y = group.act_on_points(g, x)
    torch.testing.assert_close(torch.cdist(y, y), torch.cdist(x, x))
    # the action is affine: x ↦ A x + t with A = matrices(g)
    t = group.act_on_points(g, torch.zeros(1, group.point_dim, dtype=torch.float64))
    a = group.matrices(g, dtype=torch.float64)[0]
    torch.testing.assert_close(y, x @ a.T + t)


@pytest.mark.parametrize(
    ("group", "special"),
    [(SO2(), True), (SO3(), True), (SO(4), True), (SE(3), True), (Cyclic(7), True)]
    + [(O2(), False), (O3(), False), (O(5), False), (E(3), False), (Dihedral(7), False)],
    ids=repr,
)
@given(seed=SEEDS)
def test_orthogonal_matrices_and_determinants(group: Group, special: bool, seed: int) -> None:
    g = group.sample(8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    m = group.matrices(g)
    n = group.point_dim
    torch.testing.assert_close(m @ m.transpose(-1, -2), torch.eye(n, dtype=m.dtype).expand_as(m))
    det = torch.linalg.det(m)
    torch.testing.assert_close(det.abs(), torch.ones(8, dtype=m.dtype))
    if special:
        assert bool((det > 0).all())


def test_cyclic_and_dihedral_matrices_are_exact() -> None:
    quarter = Cyclic(4).matrices(Cyclic(4).element([1]))[0]
    assert torch.equal(quarter, torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
    flip = Dihedral(4).matrices(Dihedral(4).element([4]))[0]  # r^0 f
    assert torch.equal(flip, torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    rf = Dihedral(4).matrices(Dihedral(4).element([5]))[0]  # r f: reflect, then rotate
    assert torch.equal(rf, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, 2 * n - 1))))
def test_planar_matrices_match_rotations_and_reflections(case: tuple[int, int]) -> None:
    n, index = case
    s, k = divmod(index, n)
    expected = _rotation(2 * math.pi * k / n) @ torch.linalg.matrix_power(FLIP, s)
    d = Dihedral(n)
    torch.testing.assert_close(d.matrices(d.element([index]), dtype=torch.float64)[0], expected)
    if s == 0:
        c = Cyclic(n)
        torch.testing.assert_close(c.matrices(c.element([k]), dtype=torch.float64)[0], expected)


@given(st.floats(-10, 10), st.booleans())
def test_so2_and_o2_matrices(theta: float, reflect: bool) -> None:
    so2 = SO2().element(torch.tensor([theta], dtype=torch.float64))
    torch.testing.assert_close(SO2().matrices(so2)[0], _rotation(theta))
    o2 = O2().element(torch.tensor([[float(reflect), theta]], dtype=torch.float64))
    expected = _rotation(theta) @ (FLIP if reflect else torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(O2().matrices(o2)[0], expected)


@pytest.mark.parametrize("group", [SO2(), O2(), SO3(), O3(), SO(4), O(5)], ids=repr)
@given(t=st.floats(-4, 4))
def test_lie_algebra_exponentiates_into_the_group(group: Group, t: float) -> None:
    basis = group.lie_algebra
    assert basis.shape == (group.lie_algebra_dim, group.point_dim, group.point_dim)
    mats = torch.linalg.matrix_exp(t * basis)
    if isinstance(group, (SO2, O2)):
        # exp(tJ) is the rotation by t, the element with angle t
        g = SO2().element(torch.tensor([t], dtype=torch.float64))
        torch.testing.assert_close(mats[0], SO2().matrices(g)[0])
    else:
        g = group.element(mats)  # validation: orthogonal with det +1
        torch.testing.assert_close(group.matrices(g), mats)
    # the basis is antisymmetric and linearly independent
    torch.testing.assert_close(basis, -basis.transpose(-1, -2))
    assert torch.linalg.matrix_rank(basis.flatten(1)) == group.lie_algebra_dim


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_so3_basis_generates_rotations_about_the_axes(axis: int) -> None:
    generator = SO3().lie_algebra[axis]  # (L_x, L_y, L_z)
    e = torch.eye(3, dtype=torch.float64)
    quarter = torch.linalg.matrix_exp(math.pi / 2 * generator)
    torch.testing.assert_close(quarter @ e[axis], e[axis])  # fixes its axis
    # right-handed: a quarter turn about e_i maps e_(i+1) to e_(i+2)
    torch.testing.assert_close(quarter @ e[(axis + 1) % 3], e[(axis + 2) % 3])


def test_translations_shift_points_and_have_identity_linear_part() -> None:
    group = Translations(3)
    g = group.element(torch.tensor([[1.0, -2.0, 0.5]]))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(group.act_on_points(g, x), x + torch.tensor([1.0, -2.0, 0.5]))
    assert torch.equal(group.matrices(g)[0], torch.eye(3))


@pytest.mark.parametrize("group", [Trivial(), Permutations(3)], ids=repr)
def test_groups_without_a_point_action_raise(group: Group) -> None:
    with pytest.raises(TypeError, match="has no standard action on points"):
        group.act_on_points(group.identity(), torch.zeros(2))
