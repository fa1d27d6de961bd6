"""`intertwiners`: an orthonormal basis of Hom_G(ρ_in, ρ_out) whose every element satisfies
ρ_out(g) W = W ρ_in(g); Schur's lemma; memoisation; pull-backs solve on the point group."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import (
    O2,
    O3,
    SE,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Elements,
    FiniteGroup,
    Group,
    Orthogonal,
    Permutations,
    SpecialOrthogonal,
    inclusion,
    p4m,
)
from symml.reps import (
    Pullback,
    Rep,
    constraint_generators,
    intertwiners,
    irrep,
    irrep_keys,
    pullback,
    regular,
    sign,
    standard,
    trivial,
)
from symml.reps.intertwiners import _solve, clear_cache
from symml.testing.laws import assert_intertwiner

F64 = torch.float64
SEEDS = st.integers(0, 2**32 - 1)


def _sample(group: Group, n: int, seed: int) -> Elements:
    return group.sample(n, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _sq(rep: Rep) -> Rep:
    return rep.tensor(rep)


# (rep_in, rep_out, dim Hom_G(rep_in, rep_out)) with the dimension known from theory
CASES = [
    # finite groups
    (regular(Cyclic(4)), trivial(Cyclic(4)), 1),
    (regular(Dihedral(4)), regular(Dihedral(4)), 8),
    (standard(Dihedral(4)), _sq(standard(Dihedral(4))), 0),  # D4: 2-D ⊗ 2-D has only 1-D parts
    (standard(Cyclic(3)), _sq(standard(Cyclic(3))), 2),  # C3: R ⊗ R ⊃ R(2θ) ≅ R(-θ) ~ R(θ)
    (_sq(standard(Permutations(4))), standard(Permutations(4)), 5),
    (standard(Permutations(5)), standard(Permutations(5)), 2),
    (sign(Permutations(4)), _sq(standard(Permutations(4))), 0),
    # continuous groups
    (_sq(standard(SO3())), trivial(SO3()), 1),  # the dot product
    (_sq(standard(SO3())), standard(SO3()), 1),  # the cross product
    (_sq(standard(O3())), standard(O3()), 0),  # ... which is a pseudo-vector under O(3)
    (_sq(standard(O3())), irrep(O3(), (1, 1)), 1),
    (irrep(SO3(), 1).tensor(irrep(SO3(), 2)), irrep(SO3(), 3), 1),
    (standard(SO2()), standard(SO2()), 2),  # rotations commute: a + bJ
    (standard(O2()), standard(O2()), 1),
    (_sq(standard(SO2())), irrep(SO2(), 2), 2),
    (_sq(standard(SpecialOrthogonal(4))), trivial(SpecialOrthogonal(4)), 1),
    (_sq(standard(SpecialOrthogonal(4))), _sq(standard(SpecialOrthogonal(4))), 4),  # Λ² = Λ+ ⊕ Λ-
    (_sq(standard(Orthogonal(4))), _sq(standard(Orthogonal(4))), 3),  # reflections swap Λ±
    (_sq(standard(Orthogonal(5))), _sq(standard(Orthogonal(5))), 3),  # 1 + Sym²₀ + Λ²
    (standard(Orthogonal(5)), _sq(standard(Orthogonal(5))), 0),  # -I acts by -1 and +1
    (_sq(standard(Orthogonal(5))), trivial(Orthogonal(5)), 1),
    # restrictions
    (irrep(SO2(), 1), irrep(SO3(), 2).restrict(SO2()), 2),
    (trivial(SO2()), irrep(SO3(), 2).restrict(SO2()), 1),
    (standard(O2()), standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 0.0, 0.0))), 1),
    (trivial(O2()), standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 2.0, 3.0))), 1),
    (regular(Cyclic(4)), regular(Dihedral(8)).restrict(Cyclic(4)), 16),
    (standard(Dihedral(3)), standard(O3()).restrict(inclusion(Dihedral(3), O3())), 1),
    (trivial(Cyclic(5)), _sq(standard(SO3())).restrict(inclusion(Cyclic(5), SO3())), 3),
    # tensor products of reps of different types
    (regular(Dihedral(4)).tensor(standard(Dihedral(4))), regular(Dihedral(4)), 16),
    (irrep(O2(), (1, 1)).tensor(irrep(O2(), (1, 2))), irrep(O2(), (1, 3)), 1),
    # pull-backs
    (_sq(standard(E(3))), standard(E(3)), 0),
    (_sq(standard(SE(3))), standard(SE(3)), 1),
    (pullback(regular(Dihedral(4)), p4m()), pullback(regular(Dihedral(4)), p4m()), 8),
    (trivial(E(2)), _sq(standard(E(2))), 1),
]


def _id(case: tuple[Rep, Rep, int]) -> str:
    return f"{str(case[0])[:45]}->{str(case[1])[:45]}"


@pytest.mark.parametrize(("rep_in", "rep_out", "dim"), CASES, ids=[_id(c) for c in CASES])
def test_basis_is_orthonormal_and_equivariant(rep_in: Rep, rep_out: Rep, dim: int) -> None:
    """Shape ``[k, d_out, d_in]`` float64, k as theory predicts, ⟨W_i, W_j⟩_F = δ_ij, and every
    W_i intertwines (`assert_intertwiner` on 32 sampled elements)."""
    basis = intertwiners(rep_in, rep_out)
    assert basis.shape == (dim, rep_out.dim, rep_in.dim) and basis.dtype == F64
    gram = torch.einsum("aij,bij->ab", basis, basis)
    assert torch.allclose(gram, torch.eye(dim, dtype=F64), rtol=0, atol=1e-10)
    group = rep_in.group
    g = group.elements() if isinstance(group, FiniteGroup) else _sample(group, 32, 0)
    if dim:  # assert_intertwiner cannot take an empty basis (max of an empty tensor)
        assert_intertwiner(basis, rep_in, rep_out, elements=g, atol=1e-9)


@pytest.mark.parametrize(("rep_in", "rep_out", "dim"), CASES, ids=[_id(c) for c in CASES])
@given(seed=SEEDS)
def test_intertwiner_law(rep_in: Rep, rep_out: Rep, dim: int, seed: int) -> None:
    """ρ_out(g) W = W ρ_in(g) written out, for a random combination W of the basis."""
    basis = intertwiners(rep_in, rep_out)
    gen = torch.Generator().manual_seed(seed)
    w = torch.einsum("k,kij->ij", torch.randn(dim, generator=gen, dtype=F64), basis)
    g = _sample(rep_in.group, 8, seed)
    lhs = rep_out(g, dtype=F64) @ w
    rhs = w @ rep_in(g, dtype=F64)
    assert float((lhs - rhs).abs().max()) <= 1e-9 * max(1.0, float(w.abs().max()))


def test_basis_of_a_non_equivariant_map_is_rejected() -> None:
    """`assert_intertwiner` can fail: a generic matrix is not an intertwiner."""
    rep = standard(SO3())
    w = torch.arange(9, dtype=F64).reshape(3, 3)
    with pytest.raises(AssertionError, match="intertwiner"):
        assert_intertwiner(w, rep, rep, elements=_sample(SO3(), 8, 0))


# ----- Schur's lemma -------------------------------------------------------------------------
def _irreps(group: Group, bandlimit: int | None = None) -> list[Rep]:
    return [irrep(group, key) for key in irrep_keys(group, bandlimit)]


INEQUIVALENT = [
    pytest.param(a, b, id=f"{a}-{b}")
    for irreps in (
        _irreps(Dihedral(6)),
        _irreps(Cyclic(5)),
        _irreps(Cyclic(6)),
        _irreps(Permutations(4)),
        _irreps(SO2(), 4),
        _irreps(O2(), 3),
        _irreps(SO3(), 4),
        _irreps(O3(), 3),
    )
    for a, b in itertools.permutations(irreps, 2)
]


@pytest.mark.parametrize(("a", "b"), INEQUIVALENT)
def test_schur_inequivalent_irreps_have_no_intertwiners(a: Rep, b: Rep) -> None:
    basis = intertwiners(a, b)
    assert basis.shape == (0, b.dim, a.dim)


@pytest.mark.parametrize("l", range(4))
def test_schur_o3_parity_mismatch(l: int) -> None:  # noqa: E741 - the degree
    """Same degree, opposite parity: no intertwiner (though on SO(3) they agree)."""
    even, odd = irrep(O3(), (l, 1)), irrep(O3(), (l, -1))
    assert intertwiners(even, odd).shape[0] == 0
    assert intertwiners(odd, even).shape[0] == 0
    assert intertwiners(even.restrict(SO3()), odd.restrict(SO3())).shape[0] == 1


REAL_TYPE = [
    *(r for r in _irreps(Dihedral(6))),
    *(r for r in _irreps(Cyclic(6)) if r.dim == 1),
    *_irreps(Permutations(4)),
    *_irreps(SO3(), 4),
    *_irreps(O3(), 2),
    *_irreps(O2(), 3),
]


@pytest.mark.parametrize("psi", REAL_TYPE, ids=str)
def test_schur_endomorphisms_of_real_type_irreps_are_scalars(psi: Rep) -> None:
    basis = intertwiners(psi, psi)
    assert basis.shape[0] == 1
    scalar = torch.eye(psi.dim, dtype=F64) / psi.dim**0.5
    w = basis[0] * torch.sign(basis[0].trace())
    assert float((w - scalar).abs().max()) <= 1e-10


@pytest.mark.parametrize(
    "psi", [*(r for r in _irreps(Cyclic(6)) if r.dim == 2), *_irreps(SO2(), 3)[1:]], ids=str
)
def test_endomorphisms_of_complex_type_irreps(psi: Rep) -> None:
    """The 2-D irreps of C_N and SO(2) commute with I and with the quarter turn J."""
    basis = intertwiners(psi, psi)
    assert basis.shape[0] == 2
    j = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)
    span = torch.stack([torch.eye(2, dtype=F64), j]).reshape(2, 4) / 2**0.5
    coefficients = basis.reshape(2, 4) @ span.T  # the basis, written in (I, J)/√2
    assert float((coefficients @ coefficients.T - torch.eye(2, dtype=F64)).abs().max()) <= 1e-10


# ----- pull-backs, memoisation, constraint generators -------------------------------------------
@pytest.mark.parametrize(
    ("rep_in", "rep_out"),
    [
        (irrep(E(3), (1, 1)), _sq(standard(E(3)))),
        (_sq(standard(E(3))), _sq(standard(E(3)))),
        (irrep(E(3), (2, 1)), _sq(standard(E(3)))),
        (pullback(regular(Dihedral(4)), p4m()), pullback(standard(Dihedral(4)), p4m())),
    ],
    ids=str,
)
def test_pullback_intertwiners_are_the_point_groups(rep_in: Rep, rep_out: Rep) -> None:
    """Translations act trivially on fibres, so Hom_{T⋊H} = Hom_H; and the basis intertwines at
    elements with non-zero translations."""
    assert isinstance(rep_in, Pullback) and isinstance(rep_out, Pullback)
    point_in, point_out = rep_in.rep, rep_out.rep
    basis = intertwiners(rep_in, rep_out)
    assert torch.equal(basis, intertwiners(point_in, point_out))
    assert basis.shape[0] > 0
    g = _sample(rep_in.group, 16, 0)
    assert bool((rep_in.group.split(g)[1] != 0).any())  # translations are not all zero
    assert_intertwiner(basis, rep_in, rep_out, elements=g, atol=1e-9)


def test_memoised_and_safe_to_mutate() -> None:
    """The second call is a cache hit (also for an equal but distinct rep) and returns an equal
    tensor; mutating a returned basis does not corrupt the cache."""
    clear_cache()
    rep_in, rep_out = _sq(standard(SO3())), standard(SO3())
    first = intertwiners(rep_in, rep_out)
    assert _solve.cache_info().misses == 1 and _solve.cache_info().hits == 0
    second = intertwiners(_sq(standard(SO3())), standard(SO3()))
    assert _solve.cache_info().hits == 1
    assert torch.equal(first, second) and first is not second
    first.zero_()
    second.mul_(2.0)
    third = intertwiners(rep_in, rep_out)
    assert torch.equal(third * 2.0, second)
    assert float(third.abs().max()) > 0
    assert_intertwiner(third, rep_in, rep_out, elements=_sample(SO3(), 8, 0))


def test_empty_hom_has_zero_rows() -> None:
    basis = intertwiners(irrep(SO3(), 1), irrep(SO3(), 2))
    assert basis.shape == (0, 5, 3) and basis.dtype == F64


@pytest.mark.parametrize(
    ("rep", "count"),
    [
        (regular(Dihedral(4)), 2),  # r, f
        (standard(Cyclic(5)), 1),
        (standard(SO3()), 3),  # so(3)
        (standard(O3()), 4),  # inversion + so(3)
        (standard(O2()), 2),  # flip + so(2)
        (standard(E(3)), 4),  # solved on the point group O(3)
        (standard(SpecialOrthogonal(4)), 6),
    ],
    ids=str,
)
def test_constraint_generators(rep: Rep, count: int) -> None:
    mats = constraint_generators(rep)
    assert len(mats) == count
    assert all(m.shape == (rep.dim, rep.dim) and m.dtype == F64 for m in mats)


def test_intertwiners_between_groups_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"different groups \(Cyclic\(4\) and Dihedral\(4\)\)"):
        intertwiners(regular(Cyclic(4)), regular(Dihedral(4)))
    with pytest.raises(TypeError, match="intertwiners: expected a Rep"):
        intertwiners(regular(Cyclic(4)), torch.eye(4))  # type: ignore[arg-type]


def test_restricted_so3_vectors_are_invariant_only_along_the_axis() -> None:
    """Restricted to SO(2) about an axis, the one invariant vector of R^3 is that axis."""
    axis = (1.0, 2.0, 2.0)
    rep = standard(SO3()).restrict(inclusion(SO2(), SO3(), axis=axis))
    basis = intertwiners(trivial(SO2()), rep)
    assert basis.shape == (1, 3, 1)
    v = basis[0, :, 0] * torch.sign(basis[0, 0, 0])
    assert float((v - torch.tensor(axis, dtype=F64) / 3).abs().max()) <= 1e-10


@pytest.mark.parametrize(
    ("rep_in", "rep_out"),
    [
        (2 * regular(Dihedral(4)), regular(Dihedral(4)) + standard(Dihedral(4))),
        (standard(O3()) + trivial(O3()), 2 * standard(O3()) + irrep(O3(), (0, -1))),
        (standard(E(3)) + trivial(E(3)), 2 * standard(E(3))),
        (
            irrep(SO2(), 1) + irrep(SO2(), 2),
            standard(SO2()).tensor(irrep(SO2(), 1)) + trivial(SO2()),
        ),
    ],
    ids=str,
)
def test_block_solve_of_direct_sums_spans_the_same_space(rep_in: Rep, rep_out: Rep) -> None:
    from symml.reps.intertwiners import _solve_direct

    blocks = intertwiners(rep_in, rep_out).reshape(-1, rep_out.dim * rep_in.dim)
    direct = _solve_direct(rep_in, rep_out).reshape(-1, rep_out.dim * rep_in.dim)
    assert blocks.shape == direct.shape
    assert torch.allclose(blocks.T @ blocks, direct.T @ direct, atol=1e-10)  # same projector
