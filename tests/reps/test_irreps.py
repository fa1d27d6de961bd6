"""The irreps against their closed forms: planar irreps as rotation matrices, SO(3) characters
by the Weyl formula, O(3) parity, the basis of l = 1, and the keys each group lists."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import O2, O3, SO2, SO3, Cyclic, Dihedral, Elements, Group, Permutations
from symml.reps import Rep, irrep, irrep_keys, standard

F64 = torch.float64
SEEDS = st.integers(0, 2**32 - 1)


def _sample(group: Group, n: int, seed: int) -> Elements:
    return group.sample(n, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _rot(angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


FLIP = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=F64)


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 8])
def test_cyclic_irreps_closed_form(n: int) -> None:
    """``r^m ↦ R(2πkm/N)``, or ``(-1)^m`` for k = N/2 and 1 for k = 0."""
    group = Cyclic(n)
    m = group.elements().data
    for k in irrep_keys(group):
        assert isinstance(k, int)
        mats = irrep(group, k)(group.elements(), dtype=F64)
        if k == 0 or 2 * k == n:
            expected = torch.cos(math.pi * m * (2 * k / n)).round()[:, None, None]
        else:
            expected = _rot(m.double() * (2 * math.pi * k / n))
        assert _err(mats, expected) <= 1e-12


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 8])
def test_dihedral_irreps_closed_form(n: int) -> None:
    """``r^m f^s ↦ R(2πkm/N) F^s`` for (1, k); (j, 0) is ``(-1)^{js}``; for even N,
    (j, N/2) is ``(-1)^m (-1)^{js}``."""
    group = Dihedral(n)
    s, m = group.split(group.elements())
    for key in irrep_keys(group):
        assert isinstance(key, tuple)
        j, k = key
        mats = irrep(group, key)(group.elements(), dtype=F64)
        flip_sign = (-1.0) ** (j * s).double()
        if k == 0 or 2 * k == n:
            expected = (flip_sign * (-1.0) ** (m * (2 * k // n)).double())[:, None, None]
        else:
            rot = _rot(m.double() * (2 * math.pi * k / n))
            expected = torch.where((s == 1)[:, None, None], rot @ FLIP, rot)
        assert _err(mats, expected) <= 1e-12


@pytest.mark.parametrize("k", range(1, 5))
def test_planar_lie_irreps_closed_form(k: int) -> None:
    """SO(2): ``θ ↦ R(kθ)``; O(2): ``r_θ f^s ↦ R(kθ) F^s``, and (1, 0) is the determinant."""
    theta = _sample(SO2(), 16, k).data
    rot = _rot(k * theta)
    assert _err(irrep(SO2(), k)(SO2().element(theta), dtype=F64), rot) <= 1e-12
    g = _sample(O2(), 16, k)
    s, t = O2().split(g)
    rot_o2 = _rot(k * t)
    expected = torch.where((s == 1)[:, None, None], rot_o2 @ FLIP, rot_o2)
    assert _err(irrep(O2(), (1, k))(g, dtype=F64), expected) <= 1e-12
    det = torch.linalg.det(O2().matrices(g, dtype=F64))
    assert _err(irrep(O2(), (1, 0))(g, dtype=F64)[:, 0, 0], det) <= 1e-12


def _rotation_angle(r: torch.Tensor) -> torch.Tensor:
    cos = ((torch.diagonal(r, dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.arccos(cos)


@pytest.mark.parametrize("l", range(5))
@given(seed=SEEDS)
def test_so3_characters_weyl(l: int, seed: int) -> None:  # noqa: E741 - the degree
    """χ_l(R) = Σ_{m=-l..l} cos(mθ) for a rotation by θ: an independent check of the Wigner D."""
    g = _sample(SO3(), 16, seed)
    theta = _rotation_angle(g.data)
    expected = sum(torch.cos(m * theta) for m in range(-l, l + 1))
    assert _err(irrep(SO3(), l).character(g), torch.as_tensor(expected, dtype=F64)) <= 1e-6


def _half_turns(n: int, seed: int, extra: float = 0.0) -> torch.Tensor:
    """Rotations by π - extra about random axes (Rodrigues), where the angle is hardest."""
    u = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)
    u = u / u.norm(dim=-1, keepdim=True)
    k = torch.zeros(n, 3, 3, dtype=F64)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -u[:, 2], u[:, 1], -u[:, 0]
    k = k - k.transpose(-1, -2)
    angle = math.pi - extra
    return torch.eye(3, dtype=F64) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


@pytest.mark.parametrize("l", range(5))
@given(seed=SEEDS)
def test_so3_irreps_at_half_turns(l: int, seed: int) -> None:  # noqa: E741 - the degree
    """At half turns ρ(R)² = I and ρ(R) = ρ(R)ᵀ; a turn 1e-9 short of π moves ρ by O(1e-9)."""
    rep = irrep(SO3(), l)
    half = rep(SO3().element(_half_turns(6, seed)), dtype=F64)
    eye = torch.eye(rep.dim, dtype=F64).expand_as(half)
    assert _err(half @ half, eye) <= 1e-10
    assert _err(half, half.transpose(-1, -2)) <= 1e-10
    near = rep(SO3().element(_half_turns(6, seed, extra=1e-9)), dtype=F64)
    assert _err(near, half) <= 1e-7


@pytest.mark.parametrize("l", range(5))
@pytest.mark.parametrize("p", [1, -1])
def test_o3_parity(l: int, p: int) -> None:  # noqa: E741 - the degree
    """The inversion -I acts on the O(3) irrep (l, p) as p·I; on rotations it is the SO(3) irrep
    l."""
    rep = irrep(O3(), (l, p))
    inversion = O3().element(-torch.eye(3, dtype=F64))
    assert _err(rep(inversion, dtype=F64)[0], p * torch.eye(rep.dim, dtype=F64)) == 0.0
    g = _sample(SO3(), 8, l)
    assert _err(rep.restrict(SO3())(g, dtype=F64), irrep(SO3(), l)(g, dtype=F64)) == 0.0
    reflections = O3().element(-g.data)
    expected = p * irrep(SO3(), l)(g, dtype=F64)
    assert _err(rep(reflections, dtype=F64), expected) <= 1e-12


def test_l1_is_the_standard_rep() -> None:
    """The l = 1 irreps use the basis (x, y, z): the vector of O(3) is (1, -1), e3nn's 1o."""
    g = _sample(O3(), 16, 0)
    assert _err(irrep(O3(), (1, -1))(g, dtype=F64), standard(O3())(g, dtype=F64)) <= 1e-12
    r = _sample(SO3(), 16, 0)
    assert _err(irrep(SO3(), 1)(r, dtype=F64), standard(SO3())(r, dtype=F64)) <= 1e-12


