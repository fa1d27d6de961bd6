"""The continuous rotation groups of the plane: SO2 (rotations) and O2 (with reflections).

Conventions as in `symml.groups.planar`. Real irreps (keys of `irrep_keys`, escnn's ids):
``SO2()``: frequency ``k >= 0``, ``θ ↦ R(kθ)``; ``O2()``: ``(0, 0)`` trivial, ``(1, 0)`` the
determinant, ``(1, k)`` for k >= 1: ``r_θ f^s ↦ R(kθ) F^s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from symml.groups._keys import FrequencyKeys, int_key, is_natural, need_bandlimit, pair_key
from symml.groups._tensors import float_tolerance, wrap_angle
from symml.groups.counterparts import EscnnCounterpart, EscnnGroupId
from symml.groups.group import Elements, Group, IrrepKey, _check_same_group
from symml.groups.planar import _FLIP, planar_irrep, rotation_matrices

_J = ((0.0, -1.0), (1.0, 0.0))  # the generator of so(2): d/dθ R(θ) at θ = 0


class _PlanarLieGroup(Group):
    point_dim = 2
    lie_algebra_dim = 1
    acts_on_images = True

    @property
    def order(self) -> None:
        return None

    @property
    def lie_algebra(self) -> Tensor:
        return torch.tensor([_J], dtype=torch.float64)

    def _grid_angles(self, steps: int, dtype: torch.dtype | None) -> Tensor:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"rotation_grid: expected steps >= 1 (got {steps!r})")
        # in float64 first, so that each angle is the float64 multiple rounded once to `dtype`
        angles = torch.arange(steps, dtype=torch.float64) * (2 * math.pi / steps)
        return angles.to(dtype or torch.get_default_dtype())

    def irrep_dim(self, key: IrrepKey) -> int:
        return 1 if self.irrep_frequency(key) == 0 else 2

    def irrep_lie(self, key: IrrepKey) -> Tensor:
        if self.irrep_dim(key) == 1:
            return torch.zeros(1, 1, 1, dtype=torch.float64)
        return self.irrep_frequency(key) * torch.tensor([_J], dtype=torch.float64)


@dataclass(frozen=True)
class SO2(FrequencyKeys, _PlanarLieGroup, EscnnCounterpart):
    """SO(2): rotations of the plane; an element is its angle θ (``[B]`` float, radians)."""

    escnn_class = "SO2"

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

    def exp(self, coeffs: Tensor) -> Elements:
        return self.element(coeffs[:, 0])

    def rotation_grid(self, steps: int, dtype: torch.dtype | None = None) -> Elements | None:
        return self.element(self._grid_angles(steps, dtype))

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        angle = data.double()
        return planar_irrep(angle, torch.zeros_like(angle), int_key(key), 0, 0)

    def irrep_frequency(self, key: IrrepKey) -> int:
        return int_key(key)

    def escnn_group_id(self, maximum_frequency: int) -> EscnnGroupId:
        return EscnnGroupId("so2_group", (maximum_frequency,), (None, -1))

    def escnn_elements(self, data: Tensor) -> list[Any]:
        return [float(t) for t in data.tolist()]

    def escnn_irrep_id(self, key: IrrepKey) -> tuple[int, ...]:
        return (int_key(key),)

    def irrep_key_from_escnn(self, irrep_id: tuple[int, ...]) -> IrrepKey:
        return irrep_id[0]

    @classmethod
    def from_escnn_order(cls, order: int) -> SO2:
        return cls()

    def __repr__(self) -> str:
        return "SO2()"


@dataclass(frozen=True)
class O2(_PlanarLieGroup, EscnnCounterpart):
    """O(2): rotations and reflections of the plane; an element ``r_θ f^s`` is stored as
    ``[s, θ]`` (``[B, 2]`` float, s ∈ {0, 1})."""

    escnn_class = "O2"

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

    def exp(self, coeffs: Tensor) -> Elements:
        return self.element(torch.stack([torch.zeros_like(coeffs[:, 0]), coeffs[:, 0]], -1))

    def rotation_grid(self, steps: int, dtype: torch.dtype | None = None) -> Elements | None:
        angles = self._grid_angles(steps, dtype)
        flips = torch.tensor([0.0, 1.0], dtype=angles.dtype)
        return self.element(torch.cartesian_prod(flips, angles))

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        keys: list[IrrepKey] = [(0, 0), (1, 0)]
        return keys + [(1, k) for k in range(1, need_bandlimit(self, bandlimit) + 1)]

    def is_irrep_key(self, key: object) -> bool:
        return key in ((0, 0), (1, 0)) or (
            isinstance(key, tuple) and len(key) == 2 and key[0] == 1 and is_natural(key[1])
        )

    @property
    def irrep_key_hint(self) -> str:
        return "expected (0, 0), (1, 0) or (1, k) with k >= 1"

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        j, k = pair_key(key)
        return planar_irrep(data[:, 1].double(), data[:, 0].double(), k, j, 0)

    def irrep_frequency(self, key: IrrepKey) -> int:
        return pair_key(key)[1]

    @property
    def trivial_irrep_key(self) -> IrrepKey:
        return (0, 0)

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        return (1, 0)

    def escnn_group_id(self, maximum_frequency: int) -> EscnnGroupId:
        return EscnnGroupId("o2_group", (maximum_frequency,), (0.0, -1))

    def escnn_elements(self, data: Tensor) -> list[Any]:
        return [(int(s), float(t)) for s, t in data.tolist()]

    def escnn_irrep_id(self, key: IrrepKey) -> tuple[int, ...]:
        return pair_key(key)

    def irrep_key_from_escnn(self, irrep_id: tuple[int, ...]) -> IrrepKey:
        return tuple(irrep_id)

    @classmethod
    def from_escnn_order(cls, order: int) -> O2:
        return cls()

    def __repr__(self) -> str:
        return "O2()"
