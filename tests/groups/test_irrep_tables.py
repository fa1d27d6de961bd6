"""What each group knows about itself, checked as laws: its irreps are orthogonal homomorphisms
(hypothesis-drawn pairs), its character table is orthogonal and complete, its Lie algebra
images are the derivatives, its keys, trivial and sign irreps are what they say, and its
exponential map, rotation grid and e3nn / escnn correspondences agree with the group."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symml.groups import (
    O2,
    O3,
    SO,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    DirectProduct,
    E,
    FiniteGroup,
    Group,
    O,
    Permutations,
    Quaternion,
    Translations,
    Trivial,
    act_on_images,
    direct_product,
    p4m,
)
from symml.groups.counterparts import (
    E3nnCounterpart,
    EscnnCounterpart,
    e3nn_types,
    escnn_types,
    group_from_escnn,
)

F64 = torch.float64
SEEDS = st.integers(0, 2**32 - 1)
FINITE: list[FiniteGroup] = [
    Trivial(),
    Cyclic(1),
    Cyclic(5),
    Cyclic(6),
    Dihedral(1),
    Dihedral(5),
    Dihedral(6),
    Permutations(1),
    Permutations(4),
    Quaternion(),
]
LIE: list[Group] = [SO2(), O2(), SO3(), O3(), SO(4), O(4)]
BANDLIMIT = 3


def _keys(group: Group) -> list[object]:
    return list(group.irrep_keys(None if group.is_finite else BANDLIMIT))


def _pairs(group: Group, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return group.sample(6, generator=gen, dtype=F64).data, group.sample(
        6, generator=gen, dtype=F64
    ).data


@pytest.mark.parametrize("group", FINITE + LIE, ids=repr)
@settings(max_examples=10, deadline=None)
@given(seed=SEEDS)
def test_irreps_are_orthogonal_homomorphisms(group: Group, seed: int) -> None:
    a, b = _pairs(group, seed)
    for key in _keys(group):
        ra, rb = group.irrep_matrices(key, a), group.irrep_matrices(key, b)
        rab = group.irrep_matrices(key, group._compose(a, b))
        d = group.irrep_dim(key)
        assert ra.dtype == F64 and ra.shape == (len(a), d, d)
        assert float((rab - ra @ rb).abs().max()) <= 1e-10
        eye = torch.eye(d, dtype=F64)
        assert float((ra @ ra.transpose(-1, -2) - eye).abs().max()) <= 1e-10


@pytest.mark.parametrize("group", FINITE, ids=repr)
def test_character_table_is_orthogonal_and_complete(group: FiniteGroup) -> None:
    """⟨χ_i, χ_j⟩ = δ_ij dim End(ψ_i), with dim End ∈ {1, 2, 4} (real, complex, quaternionic);
    Σ d_i² / dim End(ψ_i) = |G| says no real irrep is missing."""
    chi = group.character_table()
    assert chi.shape == (len(_keys(group)), group.order)
    gram = chi @ chi.T / group.order
    ends = torch.diagonal(gram)
    assert float((gram - torch.diag(ends)).abs().max()) <= 1e-10
    assert set(ends.round().long().tolist()) <= {1, 2, 4}
    dims = torch.tensor([group.irrep_dim(k) for k in _keys(group)], dtype=F64)
    assert float((dims**2 / ends).sum()) == pytest.approx(group.order)


@pytest.mark.parametrize("group", LIE, ids=repr)
def test_irrep_lie_is_the_derivative(group: Group) -> None:
    t = 1e-4
    coeffs = torch.eye(group.lie_algebra_dim, dtype=F64) * t
    g = group.exp(coeffs)
    for key in _keys(group):
        expected = torch.linalg.matrix_exp(t * group.irrep_lie(key))
        assert float((group.irrep_matrices(key, g.data) - expected).abs().max()) <= 1e-8


@pytest.mark.parametrize("group", LIE, ids=repr)
@settings(max_examples=10, deadline=None)
@given(seed=SEEDS)
def test_exp_is_the_matrix_exponential(group: Group, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(4, group.lie_algebra_dim, generator=gen, dtype=F64)
    expected = torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", coeffs, group.lie_algebra))
    actual = group.matrices(group.exp(coeffs), dtype=F64)
    assert float((actual - expected).abs().max()) <= 1e-10


def test_exp_of_a_product_is_exp_of_each_factor() -> None:
    group = direct_product(SO3(), Cyclic(3), SO2())
    assert isinstance(group, DirectProduct)
    coeffs = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    g = group.exp(coeffs)
    assert bool((group.project(g, 0) == SO3().exp(coeffs[:, :3])).all())
    assert bool((group.project(g, 1) == Cyclic(3).identity(5)).all())
    assert bool((group.project(g, 2) == SO2().exp(coeffs[:, 3:])).all())


def test_exp_of_a_discrete_group_is_the_identity() -> None:
    g = Cyclic(4).exp(torch.zeros(3, 0, dtype=F64))
    assert bool((g == Cyclic(4).identity(3)).all())


@pytest.mark.parametrize("group", FINITE + LIE, ids=repr)
def test_keys_trivial_and_sign(group: Group) -> None:
    keys = _keys(group)
    assert all(group.is_irrep_key(k) for k in keys)
    assert len(set(keys)) == len(keys)
    g = group.sample(5, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert group.trivial_irrep_key in keys
    assert bool((group.irrep_matrices(group.trivial_irrep_key, g.data) == 1).all())
    key = group.sign_irrep_key
    if key is not None:
        values = group.irrep_matrices(key, group.generators.data)
        assert group.irrep_dim(key) == 1 and key != group.trivial_irrep_key
        assert set(values.flatten().tolist()) <= {1.0, -1.0} and -1.0 in values.flatten().tolist()


@pytest.mark.parametrize(
    ("group", "key"),
    [(SO2(), -1), (SO2(), True), (O2(), (0, 1)), (O3(), (1, 0)), (Cyclic(4), 3), (Quaternion(), 5)],
    ids=str,
)
def test_keys_that_are_not_irreps(group: Group, key: object) -> None:
    assert not group.is_irrep_key(key)
    assert group.irrep_key_hint.startswith("expected")


def test_groups_without_a_table_have_the_trivial_irrep_only() -> None:
    for group in (Trivial(), Translations(2), SO(5)):
        assert group.irrep_keys() == [0] and group.trivial_irrep_key == 0
    with pytest.raises(TypeError, match="outer products of the factors' irreps"):
        direct_product(SO3(), Cyclic(2)).irrep_keys()
    with pytest.raises(ValueError, match=r"SO3\(\) has infinitely many irreps; pass a bandlimit"):
        SO3().irrep_keys()


def test_structure_for_representations() -> None:
    assert E(3).point_group == O3() and E(3).product_factors == ()
    product = direct_product(O3(), Cyclic(4))
    assert isinstance(product, DirectProduct)
    assert product.product_factors == (O3(), Cyclic(4)) and product.point_group is None
    assert [g.standard_dim for g in (Cyclic(4), O3(), Permutations(5), Quaternion())] == [
        2,
        3,
        5,
        4,
    ]
    assert [g.standard_dim for g in (Trivial(), Translations(2), E(2), product)] == [None] * 4


@pytest.mark.parametrize(
    "group",
    [Trivial(), Cyclic(3), Dihedral(4), SO2(), O2(), p4m(), Translations(2, lattice=True)]
    + [SO3(), E(2), Translations(2), Quaternion(), Permutations(3)],
    ids=repr,
)
def test_acts_on_images_says_what_act_on_images_does(group: Group) -> None:
    images = torch.zeros(1, 1, 4, 4)
    if group.acts_on_images:
        assert act_on_images(group.identity(), images).shape == images.shape
    else:
        with pytest.raises(TypeError, match="does not act on 2-D images"):
            act_on_images(group.identity(), images)


def test_rotation_grid() -> None:
    quarter = torch.arange(4, dtype=F64) * (math.pi / 2)
    so2 = SO2().rotation_grid(4, F64)
    assert so2 is not None and torch.equal(so2.data, quarter)
    o2 = O2().rotation_grid(4, F64)
    assert o2 is not None and o2.data[:, 0].tolist() == [0.0] * 4 + [1.0] * 4  # flips last
    for finite in (Cyclic(5), Dihedral(3)):
        grid = finite.rotation_grid(24)
        assert grid is not None and torch.equal(grid.data, finite.elements().data)
    assert SO3().rotation_grid(4) is None and Quaternion().rotation_grid(4) is None
    with pytest.raises(ValueError, match=r"rotation_grid: expected steps >= 1 \(got 0\)"):
        SO2().rotation_grid(0)


def test_e3nn_correspondence_round_trips() -> None:
    assert e3nn_types() == ["SO3", "O3"]
    for group in (SO3(), O3()):
        assert isinstance(group, E3nnCounterpart)
        for key in _keys(group):
            lp = group.e3nn_irrep(key)
            assert group.irrep_key_from_e3nn(*lp) == key
            assert 2 * lp[0] + 1 == group.irrep_dim(key)
    assert [SO3().e3nn_irrep(k) for k in range(3)] == [(0, 1), (1, -1), (2, 1)]


@pytest.mark.parametrize("group", [Cyclic(6), Dihedral(5), SO2(), O2()], ids=repr)
def test_escnn_correspondence_round_trips(group: Group) -> None:
    assert isinstance(group, EscnnCounterpart)
    for key in _keys(group):
        assert group.irrep_key_from_escnn(group.escnn_irrep_id(key)) == key
    order = -1 if group.order is None else group.order
    assert group_from_escnn(group.escnn_class, order) == group
    assert len(group.escnn_elements(group.identity(3).data)) == 3


def test_escnn_types_are_the_planar_ones() -> None:
    assert [t.__name__ for t in escnn_types()] == ["Cyclic", "Dihedral", "SO2", "O2"]
    assert group_from_escnn("SO3", -1) is None
    assert Dihedral(4).escnn_group_id(3).o2_subgroup == (0.0, 4)
    assert SO2().escnn_group_id(5).args == (5,)
