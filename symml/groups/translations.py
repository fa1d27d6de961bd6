"""Translation groups: R^d acting on points, Z^d acting on pixel grids."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups._tensors import float_tolerance
from symml.groups.group import Elements, Group, _check_same_group

LATTICE_SAMPLE_RANGE = 4
"""`Translations(d, lattice=True).sample` draws integer shifts uniformly in [-4, 4]^d."""


@dataclass(frozen=True)
class Translations(Group):
    """Translations of R^d (``lattice=False``, elements ``[B, d]`` float) or of the grid Z^d
    (``lattice=True``, elements ``[B, d]`` long). Non-compact: `sample` draws a standard normal
    (R^d) or uniform integers in [-4, 4]^d (Z^d), not a Haar measure."""

    d: int
    lattice: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.d, int) or isinstance(self.d, bool) or self.d < 1:
            raise ValueError(f"Translations: expected d >= 1 (got {self.d!r})")

    @property
    def point_dim(self) -> int:  # type: ignore[override]
        return self.d

    @property
    def order(self) -> None:
        return None

    @property
    def standard_dim(self) -> None:
        return None  # translations act affinely: no linear standard representation

    @property
    def acts_on_images(self) -> bool:  # type: ignore[override]
        return self.lattice and self.d == 2

    def _dtype(self) -> torch.dtype:
        return torch.long if self.lattice else torch.get_default_dtype()

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.zeros(n, self.d, dtype=self._dtype(), device=device)

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b

    def _inverse(self, a: Tensor) -> Tensor:
        return -a

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        if self.lattice:
            return (a == b).all(1)
        return (a - b).abs().amax(1) < float_tolerance(a.dtype)

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 1 and data.shape[0] == self.d:
            data = data[None]
        if data.dim() != 2 or data.shape[1] != self.d:
            raise ValueError(
                f"{self!r}.element: expected translation vectors of shape [B, {self.d}] "
                f"(got {list(data.shape)})"
            )
        if self.lattice:
            if data.is_floating_point() and not bool((data == data.round()).all()):
                raise ValueError(
                    f"{self!r}.element: expected integer shifts on the lattice Z^{self.d}"
                )
            return data.long()
        return data if data.is_floating_point() else data.to(torch.get_default_dtype())

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        if self.lattice:
            r = LATTICE_SAMPLE_RANGE
            return torch.randint(-r, r + 1, (n, self.d), generator=generator).to(device)
        return torch.randn(n, self.d, generator=generator, dtype=torch.float64).to(device)

    def _generators(self) -> Tensor:
        eye = torch.eye(self.d, dtype=self._dtype())
        return eye if self.lattice else eye[:0]

    def act_on_points(self, g: Elements, x: Tensor) -> Tensor:
        _check_same_group(self, g, "act_on_points")
        if x.shape[-1] != self.d:
            raise ValueError(
                f"act_on_points: expected points with last dimension {self.d} (got {list(x.shape)})"
            )
        t = g.data.to(x.dtype).to(x.device)
        if len(g) == 1:
            return x + t[0]
        if x.shape[0] != len(g):
            raise ValueError(
                f"act_on_points: expected a leading batch dimension of {len(g)} (one per element) "
                f"or a single element (got points of shape {list(x.shape)})"
            )
        return x + t.reshape(len(g), *([1] * (x.dim() - 2)), self.d)

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """The linear part of a translation: identity matrices ``[B, d, d]``."""
        _check_same_group(self, g, "matrices")
        eye = torch.eye(self.d, dtype=dtype or torch.get_default_dtype(), device=g.device)
        return eye.expand(len(g), self.d, self.d).clone()

    def __repr__(self) -> str:
        return f"Translations({self.d}, lattice={self.lattice})"