@pytest.mark.parametrize(
    ("group", "count"),
    [
        (Cyclic(1), 1),
        (Cyclic(6), 4),
        (Cyclic(7), 4),
        (Dihedral(1), 2),
        (Dihedral(2), 4),
        (Dihedral(5), 4),
        (Dihedral(6), 6),
        (Permutations(4), 5),
        (Permutations(5), 7),
    ],
    ids=str,
)
def test_irrep_keys_of_finite_groups(group: Group, count: int) -> None:
    """Every real irrep is listed once: Σ d_ψ² / dim End(ψ) = |G| (Burnside over the reals)."""
    keys = irrep_keys(group)
    assert len(keys) == len(set(keys)) == count
    total = 0.0
    for key in keys:
        psi = irrep(group, key)
        complex_type = isinstance(group, Cyclic) and psi.dim == 2
        total += psi.dim**2 / (2 if complex_type else 1)
    assert total == group.order


@pytest.mark.parametrize(
    ("group", "keys"),
    [
        (SO2(), [0, 1, 2]),
        (O2(), [(0, 0), (1, 0), (1, 1), (1, 2)]),
        (SO3(), [0, 1, 2]),
        (O3(), [(0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1)]),
    ],
    ids=str,
)
def test_irrep_keys_with_bandlimit(group: Group, keys: list[object]) -> None:
    assert irrep_keys(group, 2) == keys


def test_keys_given_as_lists_are_normalised() -> None:
    """A list key (as read from JSON/YAML) names the same irrep as the tuple."""
    assert irrep(Dihedral(4), [1, 1]) == irrep(Dihedral(4), (1, 1))
    assert hash(irrep(O3(), [2, -1])) == hash(irrep(O3(), (2, -1)))
    assert irrep(Permutations(3), [2, 1]) == irrep(Permutations(3), (2, 1))


@pytest.mark.parametrize(
    ("rep", "dim"),
    [
        (irrep(Cyclic(6), 3), 1),
        (irrep(Cyclic(6), 2), 2),
        (irrep(Dihedral(6), (1, 3)), 1),
        (irrep(Dihedral(5), (1, 2)), 2),
        (irrep(SO2(), 0), 1),
        (irrep(O2(), (1, 3)), 2),
        (irrep(SO3(), 4), 9),
        (irrep(O3(), (3, -1)), 7),
        (irrep(Permutations(5), (3, 2)), 5),
        (irrep(Permutations(5), (3, 1, 1)), 6),
    ],
    ids=str,
)
def test_irrep_dims(rep: Rep, dim: int) -> None:
    assert rep.dim == dim
