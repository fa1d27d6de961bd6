"""Representations of direct products: pull-backs from factors, outer products, regular reps."""

from __future__ import annotations

import pytest
import torch

from symml.groups import SO, Cyclic, Dihedral, O, Permutations, direct_product
from symml.reps import intertwiners, parse_rep, pullback, regular, standard, trivial
from symml.testing import assert_homomorphism


def test_outer_product_homomorphism_and_round_trip() -> None:
    group = direct_product(O(3), Cyclic(4))
    rep = pullback(standard(O(3)), group).tensor(pullback(regular(Cyclic(4)), group))
    assert_homomorphism(rep)
    assert parse_rep(str(rep)) == rep


def test_intertwiners_of_outer_products_factorise() -> None:
    # Hom(ρ⊠σ, ρ⊠σ) = End(ρ) ⊗ End(σ): SO(2) standard has a 2-dim End, S3 permutations 2
    group = direct_product(SO(2), Permutations(3))
    rep = pullback(standard(SO(2)), group).tensor(pullback(standard(Permutations(3)), group))
    assert len(intertwiners(rep, rep)) == 2 * 2
    assert_homomorphism(rep)


def test_regular_rep_of_finite_product() -> None:
    group = direct_product(Cyclic(3), Dihedral(2))
    rep = regular(group)
    assert rep.dim == 12 and rep.is_permutation
    assert_homomorphism(rep)
    # ρ_reg(g) e_h = e_{gh}
    g, all_ = group.elements()[5], group.elements()
    moved = rep(g, torch.float64)[0] @ torch.eye(12, dtype=torch.float64)
    expected = group.index_of(g @ all_)
    assert torch.equal(moved.argmax(0), expected)


def test_standard_and_trivial() -> None:
    group = direct_product(SO(3), Cyclic(5))
    assert standard(group).dim == 5
    assert_homomorphism(standard(group))
    assert len(intertwiners(trivial(group), trivial(group))) == 1


def test_pullback_errors() -> None:
    group = direct_product(Cyclic(3), Cyclic(3))
    with pytest.raises(ValueError, match=r"is factors \[0, 1\] .* pass factor=i"):
        pullback(standard(Cyclic(3)), group)
    with pytest.raises(ValueError, match="expected a rep of factor 1"):
        pullback(standard(SO(2)), direct_product(SO(2), O(3)), factor=1)
    with pytest.raises(ValueError, match="outer products of its factors' irreps"):
        from symml.reps import irrep

        irrep(group, 0)
