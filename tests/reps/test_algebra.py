"""Reps as values: structural equality and hashing, dimensions, and each operation of the algebra
(⊕, k·, ⊗, dual, restriction, pull-back, change of basis) against a slow, obviously-correct
reference built from the parts' matrices; `is_permutation` against the matrices themselves."""

from __future__ import annotations

import pytest
import torch

from symml.groups import (
    O2,
    O3,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Elements,
    FiniteGroup,
    Group,
    Inclusion,
    Permutations,
    Trivial,
    inclusion,
    p4m,
)
from symml.reps import (
    ChangeOfBasis,
    DirectSum,
    Pullback,
    Rep,
    TensorProduct,
    change_basis,
    direct_sum,
    irrep,
    pullback,
    quotient,
    regular,
    sign,
    standard,
    trivial,
)

F64 = torch.float64


def _elements(group: Group, seed: int = 0) -> Elements:
    if isinstance(group, FiniteGroup):
        return group.elements()
    return group.sample(16, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return float((a - b).abs().max()) if a.numel() else 0.0


# ----- values ------------------------------------------------------------------------------------
def test_equal_reps_are_equal_values() -> None:
    assert regular(Cyclic(4)) == quotient(Cyclic(4), Trivial())
    assert irrep(Dihedral(4), [1, 1]) == irrep(Dihedral(4), (1, 1))
    assert standard(SO3()).tensor(standard(SO3())) == standard(SO3()).tensor(standard(SO3()))
    assert standard(SO3()) != irrep(SO3(), 1)  # equal matrices, different expressions
    assert regular(Cyclic(4)) != regular(Cyclic(5))
    assert len({regular(Dihedral(4)), regular(Dihedral(4)), trivial(Dihedral(4))}) == 2


def test_direct_sums_flatten() -> None:
    a, b, c = irrep(SO3(), 0), irrep(SO3(), 1), irrep(SO3(), 2)
    assert (a + b) + c == a + (b + c) == direct_sum(a, b, c)
    abc = a + b + c
    assert isinstance(abc, DirectSum) and abc.parts == (a, b, c)
    assert 3 * b == b * 3 == b + b + b
    assert direct_sum(b) == b
    assert str(2 * a + b + 2 * a) == "2 * irrep(SO3(), 0) + irrep(SO3(), 1) + 2 * irrep(SO3(), 0)"


def test_operations_on_pullbacks_stay_pullbacks() -> None:
    """Sums, products, duals, restrictions and changes of basis of pulled-back reps are pulled
    back from the same operation on the point group (so intertwiners solve on the point group)."""
    v = standard(E(3))
    point = standard(O3())
    assert v + v == pullback(point + point, E(3))
    assert v.tensor(v) == pullback(point.tensor(point), E(3))
    assert v.dual() == pullback(point.dual(), E(3))
    q = torch.eye(3, dtype=F64)[[1, 2, 0]]
    assert change_basis(v, q) == pullback(change_basis(point, q), E(3))


DIMS = [
    (regular(Dihedral(5)), 10),
    (quotient(Dihedral(6), Cyclic(2)), 6),
    (standard(Permutations(5)), 5),
    (standard(O3()).tensor(irrep(O3(), (2, 1))), 15),
    (3 * irrep(SO2(), 2) + trivial(SO2()), 7),
    (regular(Dihedral(8)).restrict(Cyclic(4)), 16),
    (standard(E(3)), 3),
    (regular(Trivial()), 1),
]


@pytest.mark.parametrize(("rep", "dim"), DIMS, ids=[str(r) for r, _ in DIMS])
def test_dim(rep: Rep, dim: int) -> None:
    assert rep.dim == dim
    assert rep(_elements(rep.group)).shape[-2:] == (dim, dim)


# ----- operations against references ------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        (regular(Dihedral(4)), standard(Dihedral(4))),
        (irrep(SO3(), 1), irrep(SO3(), 2)),
        (standard(O2()), irrep(O2(), (1, 3))),
        (sign(Permutations(4)), standard(Permutations(4))),
    ],
    ids=str,
)
def test_sum_and_tensor_against_references(a: Rep, b: Rep) -> None:
    """(a ⊕ b)(g) = block_diag(a(g), b(g)) and (a ⊗ b)(g) = kron(a(g), b(g)), per element."""
    g = _elements(a.group)
    ma, mb = a(g, dtype=F64), b(g, dtype=F64)
    block = torch.stack([torch.block_diag(x, y) for x, y in zip(ma, mb, strict=True)])
    kron = torch.stack([torch.kron(x, y) for x, y in zip(ma, mb, strict=True)])
    assert torch.equal((a + b)(g, dtype=F64), block)
    assert isinstance(a.tensor(b), TensorProduct)
    assert _err(a.tensor(b)(g, dtype=F64), kron) <= 1e-14


