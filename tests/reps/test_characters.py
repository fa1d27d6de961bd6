"""Character theory of finite groups against the intertwiner solver: for real orthogonal reps
dim Hom_G(ρ1, ρ2) = (1/|G|) Σ_g χ1(g) χ2(g); irreps have ⟨χ, χ⟩ = dim End = 1 (real type) or 2
(complex type: the 2-D real irreps of C_N)."""

from __future__ import annotations

import itertools

import pytest
import torch

from symml.groups import Cyclic, Dihedral, FiniteGroup, Permutations, inclusion
from symml.reps import (
    Rep,
    intertwiners,
    irrep,
    irrep_keys,
    quotient,
    regular,
    sign,
    standard,
    trivial,
)

F64 = torch.float64


def _inner(a: Rep, b: Rep) -> float:
    """⟨χ_a, χ_b⟩ = (1/|G|) Σ_g χ_a(g) χ_b(g) (characters of real reps are real)."""
    group = a.group
    assert isinstance(group, FiniteGroup)
    g = group.elements()
    return float((a.character(g, dtype=F64) * b.character(g, dtype=F64)).sum() / group.order)


# subgroups H for the permutation reps on G/H (symml knows no inclusions into S_n but the trivial)
QUOTIENTS: dict[FiniteGroup, list[FiniteGroup]] = {
    Cyclic(6): [Cyclic(2), Cyclic(3)],
    Dihedral(5): [Cyclic(5), Dihedral(1)],
    Dihedral(6): [Cyclic(3), Dihedral(2)],
    Permutations(4): [],
}


def _named_reps(group: FiniteGroup) -> dict[str, Rep]:
    """Regular, quotient, standard, every irrep and a few tensor products of ``group``."""
    reps: dict[str, Rep] = {"regular": regular(group), "standard": standard(group)}
    for sub in QUOTIENTS[group]:
        reps[f"G/{sub}"] = quotient(group, sub)
    for key in irrep_keys(group):
        reps[f"irrep{key}"] = irrep(group, key)
    std = standard(group)
    reps["std⊗std"] = std.tensor(std)
    reps["std⊗sign"] = std.tensor(sign(group))
    last = irrep(group, irrep_keys(group)[-1])
    reps["regular⊗last irrep"] = regular(group).tensor(last)
    return reps


GROUPS: list[FiniteGroup] = list(QUOTIENTS)

PAIRS = [
    pytest.param(group, a, b, id=f"{group}-{a}-{b}")
    for group in GROUPS
    for a, b in itertools.combinations_with_replacement(_named_reps(group), 2)
]


@pytest.mark.parametrize(("group", "name_a", "name_b"), PAIRS)
def test_dim_hom_equals_character_inner_product(
    group: FiniteGroup, name_a: str, name_b: str
) -> None:
    reps = _named_reps(group)
    a, b = reps[name_a], reps[name_b]
    expected = _inner(a, b)
    assert abs(expected - round(expected)) < 1e-9
    assert intertwiners(a, b).shape[0] == round(expected)
    assert intertwiners(b, a).shape[0] == round(expected)


FINITE_GROUPS: list[FiniteGroup] = [
    *(Cyclic(n) for n in (1, 2, 3, 4, 5, 6, 8)),
    *(Dihedral(n) for n in (1, 2, 3, 4, 5, 6, 8)),
    *(Permutations(n) for n in range(1, 6)),
]


def _complex_type(group: FiniteGroup, psi: Rep) -> bool:
    """The real irreps of complex type here are exactly the 2-D irreps of C_N."""
    return isinstance(group, Cyclic) and psi.dim == 2


@pytest.mark.parametrize("group", FINITE_GROUPS, ids=str)
def test_irreps_norm_and_endomorphisms(group: FiniteGroup) -> None:
    """⟨χ_ψ, χ_ψ⟩ = dim End_G(ψ) = 2 for complex type, 1 for real type; distinct irreps have
    orthogonal characters."""
    psis = [irrep(group, key) for key in irrep_keys(group)]
    for psi in psis:
        expected = 2 if _complex_type(group, psi) else 1
        assert abs(_inner(psi, psi) - expected) < 1e-9
        assert intertwiners(psi, psi).shape[0] == expected
    for a, b in itertools.combinations(psis, 2):
        assert abs(_inner(a, b)) < 1e-9


@pytest.mark.parametrize("group", FINITE_GROUPS, ids=str)
def test_regular_rep_contains_every_irrep(group: FiniteGroup) -> None:
    """Multiplicity of ψ in the regular rep = ⟨χ_ψ, χ_reg⟩ / ⟨χ_ψ, χ_ψ⟩ = d_ψ / dim End(ψ), and
    Σ_ψ d_ψ · m_ψ = |G|."""
    reg = regular(group)
    total = 0
    for key in irrep_keys(group):
        psi = irrep(group, key)
        multiplicity = _inner(psi, reg) / _inner(psi, psi)
        assert abs(multiplicity - round(multiplicity)) < 1e-9
        end = 2 if _complex_type(group, psi) else 1
        assert round(multiplicity) == psi.dim // end
        total += psi.dim * round(multiplicity)
    assert total == group.order


@pytest.mark.parametrize("group", FINITE_GROUPS, ids=str)
def test_character_of_regular_rep(group: FiniteGroup) -> None:
    """χ_reg(g) = |G| at the identity and 0 elsewhere; χ_trivial = 1."""
    g = group.elements()
    chi = regular(group).character(g)
    expected = torch.zeros(group.order)
    expected[0] = group.order  # elements()[0] is the identity
    assert bool((group.identity(1) == g[0]).all())
    assert torch.equal(chi, expected)
    assert torch.equal(trivial(group).character(g), torch.ones(group.order))


@pytest.mark.parametrize(
    ("group", "subgroup"),
    [
        (Cyclic(6), Cyclic(2)),
        (Cyclic(6), Cyclic(3)),
        (Dihedral(6), Cyclic(3)),
        (Dihedral(6), Dihedral(2)),
        (Dihedral(5), Dihedral(1)),
        (Dihedral(8), Cyclic(4)),
    ],
    ids=str,
)
def test_quotient_character_counts_fixed_cosets(group: FiniteGroup, subgroup: FiniteGroup) -> None:
    """χ(g) = #{cosets kH fixed by g} = #{k ∈ G : k⁻¹gk ∈ H} / |H|, counted through the Cayley
    table; ⟨χ, 1⟩ = 1 (G acts transitively on G/H)."""
    rep = quotient(group, subgroup)
    assert rep.dim == group.order // subgroup.order
    table, inv = group.cayley_table, group.inverse_table
    in_h = torch.zeros(group.order, dtype=torch.bool)
    in_h[group.index_of(inclusion(subgroup, group)(subgroup.elements()))] = True
    k = torch.arange(group.order)[:, None]
    conj = table[table[inv[k], k.T], k]  # conj[k, g] = k⁻¹ g k, with table[a, b] = a·b
    expected = in_h[conj].sum(0).double() / subgroup.order
    assert torch.equal(rep.character(group.elements(), dtype=F64), expected)
    assert abs(_inner(rep, trivial(group)) - 1) < 1e-12
    assert intertwiners(rep, trivial(group)).shape[0] == 1
