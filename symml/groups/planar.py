"""Rotation and reflection groups of the plane, finite ones: Trivial, Cyclic(n), Dihedral(n)
(SO2 and O2 are in `symml.groups.planar_lie`).

Conventions (shared with the image action, the real irreps and escnn):
``r`` rotates the plane counter-clockwise by 2π/n, ``f`` is the reflection ``(x, y) ↦ (x, -y)``,
and a dihedral / O(2) element ``r^k f^s`` applies the reflection first.

Real irreps (the keys of `irrep_keys`), escnn's ids and matrices:

- ``Cyclic(N)``: ``k`` in 0..N//2: ``r ↦ R(2πk/N)`` (2-D), or ``(-1)`` for k = N/2, 1 for k = 0.
- ``Dihedral(N)``: ``(j, k)``: ``(0, 0)`` trivial, ``(1, 0)`` sign of the reflection, ``(1, k)``
  2-D for 0 < k < N/2 with ``r^m f^s ↦ R(2πkm/N) F^s``, and for even N ``(j, N/2)``: ``r ↦ -1``,
  ``f ↦ (-1)^j``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from symml.groups._keys import int_key, pair_key
from symml.groups.counterparts import EscnnCounterpart, EscnnGroupId
from symml.groups.finite import IndexedGroup
from symml.groups.group import Elements, IrrepKey, _check_same_group

_FLIP = ((1.0, 0.0), (0.0, -1.0))


def rotation_matrices(theta: Tensor) -> Tensor:
    """``[B] -> [B, 2, 2]`` counter-clockwise rotations."""
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _clean(m: Tensor) -> Tensor:
    # cos(π/2) = 6e-17 in float64: snap such values so quarter turns are exact permutations
    return torch.where(m.abs() < 1e-12, torch.zeros_like(m), m)


def _check_n(n: int, name: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name}: expected an integer n >= 1 (got {n!r})")


def planar_irrep(angle: Tensor, flip: Tensor, k: int, j: int, n: int) -> Tensor:
    """The planar irrep ``(j, k)`` at elements given as rotation angle and reflection flag
    (``[B]`` float64 each): ``R(kθ) F^s``, or the one-dimensional ``(-1)^{js}`` for k = 0 and
    ``cos(kθ) (-1)^{js}`` for k = n/2 (``n``: the order of the rotations, 0 for SO(2) / O(2)).
    Returns ``[B, d, d]`` float64."""
    sign = 1.0 - 2.0 * flip * (1 if j == 1 else 0)
    if k == 0:
        return sign[:, None, None]
    if n and 2 * k == n:
        return (torch.cos(angle * k).round() * sign)[:, None, None]
    rot = rotation_matrices(angle * k)
    f = torch.tensor(_FLIP, dtype=torch.float64, device=angle.device)
    out = torch.where((flip == 1)[:, None, None], rot @ f, rot)
    return _clean(out)


@dataclass(frozen=True)
class Trivial(IndexedGroup):
    """The group with one element."""

    point_dim = None
    acts_on_images = True

    @property
    def order(self) -> int:
        return 1

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return a

    def _inverse(self, a: Tensor) -> Tensor:
        return a

    def _generators(self) -> Tensor:
        return torch.zeros(0, dtype=torch.long)

    def __repr__(self) -> str:
        return "Trivial()"


@dataclass(frozen=True)
class Cyclic(IndexedGroup, EscnnCounterpart):
    """C_n: rotations of the plane by multiples of 2π/n. Element ``k`` is ``r^k``."""

    n: int
    point_dim = 2
    acts_on_images = True
    escnn_class = "CyclicGroup"

    def __post_init__(self) -> None:
        _check_n(self.n, "Cyclic")

    @property
    def order(self) -> int:
        return self.n

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return (a + b) % self.n

    def _inverse(self, a: Tensor) -> Tensor:
        return (-a) % self.n

    def _generators(self) -> Tensor:
        return torch.tensor([1] if self.n > 1 else [], dtype=torch.long)

    def angles(self, g: Elements) -> Tensor:
        """Rotation angles ``[B]`` (float64) of the elements."""
        _check_same_group(self, g, "angles")
        return g.data.double() * (2 * math.pi / self.n)

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        return _clean(rotation_matrices(self.angles(g))).to(dtype or torch.get_default_dtype())

    def describe(self, data: Tensor) -> str:
        return "[" + ", ".join(f"r^{k}" for k in data.tolist()) + "]"

    def rotation_grid(self, steps: int, dtype: torch.dtype | None = None) -> Elements | None:
        return self.elements()

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return list(range(self.n // 2 + 1))

    def irrep_dim(self, key: IrrepKey) -> int:
        return 1 if key == 0 or 2 * int_key(key) == self.n else 2

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        angle = data.double() * (2 * math.pi / self.n)
        return planar_irrep(angle, torch.zeros_like(angle), int_key(key), 0, self.n)

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        return self.n // 2 if self.n % 2 == 0 else None

    def escnn_group_id(self, maximum_frequency: int) -> EscnnGroupId:
        return EscnnGroupId("cyclic_group", (self.n,), (None, self.n))

    def escnn_elements(self, data: Tensor) -> list[Any]:
        return [int(k) for k in data.tolist()]

    def escnn_irrep_id(self, key: IrrepKey) -> tuple[int, ...]:
        return (int_key(key),)

    def irrep_key_from_escnn(self, irrep_id: tuple[int, ...]) -> IrrepKey:
        return irrep_id[0]

    @classmethod
    def from_escnn_order(cls, order: int) -> Cyclic:
        return cls(order)

    def __repr__(self) -> str:
        return f"Cyclic({self.n})"


@dataclass(frozen=True)
class Dihedral(IndexedGroup, EscnnCounterpart):
    """D_n: the 2n symmetries of the regular n-gon. Element ``s*n + k`` is ``r^k f^s``."""

    n: int
    point_dim = 2
    acts_on_images = True
    escnn_class = "DihedralGroup"

    def __post_init__(self) -> None:
        _check_n(self.n, "Dihedral")

    @property
    def order(self) -> int:
        return 2 * self.n

    def split(self, g: Elements) -> tuple[Tensor, Tensor]:
        """``(s, k)``: the reflection flag and rotation index of ``r^k f^s``."""
        _check_same_group(self, g, "split")
        return g.data // self.n, g.data % self.n

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        sa, ka = a // self.n, a % self.n
        sb, kb = b // self.n, b % self.n
        k = (ka + (1 - 2 * sa) * kb) % self.n
        return ((sa + sb) % 2) * self.n + k

    def _inverse(self, a: Tensor) -> Tensor:
        s, k = a // self.n, a % self.n
        return torch.where(s == 1, a, (-k) % self.n)

    def _generators(self) -> Tensor:
        return torch.tensor([1, self.n] if self.n > 1 else [self.n], dtype=torch.long)

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        s, k = self.split(g)
        rot = rotation_matrices(k.double() * (2 * math.pi / self.n))
        flip = torch.tensor(_FLIP, dtype=torch.float64)
        m = torch.where((s == 1)[:, None, None], rot @ flip, rot)
        return _clean(m).to(dtype or torch.get_default_dtype())

    def describe(self, data: Tensor) -> str:
        parts = [f"r^{k % self.n}" + (" f" if k >= self.n else "") for k in data.tolist()]
        return "[" + ", ".join(parts) + "]"

    def rotation_grid(self, steps: int, dtype: torch.dtype | None = None) -> Elements | None:
        return self.elements()

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        n = self.n
        keys: list[IrrepKey] = [(0, 0), (1, 0)]
        keys += [(1, k) for k in range(1, (n + 1) // 2)]
        return keys + ([(0, n // 2), (1, n // 2)] if n % 2 == 0 else [])

    def irrep_dim(self, key: IrrepKey) -> int:
        k = pair_key(key)[1]
        return 1 if k == 0 or 2 * k == self.n else 2

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        s, m = data // self.n, data % self.n
        j, k = pair_key(key)
        angle = m.double() * (2 * math.pi / self.n)
        return planar_irrep(angle, s.double(), k, j, self.n)

    @property
    def trivial_irrep_key(self) -> IrrepKey:
        return (0, 0)

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        return (1, 0)

    def escnn_group_id(self, maximum_frequency: int) -> EscnnGroupId:
        return EscnnGroupId("dihedral_group", (self.n,), (0.0, self.n))

    def escnn_elements(self, data: Tensor) -> list[Any]:
        return [(int(i) // self.n, int(i) % self.n) for i in data.tolist()]

    def escnn_irrep_id(self, key: IrrepKey) -> tuple[int, ...]:
        return pair_key(key)

    def irrep_key_from_escnn(self, irrep_id: tuple[int, ...]) -> IrrepKey:
        return tuple(irrep_id)

    @classmethod
    def from_escnn_order(cls, order: int) -> Dihedral:
        return cls(order // 2)

    def __repr__(self) -> str:
        return f"Dihedral({self.n})"
