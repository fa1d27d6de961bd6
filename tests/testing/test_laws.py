"""The law checkers themselves: they pass on real groups, representations and intertwiners, and
fail, naming the broken law, on deliberately broken ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from symml.groups import O3, SO3, Cyclic, Dihedral, E, Group, p4
from symml.reps import Rep, Standard, intertwiners, irrep, regular, standard, trivial
from symml.testing import assert_group_axioms, assert_homomorphism, assert_intertwiner


# ----- groups ------------------------------------------------------------------------------------
class _SkewCyclic(Cyclic):
    """``a·b = a + 2b``: no identity (e·b = 2b)."""

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return (a + 2 * b) % self.n

    def __repr__(self) -> str:
        return f"_SkewCyclic({self.n})"


class _SelfInverseCyclic(Cyclic):
    """Cyclic composition, but every element claims to be its own inverse."""

    def _inverse(self, a: Tensor) -> Tensor:
        return a


# A Latin square with identity 0 and a·a = 0: a loop of order 5 that is not associative (no group
# of order 5 has every element of order 2), e.g. (1·2)·4 = 1 but 1·(2·4) = 4.
_LOOP5 = torch.tensor(
    [[0, 1, 2, 3, 4], [1, 0, 3, 4, 2], [2, 4, 0, 1, 3], [3, 2, 4, 0, 1], [4, 3, 1, 2, 0]]
)


class _Loop5(Cyclic):
    """Identity, two-sided inverses and a Latin-square table, but not associative."""

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return _LOOP5[a, b]

    def _inverse(self, a: Tensor) -> Tensor:
        return a


@pytest.mark.parametrize("group", [Cyclic(5), Dihedral(4), SO3(), O3(), p4(), E(3)], ids=repr)
def test_group_axioms_pass_on_groups(group: Group) -> None:
    assert_group_axioms(group)


@pytest.mark.parametrize(
    ("group", "law"),
    [
        (_SkewCyclic(6), "identity"),
        (_SelfInverseCyclic(5), "inverse"),
    ],
    ids=["skew-compose", "self-inverse"],
)
def test_group_axioms_fail_on_broken_groups(group: Group, law: str) -> None:
    with pytest.raises(AssertionError, match=rf"^{law}: "):
        assert_group_axioms(group)


@pytest.mark.parametrize("seed", range(8))
def test_a_non_associative_loop_fails_for_every_seed(seed: int) -> None:
    # a sample of |G| triples can miss the failing ones; every triple of the table is checked
    with pytest.raises(AssertionError, match=r"^associativity: "):
        assert_group_axioms(_Loop5(5), seed=seed)


# ----- representations ---------------------------------------------------------------------------
class _TransposedStandard(Standard):
    """``g ↦ Rᵀ``: orthogonal, but an anti-homomorphism (ρ(gh) = ρ(h)ρ(g))."""

    def _matrices(self, data: Tensor) -> Tensor:
        return super()._matrices(data).transpose(-1, -2)


class _ScaledStandard(Standard):
    """``g ↦ 2R``: not orthogonal, and ρ(e) = 2I."""

    def _matrices(self, data: Tensor) -> Tensor:
        return 2 * super()._matrices(data)


class _WrongLieStandard(Standard):
    """Right matrices, but ``dρ`` of the opposite sign: the constraint used to solve for
    intertwiners would describe another representation."""

    def _lie(self) -> Tensor:
        return -super()._lie()


def _tensor_square(group: Group) -> Rep:
    return standard(group).tensor(standard(group))


@pytest.mark.parametrize(
    "rep",
    [
        standard(SO3()),
        irrep(SO3(), 2),
        _tensor_square(O3()),
        regular(Dihedral(4)),
        standard(E(3)),
    ],
    ids=str,
)
def test_homomorphism_passes_on_reps(rep: Rep) -> None:
    assert_homomorphism(rep)


@pytest.mark.parametrize(
    ("rep", "law"),
    [
        (_TransposedStandard(SO3()), "homomorphism"),
        (_TransposedStandard(Dihedral(4)), "homomorphism"),
        (_ScaledStandard(SO3()), "identity"),
        (_WrongLieStandard(SO3()), "Lie algebra"),
    ],
    ids=["transposed-SO3", "transposed-D4", "scaled", "wrong-lie"],
)
def test_homomorphism_fails_on_broken_reps(rep: Rep, law: str) -> None:
    with pytest.raises(AssertionError, match=rf"^{law} "):
        assert_homomorphism(rep)


# ----- intertwiners ------------------------------------------------------------------------------
def _intertwiner_cases() -> dict[str, tuple[Rep, Rep]]:
    t = _tensor_square(SO3())
    return {
        "regular_D4": (regular(Dihedral(4)), regular(Dihedral(4))),
        "SO3_tensor_square": (t, t.decompose().rep),
        "trace": (t, trivial(SO3())),
        "regular_C4_mean": (regular(Cyclic(4)), trivial(Cyclic(4))),
    }


CASES = _intertwiner_cases()


@pytest.mark.parametrize("case", list(CASES))
def test_intertwiner_basis_passes(case: str) -> None:
    rep_in, rep_out = CASES[case]
    basis = intertwiners(rep_in, rep_out)
    assert_intertwiner(basis, rep_in, rep_out)  # the whole basis [k, d_out, d_in]
    assert_intertwiner(basis[-1], rep_in, rep_out)  # one element
    coeffs = torch.randn(len(basis), generator=torch.Generator().manual_seed(0)).double()
    assert_intertwiner(torch.einsum("k,kij->ij", coeffs, basis), rep_in, rep_out)


@pytest.mark.parametrize("case", list(CASES))
def test_random_matrix_is_not_an_intertwiner(case: str) -> None:
    rep_in, rep_out = CASES[case]
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(rep_out.dim, rep_in.dim, generator=gen, dtype=torch.float64)
    with pytest.raises(AssertionError, match=r"^intertwiner ρ_out\(g\) W = W ρ_in\(g\): error"):
        assert_intertwiner(w, rep_in, rep_out)


def test_perturbed_basis_element_is_not_an_intertwiner() -> None:
    rep_in, rep_out = CASES["SO3_tensor_square"]
    w = intertwiners(rep_in, rep_out)[0]
    noise = torch.randn(w.shape, generator=torch.Generator().manual_seed(2), dtype=w.dtype)
    with pytest.raises(AssertionError, match="intertwiner"):
        assert_intertwiner(w + 1e-6 * noise, rep_in, rep_out)


def test_change_of_basis_intertwines_the_decomposition() -> None:
    rep = _tensor_square(SO3())
    dec = rep.decompose()
    assert_intertwiner(dec.change_of_basis, dec.rep, rep)  # ρ(g) Q = Q (⊕ψ)(g)


def test_intertwiner_of_the_wrong_shape() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"expected W of shape \[\.\.\., 1, 8\] \(got \[8, 8\]\)"):
        assert_intertwiner(torch.eye(8, dtype=torch.float64), rho, trivial(Dihedral(4)))
