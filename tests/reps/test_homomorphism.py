"""Every representation symml builds is an orthogonal homomorphism: ρ(gh) = ρ(g)ρ(h), ρ(e) = I,
ρ(g⁻¹) = ρ(g)ᵀ, checked in float64 on elements drawn from hypothesis seeds (and, for finite groups,
on every pair of elements)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
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
    Quaternion,
    SpecialOrthogonal,
    Trivial,
    inclusion,
    p4,
    p4m,
)
from symml.reps import (
    Rep,
    change_basis,
    irrep,
    irrep_keys,
    pullback,
    quotient,
    regular,
    sign,
    standard,
    trivial,
)
from symml.testing.laws import assert_homomorphism

ATOL = 1e-10
F64 = torch.float64
SEEDS = st.integers(0, 2**32 - 1)


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    """A seeded random orthogonal ``[d, d]`` float64 matrix (QR of a Gaussian)."""
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return torch.linalg.qr(a)[0]


def _all_irreps(group: Group, bandlimit: int | None = None) -> list[Rep]:
    return [irrep(group, key) for key in irrep_keys(group, bandlimit)]


IRREPS: list[Rep] = [
    *(r for n in (1, 2, 3, 4, 5, 6, 8) for r in _all_irreps(Cyclic(n))),
    *(r for n in (1, 2, 3, 4, 5, 6, 8) for r in _all_irreps(Dihedral(n))),
    *_all_irreps(SO2(), 4),
    *_all_irreps(O2(), 4),
    *_all_irreps(SO3(), 4),
    *_all_irreps(O3(), 4),
    *(r for n in range(1, 6) for r in _all_irreps(Permutations(n))),
    *_all_irreps(Quaternion()),
]

BASIC: list[Rep] = [
    *(trivial(g) for g in (Cyclic(4), Dihedral(3), SO2(), O2(), SO3(), O3(), Permutations(4))),
    *(sign(g) for g in (Cyclic(4), Dihedral(5), O2(), O3(), Permutations(4), Orthogonal(4))),
    *(
        standard(g)
        for g in (
            Cyclic(6),
            Dihedral(5),
            SO2(),
            O2(),
            SO3(),
            O3(),
            Permutations(5),
            SpecialOrthogonal(4),
            Orthogonal(5),
        )
    ),
    *(regular(g) for g in (Trivial(), Cyclic(1), Cyclic(7), Dihedral(4), Dihedral(5))),
    regular(Permutations(4)),
    standard(Quaternion()),
    regular(Quaternion()),
    quotient(Cyclic(6), Cyclic(2)),
    quotient(Dihedral(6), Cyclic(3)),
    quotient(Dihedral(6), Dihedral(2)),
    quotient(Dihedral(5), Dihedral(1)),
    quotient(Dihedral(8), Cyclic(2)),
]

COMPOSITE: list[Rep] = [
    # direct sums and k * rep
    irrep(SO3(), 1) + irrep(SO3(), 2),
    trivial(Dihedral(4)) + regular(Dihedral(4)) + standard(Dihedral(4)),
    3 * standard(O3()),
    irrep(SO2(), 3) * 2,
    2 * irrep(Permutations(4), (2, 2)) + sign(Permutations(4)),
    # tensor products
    standard(SO3()).tensor(irrep(SO3(), 2)),
    irrep(O3(), (1, -1)).tensor(irrep(O3(), (2, -1))),
    regular(Dihedral(4)).tensor(standard(Dihedral(4))),
    standard(Permutations(4)).tensor(standard(Permutations(4))),
    irrep(SO2(), 1).tensor(irrep(SO2(), 3)),
    standard(O2()).tensor(standard(O2())).tensor(irrep(O2(), (1, 2))),
    standard(SpecialOrthogonal(4)).tensor(standard(SpecialOrthogonal(4))),
    standard(Orthogonal(5)).tensor(standard(Orthogonal(5))),
    # duals
    regular(Dihedral(4)).dual(),
    irrep(O3(), (2, -1)).dual(),
    standard(SO2()).tensor(irrep(SO2(), 2)).dual(),
    # restrictions
    irrep(SO3(), 2).restrict(SO2()),
    standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 0.0, 0.0))),
    standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 2.0, 3.0))),
    irrep(O3(), (2, -1)).restrict(inclusion(Dihedral(4), O3(), axis=(0.0, 1.0, 1.0))),
    irrep(SO3(), 3).restrict(inclusion(Cyclic(5), SO3(), axis=(0.3, -0.2, 0.9))),
    irrep(O3(), (3, 1)).restrict(SO3()),
    regular(Dihedral(8)).restrict(Cyclic(4)),
    regular(Dihedral(6)).restrict(Dihedral(3)),
    irrep(O2(), (1, 2)).restrict(Dihedral(6)),
    irrep(SO2(), 3).restrict(Cyclic(5)),
    # changes of basis
    change_basis(irrep(SO3(), 2), _orthogonal(5, 0)),
    change_basis(regular(Cyclic(4)), torch.eye(4, dtype=F64)[[1, 3, 0, 2]]),
    change_basis(standard(O2()).tensor(standard(O2())), _orthogonal(4, 1)),
    # pull-backs to groups with translations
    standard(E(3)),
    standard(E(2)),
    irrep(E(3), (2, -1)),
    standard(SE(3)).tensor(standard(SE(3))),
    standard(E(3)).restrict(SE(3)),
    change_basis(standard(E(3)), _orthogonal(3, 2)),
    trivial(p4()),
    pullback(regular(Cyclic(4)), p4()),
    pullback(regular(Dihedral(4)), p4m()),
    pullback(quotient(Dihedral(4), Cyclic(2)), p4m()),
    irrep(p4m(), (1, 1)),
]

REPS = IRREPS + BASIC + COMPOSITE
FINITE = [r for r in REPS if isinstance(r.group, FiniteGroup)]


def _id(rep: Rep) -> str:
    text = str(rep)
    return text if len(text) <= 70 else text[:67] + "..."


def _sample(group: Group, n: int, seed: int) -> Elements:
    return group.sample(n, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max()) if a.numel() else 0.0


def _check_laws(rep: Rep, g: Elements, h: Elements) -> None:
    """The laws written out: ρ(gh) = ρ(g)ρ(h), ρ(e) = I, ρ(g⁻¹) = ρ(g)ᵀ = ρ(g)⁻¹."""
    rg, rh = rep(g, dtype=F64), rep(h, dtype=F64)
    eye = torch.eye(rep.dim, dtype=F64)
    assert rg.shape == (len(g), rep.dim, rep.dim) and rg.dtype == F64
    assert _max_err(rep(g @ h, dtype=F64), rg @ rh) <= ATOL, "homomorphism"
    assert _max_err(rep(rep.group.identity(1), dtype=F64)[0], eye) <= ATOL, "identity"
    assert _max_err(rep(~g, dtype=F64), rg.transpose(-1, -2)) <= ATOL, "inverse"
    assert _max_err(rg @ rg.transpose(-1, -2), eye.expand_as(rg)) <= ATOL, "orthogonality"


@pytest.mark.parametrize("rep", REPS, ids=_id)
@settings(max_examples=10)
@given(seed=SEEDS)
def test_homomorphism_law(rep: Rep, seed: int) -> None:
    _check_laws(rep, _sample(rep.group, 8, seed), _sample(rep.group, 8, seed + 1))


@pytest.mark.parametrize("rep", REPS, ids=_id)
def test_assert_homomorphism(rep: Rep) -> None:
    """The library's checker agrees (it also checks dρ against ρ near the identity)."""
    assert_homomorphism(rep, n=16, atol=ATOL, seed=0)