@pytest.mark.parametrize(
    "rep",
    [regular(Dihedral(5)), irrep(O3(), (2, -1)), standard(SO2()).tensor(irrep(SO2(), 3))],
    ids=str,
)
def test_dual_is_inverse_transpose(rep: Rep) -> None:
    """ρ*(g) = ρ(g⁻¹)ᵀ, which equals ρ(g) for orthogonal reps; dρ* = -dρᵀ = dρ."""
    g = _elements(rep.group)
    dual = rep.dual()
    assert _err(dual(g, dtype=F64), rep(~g, dtype=F64).transpose(-1, -2)) <= 1e-12
    assert _err(dual(g, dtype=F64), rep(g, dtype=F64)) <= 1e-12
    assert _err(dual.lie_algebra(), rep.lie_algebra()) <= 1e-12


@pytest.mark.parametrize(
    ("rep", "inc"),
    [
        (irrep(SO3(), 2), inclusion(SO2(), SO3())),
        (standard(O3()), inclusion(O2(), O3(), axis=(1.0, 2.0, 3.0))),
        (irrep(O3(), (3, -1)), inclusion(Dihedral(6), O3(), axis=(0.0, 1.0, 1.0))),
        (irrep(O3(), (2, 1)), inclusion(SO3(), O3())),
        (regular(Dihedral(8)), inclusion(Cyclic(4), Dihedral(8))),
        (irrep(O2(), (1, 2)), inclusion(Dihedral(5), O2())),
        (irrep(SO2(), 3), inclusion(Cyclic(7), SO2())),
    ],
    ids=str,
)
def test_restriction_is_composition_with_the_inclusion(rep: Rep, inc: Inclusion) -> None:
    """ρ|_H(h) = ρ(ι(h)) (evaluated on float64 elements of the big group)."""
    restricted = rep.restrict(inc)
    h = _elements(restricted.group)
    image = inc(h)
    image = Elements(
        image.group, image.data.double() if image.data.is_floating_point() else image.data
    )
    reference = rep(image, dtype=F64)
    # the reference is only as good as `inc(h)`, which is float32 for C_N / D_N elements
    assert _err(restricted(h, dtype=F64), reference) <= 1e-6
    # exact homomorphism of the restriction itself (float64 throughout)
    g = _elements(restricted.group, 1)
    lhs = restricted(g @ g[torch.arange(len(g)).flip(0)], dtype=F64)
    rhs = restricted(g, dtype=F64) @ restricted(g[torch.arange(len(g)).flip(0)], dtype=F64)
    assert _err(lhs, rhs) <= 1e-12


def test_restriction_to_the_whole_group_is_the_rep() -> None:
    rep = regular(Dihedral(4))
    assert rep.restrict(Dihedral(4)) is rep


@pytest.mark.parametrize(
    "rep",
    [standard(E(3)), irrep(E(3), (2, -1)), pullback(regular(Dihedral(4)), p4m())],
    ids=str,
)
def test_pullback_ignores_translations(rep: Rep) -> None:
    """ρ((h, t)) = ρ_H(h) for every translation t."""
    assert isinstance(rep, Pullback)
    group = rep.group
    g = group.sample(16, generator=torch.Generator().manual_seed(0), dtype=F64)
    h, t = group.split(g)
    moved = group.element_from(h, torch.roll(t, 1, 0))
    assert torch.equal(rep(g, dtype=F64), rep.rep(h, dtype=F64))
    assert torch.equal(rep(moved, dtype=F64), rep(g, dtype=F64))


