"""The Clebsch–Gordan solver symml puts in front of escnn's: bit-for-bit escnn's numbers for finite
groups, escnn's own solver for the rest, in place only while symml builds a steerable layer
(escnn's module is as installed before and after)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

escnn_group = pytest.importorskip("escnn.group")

from symml.groups import Dihedral  # noqa: E402
from symml.nn.cnn import SteerableConv2d, _escnn_cg  # noqa: E402
from symml.reps import irrep, regular  # noqa: E402

_CG_MODULE = importlib.import_module("escnn.group._clebsh_gordan")


def _escnn_cg_uncached(group: Any, first: Any, second: Any, out: Any) -> np.ndarray:
    """escnn's numerical solver itself, bypassing its on-disk cache (its ``.func``)."""
    solver = _escnn_cg.escnn_solver()
    return solver.func(first, second, out, group.__class__.__name__, **group._keys)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("n", [1, 3, 4, 5])
def test_dihedral_coefficients_are_escnns_bit_for_bit(n: int) -> None:
    group = escnn_group.dihedral_group(n)
    ids = [irrep.id for irrep in group.irreps()]
    name = group.__class__.__name__
    for first in ids:
        for second in ids:
            for out in ids:
                ours = _escnn_cg.clebsch_gordan(first, second, out, name, **group._keys)
                np.testing.assert_array_equal(ours, _escnn_cg_uncached(group, first, second, out))


def test_coefficients_decompose_the_tensor_product() -> None:
    """ψ_J ⊗ ψ_l = Σ_j CG_j ψ_j CG_jᵀ at every element of D6: the coefficients change the basis."""
    group = escnn_group.dihedral_group(6)
    irreps = group.irreps()
    keys = {"group_class": "DihedralGroup", **group._keys}
    for psi_J in irreps:
        for psi_l in irreps:
            blocks = [
                (psi_j, _escnn_cg.clebsch_gordan(psi_J.id, psi_l.id, psi_j.id, **keys))
                for psi_j in irreps
            ]
            for g in group.elements:
                product = np.kron(psi_J(g), psi_l(g))
                rebuilt = sum(
                    cg.reshape(product.shape[0], -1, psi_j.size)[:, s]
                    @ psi_j(g)
                    @ cg.reshape(product.shape[0], -1, psi_j.size)[:, s].T
                    for psi_j, cg in blocks
                    for s in range(cg.shape[2])
                )
                np.testing.assert_allclose(rebuilt, product, atol=1e-12)


def test_continuous_groups_go_to_escnns_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def recording_solver(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(args)
        return np.zeros((1, 1, 0, 1))

    monkeypatch.setitem(_escnn_cg._ESCNN_SOLVERS, "_clebsh_gordan_tensor", recording_solver)
    group = escnn_group.o2_group(4)
    trivial = group.trivial_representation.id
    result = _escnn_cg.clebsch_gordan(trivial, trivial, trivial, "O2", **group._keys)
    assert calls == [(trivial, trivial, trivial, "O2")]
    assert result.shape == (1, 1, 0, 1)


def _escnn_functions() -> tuple[Any, Any]:
    return _CG_MODULE._clebsh_gordan_tensor, _CG_MODULE._find_tensor_decomposition


def test_building_a_steerable_layer_uses_the_solver_and_leaves_escnn_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, solver = _escnn_functions(), _escnn_cg.clebsch_gordan
    calls: list[tuple[Any, ...]] = []

    def recording(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(args)
        return solver(*args, **kwargs)

    monkeypatch.setattr(_escnn_cg, "clebsch_gordan", recording)
    group = Dihedral(7)  # built nowhere else: escnn has no basis of it in memory yet
    SteerableConv2d(regular(group), irrep(group, (1, 2)) + regular(group), 3)
    assert calls and all(args[3] == "DihedralGroup" for args in calls)
    assert _escnn_functions() == before  # escnn's own functions again
    assert hasattr(_escnn_cg.escnn_solver(), "func")  # escnn's disk-cached solver


def test_solvers_nest_and_restore_escnn_even_after_an_error() -> None:
    before = _escnn_functions()
    ours = (_escnn_cg.clebsch_gordan, _escnn_cg.tensor_decomposition)
    with pytest.raises(RuntimeError, match="inside"), _escnn_cg.solvers():
        with _escnn_cg.solvers():
            assert _escnn_functions() == ours
        assert _escnn_functions() == ours  # the outer block still holds the patch
        assert _escnn_cg.escnn_solver() is before[0]
        raise RuntimeError("inside")
    assert _escnn_functions() == before


def test_tensor_decompositions_are_escnns() -> None:
    group = escnn_group.dihedral_group(6)
    escnn_decomposition = _escnn_cg.escnn_solver("_find_tensor_decomposition").func  # type: ignore[attr-defined]
    for first in group.irreps():
        for second in group.irreps():
            args = (first.id, second.id, "DihedralGroup")
            assert _escnn_cg.tensor_decomposition(*args, **group._keys) == escnn_decomposition(
                *args, **group._keys
            )
