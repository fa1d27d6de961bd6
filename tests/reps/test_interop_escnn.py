"""Cross-check against escnn: symml's irreps of C_N, D_N, SO(2) and O(2) have escnn's ids, basis
and characters, and reps convert to and from escnn ``Representation``s with the same matrices.

escnn is the optional 'steerable' extra, so this module is skipped without it (the loud
ImportError of the converters is tested in test_errors.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("escnn", reason="escnn is the optional extra symml[steerable]")

from escnn import group as escnn_groups  # noqa: E402

from symml.groups import (  # noqa: E402
    O2,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    Elements,
    FiniteGroup,
    Group,
    IrrepKey,
)
from symml.groups.counterparts import EscnnCounterpart  # noqa: E402
from symml.reps import (  # noqa: E402
    Rep,
    escnn_group,
    from_escnn,
    intertwiners,
    irrep,
    irrep_keys,
    quotient,
    regular,
    standard,
    to_escnn,
)
from symml.reps.interop import escnn_element  # noqa: E402

F64 = torch.float64
SEEDS = st.integers(0, 2**32 - 1)
# escnn's C_N / D_N irreps differ from the closed form by ~2e-8 (symml's agree with it to 1e-12,
# see test_irreps.py); representations it builds from a change of basis agree to ~1e-15
IRREP_ATOL = 1e-6
REP_ATOL = 1e-10
GROUPS: list[Group] = [Cyclic(5), Cyclic(6), Dihedral(5), Dihedral(6), SO2(), O2()]


def _elements(group: Group, seed: int) -> Elements:
    if isinstance(group, FiniteGroup):
        return group.elements()
    return group.sample(12, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _escnn_irrep_id(group: Group, key: IrrepKey) -> tuple[int, ...]:
    assert isinstance(group, EscnnCounterpart)
    return group.escnn_irrep_id(key)


def _escnn_matrices(escnn_rep: object, elements: list[object]) -> torch.Tensor:
    return torch.stack([torch.as_tensor(np.asarray(escnn_rep(e)), dtype=F64) for e in elements])  # type: ignore[operator]


@pytest.mark.parametrize("group", GROUPS, ids=str)
@settings(max_examples=5)
@given(seed=SEEDS)
def test_irreps_match_escnn(group: Group, seed: int) -> None:
    """Same ids, same matrices (hence the same basis) and the same characters."""
    eg = escnn_group(group, maximum_frequency=4)
    g = _elements(group, seed)
    els = escnn_element(group, g.data, eg)
    for key in irrep_keys(group, 4):
        ours = irrep(group, key)
        theirs = eg.irrep(*_escnn_irrep_id(group, key))
        assert theirs.size == ours.dim
        mats = _escnn_matrices(theirs, els)
        assert float((ours(g, dtype=F64) - mats).abs().max()) <= IRREP_ATOL
        chars = torch.tensor([float(theirs.character(e)) for e in els], dtype=F64)
        assert float((ours.character(g, dtype=F64) - chars).abs().max()) <= IRREP_ATOL


@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_irrep_types_match_escnn(group: Group) -> None:
    """dim End_G(ψ) (1: real type, 2: complex type) is escnn's ``sum_of_squares_constituents``."""
    eg = escnn_group(group, maximum_frequency=3)
    for key in irrep_keys(group, 3):
        psi = irrep(group, key)
        expected = eg.irrep(*_escnn_irrep_id(group, key)).sum_of_squares_constituents
        assert intertwiners(psi, psi).shape[0] == expected


TO_ESCNN = [
    regular(Dihedral(4)),
    irrep(SO2(), 1).tensor(irrep(SO2(), 2)),
    standard(O2()).tensor(standard(O2())),
    quotient(Dihedral(6), Cyclic(3)),
    regular(Cyclic(5)),
    standard(Dihedral(3)) + irrep(Dihedral(3), (1, 0)),
]


@pytest.mark.parametrize("rep", TO_ESCNN, ids=str)
@settings(max_examples=5)
@given(seed=SEEDS)
def test_to_escnn_has_the_same_matrices(rep: Rep, seed: int) -> None:
    e = to_escnn(rep)
    assert isinstance(e, escnn_groups.Representation)
    assert e.size == rep.dim
    g = _elements(rep.group, seed)
    mats = _escnn_matrices(e, escnn_element(rep.group, g.data, e.group))
    assert float((rep(g, dtype=F64) - mats).abs().max()) <= REP_ATOL


@pytest.mark.parametrize("rep", TO_ESCNN, ids=str)
def test_escnn_round_trip(rep: Rep) -> None:
    """``from_escnn(to_escnn(ρ))`` is ρ in its decomposed form: the same matrices."""
    back = from_escnn(to_escnn(rep))
    assert back.group == rep.group and back.dim == rep.dim
    g = _elements(rep.group, 0)
    assert float((back(g, dtype=F64) - rep(g, dtype=F64)).abs().max()) <= REP_ATOL


@pytest.mark.parametrize("group", [Cyclic(4), Cyclic(5), Dihedral(4), Dihedral(5)], ids=str)
def test_from_escnn_regular_representation(group: FiniteGroup) -> None:
    """escnn's regular representation (its own element order) comes back with equal matrices,
    and is equivalent to symml's (same character)."""
    eg = escnn_group(group)
    theirs = eg.regular_representation
    ours = from_escnn(theirs)
    g = group.elements()
    mats = _escnn_matrices(theirs, escnn_element(group, g.data, eg))
    assert float((ours(g, dtype=F64) - mats).abs().max()) <= REP_ATOL
    chi = regular(group).character(g, dtype=F64)
    assert float((ours.character(g, dtype=F64) - chi).abs().max()) <= REP_ATOL


def test_from_escnn_of_a_plain_irrep_sum_has_no_change_of_basis() -> None:
    eg = escnn_group(Dihedral(4))
    e = escnn_groups.directsum([eg.irrep(1, 1), eg.irrep(0, 0)])
    assert from_escnn(e) == irrep(Dihedral(4), (1, 1)) + irrep(Dihedral(4), (0, 0))


def test_escnn_errors() -> None:
    with pytest.raises(ValueError, match=r"escnn interop supports Cyclic, Dihedral, SO2 and O2"):
        escnn_group(SO3())
    with pytest.raises(ValueError, match=r"escnn interop supports.*got SO3\(\)"):
        to_escnn(standard(SO3()))
    so3 = escnn_groups.so3_group(1)
    with pytest.raises(
        ValueError, match=r"from_escnn: supports escnn.s CyclicGroup, DihedralGroup, SO2, O2"
    ):
        from_escnn(so3.standard_representation())