def test_change_basis_conjugates() -> None:
    q = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(0), dtype=F64))[0]
    rep = irrep(SO3(), 2)
    changed = change_basis(rep, q)
    assert isinstance(changed, ChangeOfBasis)
    g = _elements(SO3())
    assert _err(changed(g, dtype=F64), q @ rep(g, dtype=F64) @ q.T) <= 1e-12
    assert _err(changed.lie_algebra(), q @ rep.lie_algebra() @ q.T) <= 1e-12


@pytest.mark.parametrize(
    "rep",
    [irrep(SO3(), 2), standard(O2()), irrep(O3(), (1, 1)).tensor(irrep(O3(), (2, -1)))],
    ids=str,
)
def test_lie_algebra_is_the_derivative(rep: Rep) -> None:
    """dρ(X) = d/dt ρ(exp(tX)) at t = 0 (central difference), and it is antisymmetric."""
    group = rep.group
    lie = rep.lie_algebra()
    assert lie.shape == (group.lie_algebra_dim, rep.dim, rep.dim)
    assert _err(lie, -lie.transpose(-1, -2)) <= 1e-12
    eps = 1e-5
    for i in range(group.lie_algebra_dim):
        x = group.lie_algebra[i]
        if isinstance(group, (SO2, O2)):
            step = torch.tensor([eps] if isinstance(group, SO2) else [[0.0, eps]], dtype=F64)
            plus, minus = group.element(step), group.element(-step)
        else:
            plus = group.element(torch.linalg.matrix_exp(eps * x))
            minus = group.element(torch.linalg.matrix_exp(-eps * x))
        derivative = (rep(plus, dtype=F64) - rep(minus, dtype=F64))[0] / (2 * eps)
        assert _err(derivative, lie[i]) <= 1e-8


def test_character_is_the_trace() -> None:
    rep = standard(O3()).tensor(standard(O3()))
    g = _elements(O3())
    assert _err(rep.character(g, dtype=F64), rep(g, dtype=F64).diagonal(0, -2, -1).sum(-1)) == 0
    # χ_{a⊗b} = χ_a χ_b
    chi = standard(O3()).character(g, dtype=F64)
    assert _err(rep.character(g, dtype=F64), chi * chi) <= 1e-12


# ----- is_permutation ----------------------------------------------------------------------------
PERMUTATION = [
    (regular(Dihedral(4)), True),
    (regular(Cyclic(5)), True),
    (quotient(Dihedral(6), Cyclic(3)), True),
    (standard(Permutations(4)), True),
    (trivial(SO3()), True),
    (regular(Dihedral(4)).tensor(regular(Dihedral(4))), True),
    (regular(Dihedral(8)).restrict(Cyclic(4)), True),
    (2 * regular(Cyclic(3)) + trivial(Cyclic(3)), True),
    (change_basis(regular(Cyclic(3)), torch.eye(3, dtype=F64)[[2, 0, 1]]), True),
    (pullback(regular(Dihedral(4)), p4m()), True),
    (standard(SO3()), False),
    (standard(Cyclic(4)), False),  # signed permutation matrices, not permutations
    (irrep(Dihedral(4), (1, 1)), False),
    (irrep(Cyclic(6), 1), False),
    (irrep(SO2(), 2), False),
    (sign(Permutations(3)), False),
    (regular(Cyclic(4)) + standard(Cyclic(4)), False),
    (change_basis(regular(Cyclic(2)), [[0.6, 0.8], [-0.8, 0.6]]), False),
]


@pytest.mark.parametrize(
    ("rep", "expected"), PERMUTATION, ids=[str(r)[:60] for r, _ in PERMUTATION]
)
def test_is_permutation(rep: Rep, expected: bool) -> None:
    assert rep.is_permutation is expected
    m = rep(_elements(rep.group), dtype=F64)
    is_perm = bool(((m == 0) | (m == 1)).all() & (m.sum(-2) == 1).all() & (m.sum(-1) == 1).all())
    assert is_perm is expected  # True promises exact permutation matrices
