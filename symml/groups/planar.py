"""Rotation and reflection groups of the plane: Trivial, Cyclic(n), Dihedral(n), SO2, O2.

Conventions (shared with the image action and the real irreps in `symml.reps`):
``r`` rotates the plane counter-clockwise by 2π/n, ``f`` is the reflection ``(x, y) ↦ (x, -y)``,
and a dihedral / O(2) element ``r^k f^s`` applies the reflection first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups.finite import IndexedGroup
from symml.groups.group import Elements, Group, _check_same_group, float_tolerance, wrap_angle

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


@dataclass(frozen=True)
class Trivial(IndexedGroup):
    """The group with one element."""

    point_dim = None

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
class Cyclic(IndexedGroup):
    """C_n: rotations of the plane by multiples of 2π/n. Element ``k`` is ``r^k``."""

    n: int
    point_dim = 2

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

    def __repr__(self) -> str:
        return f"Cyclic({self.n})"


@dataclass(frozen=True)
class Dihedral(IndexedGroup):
    """D_n: the 2n symmetries of the regular n-gon. Element ``s*n + k`` is ``r^k f^s``."""

    n: int
    point_dim = 2

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

    def __repr__(self) -> str:
        return f"Dihedral({self.n})"


class _PlanarLieGroup(Group):
    point_dim = 2
    lie_algebra_dim = 1

    @property
    def order(self) -> None:
        return None

    @property
    def lie_algebra(self) -> Tensor:
        return torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64)


@dataclass(frozen=True)
class SO2(_PlanarLieGroup):
    """SO(2): rotations of the plane; an element is its angle θ (``[B]`` float, radians)."""

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.zeros(n, device=device)

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return wrap_angle(a + b)

    def _inverse(self, a: Tensor) -> Tensor:
        return wrap_angle(-a)

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        d = wrap_angle(a - b)
        return torch.minimum(d, 2 * math.pi - d) < float_tolerance(a.dtype)

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 0:
            data = data.reshape(1)
        if data.dim() != 1:
            raise ValueError(
                f"SO2().element: expected angles of shape [B] (got {list(data.shape)})"
            )
        return data if data.is_floating_point() else data.to(torch.get_default_dtype())

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        return (torch.rand(n, generator=generator, dtype=torch.float64) * (2 * math.pi)).to(device)

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        _check_same_group(self, g, "matrices")
        return rotation_matrices(g.data).to(dtype or g.data.dtype)

    def __repr__(self) -> str:
        return "SO2()"


@dataclass(frozen=True)
class O2(_PlanarLieGroup):
    """O(2): rotations and reflections of the plane; an element ``r_θ f^s`` is stored as
    ``[s, θ]`` (``[B, 2]`` float, s ∈ {0, 1})."""

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.zeros(n, 2, device=device)

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        s = torch.remainder(a[:, 0] + b[:, 0], 2)
        theta = wrap_angle(a[:, 1] + (1 - 2 * a[:, 0]) * b[:, 1])
        return torch.stack([s, theta], -1)

    def _inverse(self, a: Tensor) -> Tensor:
        return torch.stack([a[:, 0], wrap_angle(-(1 - 2 * a[:, 0]) * a[:, 1])], -1)

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        d = wrap_angle(a[:, 1] - b[:, 1])
        close = torch.minimum(d, 2 * math.pi - d) < float_tolerance(a.dtype)
        return close & (a[:, 0] == b[:, 0])

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 1 and data.shape[0] == 2:
            data = data.reshape(1, 2)
        if data.dim() != 2 or data.shape[1] != 2:
            raise ValueError(
                f"O2().element: expected [s, θ] pairs of shape [B, 2] (got {list(data.shape)})"
            )
        data = data if data.is_floating_point() else data.to(torch.get_default_dtype())
        if not bool(((data[:, 0] == 0) | (data[:, 0] == 1)).all()):
            raise ValueError("O2().element: expected the reflection flag s (column 0) in {0, 1}")
        return data

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        s = torch.randint(2, (n,), generator=generator).double()
        theta = torch.rand(n, generator=generator, dtype=torch.float64) * (2 * math.pi)
        return torch.stack([s, theta], -1).to(device)

    def _generators(self) -> Tensor:
        return torch.tensor([[1.0, 0.0]])

    def split(self, g: Elements) -> tuple[Tensor, Tensor]:
        """``(s, θ)`` of ``r_θ f^s``."""
        _check_same_group(self, g, "split")
        return g.data[:, 0], g.data[:, 1]

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        s, theta = self.split(g)
        flip = torch.tensor(_FLIP, dtype=theta.dtype, device=theta.device)
        rot = rotation_matrices(theta)
        return torch.where((s == 1)[:, None, None], rot @ flip, rot).to(dtype or theta.dtype)

    def describe(self, data: Tensor) -> str:
        parts = [f"r({t:.4g})" + (" f" if s else "") for s, t in data.tolist()]
        return "[" + ", ".join(parts) + "]"

    def __repr__(self) -> str:
        return "O2()"