@pytest.mark.parametrize("rep", FINITE, ids=_id)
def test_homomorphism_on_all_pairs(rep: Rep) -> None:
    """Finite groups: ρ(g_i g_j) = ρ(g_i)ρ(g_j) for every pair, through the Cayley table."""
    group = rep.group
    assert isinstance(group, FiniteGroup)
    mats = rep(group.elements(), dtype=F64)
    products = mats[group.cayley_table]  # [|G|, |G|, d, d]: ρ(g_i g_j)
    assert _max_err(products, mats[:, None] @ mats[None]) <= ATOL
    assert _max_err(mats[group.inverse_table], mats.transpose(-1, -2)) <= ATOL


@pytest.mark.parametrize("rep", REPS, ids=_id)
def test_float32_matches_float64(rep: Rep) -> None:
    """``dtype=float32`` gives the float64 matrices rounded, and float32 elements give float32
    matrices by default."""
    group = rep.group
    g = _sample(group, 8, 0)
    m64 = rep(g, dtype=F64)
    m32 = rep(g, dtype=torch.float32)
    assert m32.dtype == torch.float32
    assert _max_err(m32.double(), m64) <= 1e-6
    g32 = group.sample(8, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    assert rep(g32).dtype == torch.float32  # float elements keep their dtype; indices: default
    assert _max_err(rep(g32).double(), rep(g32, dtype=F64)) <= 1e-6


@dataclass(frozen=True, repr=False)
class _Transposed(Rep):
    """g ↦ ρ(g)ᵀ = ρ(g⁻¹): an anti-homomorphism, which the checks must reject when G is not
    abelian (a negative control: the tests above can fail)."""

    rep: Rep

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.rep.group

    @property
    def dim(self) -> int:
        return self.rep.dim

    def _matrices(self, data: torch.Tensor) -> torch.Tensor:
        return self.rep._matrices(data).transpose(-1, -2)

    def _lie(self) -> torch.Tensor:
        return self.rep._lie().transpose(-1, -2)

    @property
    def bandlimit(self) -> int:
        return self.rep.bandlimit

    @property
    def is_permutation(self) -> bool:
        return self.rep.is_permutation

    def _expr(self) -> str:
        return f"transposed({self.rep})"


@pytest.mark.parametrize(
    "rep", [irrep(Dihedral(4), (1, 1)), irrep(SO3(), 2), regular(Permutations(3))], ids=str
)
def test_checks_reject_an_anti_homomorphism(rep: Rep) -> None:
    broken = _Transposed(rep)
    g, h = _sample(rep.group, 8, 0), _sample(rep.group, 8, 1)
    with pytest.raises(AssertionError, match="homomorphism"):
        _check_laws(broken, g, h)
    with pytest.raises(AssertionError, match=r"homomorphism ρ\(gh\) = ρ\(g\)ρ\(h\)"):
        assert_homomorphism(broken, atol=ATOL)
