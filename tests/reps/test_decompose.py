"""`decompose`: ρ(g) = Q (⊕ ψ_i^{⊕m_i})(g) Qᵀ with Q orthogonal, and the irreps it finds are the
ones character theory / Clebsch-Gordan predict."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

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
    Permutations,
    inclusion,
    p4m,
)
from symml.reps import (
    Decomposition,
    Pullback,
    Rep,
    change_basis,
    decompose,
    irrep,
    irrep_keys,
    pullback,
    quotient,
    regular,
    standard,
)

F64 = torch.float64
ATOL = 1e-10
SEEDS = st.integers(0, 2**32 - 1)


def _elements(group: Group, seed: int) -> Elements:
    if isinstance(group, FiniteGroup):
        return group.elements()
    return group.sample(16, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _check(dec: Decomposition, rep: Rep, g: Elements) -> None:
    """Q is orthogonal, the blocks add up to ρ's dimension, and Q (⊕ψ) Qᵀ = ρ at ``g``."""
    q = dec.change_of_basis
    eye = torch.eye(rep.dim, dtype=F64)
    assert q.shape == (rep.dim, rep.dim) and q.dtype == F64
    assert _err(q.T @ q, eye) <= ATOL and _err(q @ q.T, eye) <= ATOL
    assert sum(psi.dim * m for psi, m in dec.irreps) == rep.dim == dec.rep.dim
    assert _err(dec.reconstruct(g), rep(g, dtype=F64)) <= ATOL
    # and the other way round: Qᵀ ρ(g) Q is the block-diagonal sum of irreps
    assert _err(q.T @ rep(g, dtype=F64) @ q, dec.rep(g, dtype=F64)) <= ATOL


REGULAR_GROUPS: list[FiniteGroup] = [
    *(Cyclic(n) for n in (1, 2, 3, 4, 5, 6, 8)),
    *(Dihedral(n) for n in (1, 2, 3, 4, 5, 6, 8)),
    Permutations(3),
    Permutations(4),
]


@pytest.mark.parametrize("group", REGULAR_GROUPS, ids=str)
def test_regular_rep_reconstructs_exactly(group: FiniteGroup) -> None:
    rep = regular(group)
    _check(decompose(rep), rep, group.elements())


@pytest.mark.parametrize("group", REGULAR_GROUPS, ids=str)
def test_regular_multiplicities_match_characters(group: FiniteGroup) -> None:
    """m_ψ = ⟨χ_ψ, χ_reg⟩ / ⟨χ_ψ, χ_ψ⟩ (= d_ψ / dim End ψ), every irrep appears, Σ d_ψ m_ψ = |G|,
    in the group's irrep order."""
    dec = decompose(regular(group))
    g = group.elements()
    chi_reg = regular(group).character(g, dtype=F64)
    predicted = []
    for key in irrep_keys(group):
        psi = irrep(group, key)
        chi = psi.character(g, dtype=F64)
        predicted.append((psi, round(float((chi * chi_reg).sum() / (chi * chi).sum()))))
    assert list(dec.irreps) == predicted
    assert sum(psi.dim * m for psi, m in dec.irreps) == group.order


def test_vector_tensor_vector_of_o3() -> None:
    """1o ⊗ 1o = 0e + 1e + 2e."""
    v = standard(O3())
    dec = decompose(v.tensor(v))
    assert dec.irreps == (
        (irrep(O3(), (0, 1)), 1),
        (irrep(O3(), (1, 1)), 1),
        (irrep(O3(), (2, 1)), 1),
    )
    _check(dec, v.tensor(v), _elements(O3(), 0))


def test_vector_tensor_vector_of_so2() -> None:
    """R(θ) ⊗ R(θ) = 2 × frequency 0 + frequency 2."""
    v = standard(SO2())
    dec = decompose(v.tensor(v))
    assert dec.irreps == ((irrep(SO2(), 0), 2), (irrep(SO2(), 2), 1))
    _check(dec, v.tensor(v), _elements(SO2(), 0))


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return torch.linalg.qr(a)[0]


