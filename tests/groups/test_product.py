"""Direct products: group axioms, factor projections, names, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import (
    SO,
    Cyclic,
    Dihedral,
    DirectProduct,
    O,
    Permutations,
    direct_product,
    group_from_name,
)
from symml.testing import assert_group_axioms

PRODUCTS = {
    "C3xD2": direct_product(Cyclic(3), Dihedral(2)),
    "O3xC4": direct_product(O(3), Cyclic(4)),
    "SO2xS3": direct_product(SO(2), Permutations(3)),
    "SO2xSO3": direct_product(SO(2), SO(3)),
    "D4xC2xS3": direct_product(Dihedral(4), Cyclic(2), Permutations(3)),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_axioms(name: str) -> None:
    assert_group_axioms(PRODUCTS[name])


@given(seed=st.integers(0, 2**16))
def test_projections_are_homomorphisms(seed: int) -> None:
    group = PRODUCTS["O3xC4"]
    gen = torch.Generator().manual_seed(seed)
    a, b = group.sample(3, generator=gen, dtype=torch.float64), group.sample(3, generator=gen)
    for i, factor in enumerate(group.factors):
        lhs = group.project(a @ b, i)
        rhs = group.project(a, i) @ group.project(b, i)
        assert bool(factor.equal(lhs, rhs).all())


def test_finite_product_lists_and_indexes_every_element() -> None:
    group = PRODUCTS["D4xC2xS3"]
    assert group.order == 8 * 2 * 6
    everything = group.elements()
    assert torch.equal(group.index_of(everything), torch.arange(group.order))


def test_element_from_and_lie_algebra_dim() -> None:
    group = PRODUCTS["SO2xSO3"]
    assert group.lie_algebra_dim == 1 + 3 and group.order is None
    g = group.element_from(SO(2).identity(2), SO(3).identity(2))
    assert bool(group.equal(g, group.identity(2)).all())


def test_names_and_flattening() -> None:
    assert group_from_name("O3xC4") == PRODUCTS["O3xC4"]
    nested = direct_product(direct_product(Cyclic(3), Dihedral(2)), Cyclic(5))
    assert nested.factors == (Cyclic(3), Dihedral(2), Cyclic(5))


def test_errors() -> None:
    with pytest.raises(ValueError, match="at least two groups"):
        DirectProduct((O(3),))
    group = PRODUCTS["O3xC4"]
    with pytest.raises(ValueError, match=r"of shape \[B, 10\]"):
        group.element(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="expected 2 batches of elements"):
        group.element_from(O(3).identity())