# (rep, expected irreps as (rep, multiplicity) pairs)
CASES = [
    (irrep(SO3(), 2).restrict(SO2()), [(irrep(SO2(), k), 1) for k in range(3)]),
    (
        standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 0.0, 0.0))),
        [(irrep(O2(), (0, 0)), 1), (irrep(O2(), (1, 1)), 1)],
    ),
    (regular(Dihedral(8)).restrict(Cyclic(4)), [(irrep(Cyclic(4), k), 4) for k in range(3)]),
    (
        irrep(SO3(), 1).tensor(irrep(SO3(), 2)),
        [(irrep(SO3(), 1), 1), (irrep(SO3(), 2), 1), (irrep(SO3(), 3), 1)],
    ),
    (
        irrep(O3(), (1, -1)).tensor(irrep(O3(), (1, 1))),
        [(irrep(O3(), (0, -1)), 1), (irrep(O3(), (1, -1)), 1), (irrep(O3(), (2, -1)), 1)],
    ),
    (
        irrep(SO2(), 1).tensor(irrep(SO2(), 3)),
        [(irrep(SO2(), 2), 1), (irrep(SO2(), 4), 1)],
    ),
    (
        standard(O2()).tensor(standard(O2())),
        [(irrep(O2(), (0, 0)), 1), (irrep(O2(), (1, 0)), 1), (irrep(O2(), (1, 2)), 1)],
    ),
    (
        standard(Permutations(4)),
        [(irrep(Permutations(4), (4,)), 1), (irrep(Permutations(4), (3, 1)), 1)],
    ),
    (
        quotient(Dihedral(6), Cyclic(3)),
        [
            (irrep(Dihedral(6), (0, 0)), 1),
            (irrep(Dihedral(6), (1, 0)), 1),
            (irrep(Dihedral(6), (0, 3)), 1),
            (irrep(Dihedral(6), (1, 3)), 1),
        ],
    ),
    (
        change_basis(irrep(SO3(), 2) + irrep(SO3(), 0), _orthogonal(6, 0)),
        [(irrep(SO3(), 0), 1), (irrep(SO3(), 2), 1)],
    ),
    (irrep(O3(), (3, -1)), [(irrep(O3(), (3, -1)), 1)]),
    (
        regular(Dihedral(4)).dual(),
        [
            (irrep(Dihedral(4), k), m)
            for k, m in zip(irrep_keys(Dihedral(4)), [1, 1, 2, 1, 1], strict=True)
        ],
    ),
]


@pytest.mark.parametrize(("rep", "expected"), CASES, ids=[str(c[0])[:60] for c in CASES])
@given(seed=SEEDS)
def test_decomposition(rep: Rep, expected: list[tuple[Rep, int]], seed: int) -> None:
    dec = rep.decompose()
    assert list(dec.irreps) == expected
    _check(dec, rep, _elements(rep.group, seed))


@pytest.mark.parametrize(
    ("rep", "expected"),
    [
        (standard(E(3)).tensor(standard(E(3))), [((0, 1), 1), ((1, 1), 1), ((2, 1), 1)]),
        (
            pullback(regular(Dihedral(4)), p4m()),
            [((0, 0), 1), ((1, 0), 1), ((1, 1), 2), ((0, 2), 1), ((1, 2), 1)],
        ),
    ],
    ids=["E3", "p4m"],
)
def test_decomposition_of_pullbacks(rep: Rep, expected: list[tuple[object, int]]) -> None:
    """A pulled-back rep decomposes into the pulled-back irreps of the point group; Q is the
    point group's."""
    assert isinstance(rep, Pullback)
    dec = decompose(rep)
    assert [(psi, m) for psi, m in dec.irreps] == [
        (pullback(irrep(rep.group.point, k), rep.group), m) for k, m in expected
    ]
    g = rep.group.sample(16, generator=torch.Generator().manual_seed(0), dtype=F64)
    _check(dec, rep, g)


def test_decomposition_string() -> None:
    assert str(decompose(regular(Cyclic(4)))) == (
        "1xirrep(Cyclic(4), 0) + 1xirrep(Cyclic(4), 1) + 1xirrep(Cyclic(4), 2)"
    )
