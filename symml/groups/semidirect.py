"""Euclidean groups built from translations and a point group: p4, p4m, SE(n), E(n).

``T ⋊ H`` acts on points by ``x ↦ h·x + t``; an element ``(h, t)`` is stored as one row
``[h_data..., t_1, ..., t_d]`` (long for lattice groups, float otherwise).
Products: ``(h1, t1)(h2, t2) = (h1 h2, t1 + h1·t2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from symml.groups.group import Elements, Group, _check_same_group
from symml.groups.orthogonal import SO, O
from symml.groups.planar import Cyclic, Dihedral, Trivial
from symml.groups.translations import Translations


@dataclass(frozen=True)
class SemidirectProduct(Group):
    """``Translations(d) ⋊ point`` where ``point`` acts on R^d by its standard action.

    Representations of this group are pulled back from the point group (translations act
    trivially on feature fibres), see `symml.reps`.
    """

    point: Group
    lattice: bool = False

    def __post_init__(self) -> None:
        if self.point.point_dim is None:
            raise ValueError(f"SemidirectProduct: {self.point!r} has no action on points")
        if self.lattice and not _preserves_square_lattice(self.point):
            raise ValueError(
                "SemidirectProduct: with lattice=True the point group must map the square grid "
                f"Z^2 to itself (a subgroup of Dihedral(4)); got {self.point!r}"
            )

    @property
    def translations(self) -> Translations:
        assert self.point.point_dim is not None  # checked in __post_init__
        return Translations(self.point.point_dim, lattice=self.lattice)

    @property
    def point_dim(self) -> int:  # type: ignore[override]
        return self.translations.d

    @property
    def order(self) -> None:
        return None

    @property
    def point_group(self) -> Group:
        return self.point

    def _project(self, data: Tensor, index: int = 0) -> Tensor:
        return self._split(data)[0]

    @property
    def standard_dim(self) -> None:
        return None  # it acts affinely; its vectors' standard rep is pulled back from `point`

    @property
    def acts_on_images(self) -> bool:  # type: ignore[override]
        return self.lattice and self.point.acts_on_images

    @cached_property
    def _point_shape(self) -> tuple[int, ...]:
        return tuple(self.point._identity(1, None).shape[1:])

    @cached_property
    def _point_numel(self) -> int:
        n = 1
        for s in self._point_shape:
            n *= s
        return n

    def _dtype(self) -> torch.dtype:
        return torch.long if self.lattice else torch.get_default_dtype()

    def _split(self, data: Tensor) -> tuple[Tensor, Tensor]:
        h = data[:, : self._point_numel].reshape(-1, *self._point_shape)
        return self._point_cast(h), data[:, self._point_numel :]

    def _join(self, h: Tensor, t: Tensor) -> Tensor:
        return torch.cat([h.reshape(h.shape[0], self._point_numel).to(t.dtype), t], 1)

    def _rotate(self, h: Tensor, t: Tensor) -> Tensor:
        mats = self.point.matrices(Elements(self.point, h), dtype=torch.float64).to(t.device)
        out = (mats @ t.double()[:, :, None])[:, :, 0]
        return out.round().long() if self.lattice else out.to(t.dtype)

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        h = self.point._identity(n, device)
        return self._join(h, self.translations._identity(n, device))

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        ha, ta = self._split(a)
        hb, tb = self._split(b)
        h = self.point._compose(ha, hb)
        return self._join(h, ta + self._rotate(ha, tb))

    def _inverse(self, a: Tensor) -> Tensor:
        h, t = self._split(a)
        hinv = self.point._inverse(h)
        return self._join(hinv, -self._rotate(hinv, t))

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        ha, ta = self._split(a)
        hb, tb = self._split(b)
        same_h = self.point._equal(ha, hb)
        return same_h & self.translations._equal(ta, tb)

    def _point_cast(self, h: Tensor) -> Tensor:
        """Point-group data as the point group stores it: long for finite groups, else the float
        dtype it arrived in (so float64 elements keep their precision)."""
        return (
            h
            if h.is_floating_point() == self._point_is_continuous
            else (h.to(torch.get_default_dtype()) if self._point_is_continuous else h.long())
        )

    @cached_property
    def _point_is_continuous(self) -> bool:
        return bool(self.point._identity(0, None).is_floating_point())

    def _validate(self, data: Tensor) -> Tensor:
        width = self._point_numel + self.point_dim
        if data.dim() == 1 and data.shape[0] == width:
            data = data[None]
        if data.dim() != 2 or data.shape[1] != width:
            raise ValueError(
                f"{self!r}.element: expected rows [point element ({self._point_numel} values), "
                f"translation ({self.point_dim})] of shape [B, {width}] (got {list(data.shape)})"
            )
        h, t = self._split(data)
        h = self.point._validate(h)
        t = self.translations._validate(t)
        return self._join(h, t)

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        h = self.point._sample(n, generator, device)
        return self._join(h, self.translations._sample(n, generator, device))

    def _generators(self) -> Tensor:
        h = self.point._generators()
        t0 = self.translations._identity(h.shape[0], None)
        rows = [self._join(h, t0)]
        t = self.translations._generators()
        rows.append(self._join(self.point._identity(t.shape[0], None), t))
        return torch.cat(rows)

    def element_from(self, h: Elements, t: Tensor) -> Elements:
        """Elements ``(h, t)`` from point-group elements ``h`` and translations ``t [B, d]``."""
        _check_same_group(self.point, h, "element_from")
        return self.element(self._join(h.data, self.translations._validate(t)))

    def split(self, g: Elements) -> tuple[Elements, Tensor]:
        """``(h, t)``: the point-group part (`Elements` of ``point``) and translation ``[B, d]``."""
        _check_same_group(self, g, "split")
        h, t = self._split(g.data)
        return Elements(self.point, h), t

    def project(self, g: Elements) -> Elements:
        """The quotient map ``T ⋊ H → H``, ``(h, t) ↦ h``."""
        return self.split(g)[0]

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        return self.point.matrices(self.project(g), dtype=dtype)

    def act_on_points(self, g: Elements, x: Tensor) -> Tensor:
        h, t = self.split(g)
        rotated = self.point.act_on_points(h, x)
        return self.translations.act_on_points(Elements(self.translations, t), rotated)

    def describe(self, data: Tensor) -> str:
        h, t = self._split(data)
        return f"(point={self.point.describe(h)}, t={t.tolist()})"

    def __repr__(self) -> str:
        named = {
            SemidirectProduct(Cyclic(4), True): "p4()",
            SemidirectProduct(Dihedral(4), True): "p4m()",
        }
        if self in named:
            return named[self]
        n = self.point_dim
        if not self.lattice and self.point == O(n):
            return f"E({n})"
        if not self.lattice and self.point == SO(n):
            return f"SE({n})"
        return f"SemidirectProduct({self.point!r}, lattice={self.lattice})"


def _preserves_square_lattice(point: Group) -> bool:
    return isinstance(point, (Cyclic, Dihedral)) and point.n in (1, 2, 4) or point == Trivial()


def p4() -> SemidirectProduct:
    """p4 = Z² ⋊ C4: pixel translations and rotations by multiples of 90°."""
    return SemidirectProduct(Cyclic(4), lattice=True)


def p4m() -> SemidirectProduct:
    """p4m = Z² ⋊ D4: pixel translations, 90° rotations and mirror flips."""
    return SemidirectProduct(Dihedral(4), lattice=True)


def E(n: int) -> SemidirectProduct:  # noqa: N802 - the mathematical name
    """The Euclidean group E(n) = R^n ⋊ O(n)."""
    return SemidirectProduct(O(n))


def SE(n: int) -> SemidirectProduct:  # noqa: N802 - the mathematical name
    """The special Euclidean group SE(n) = R^n ⋊ SO(n)."""
    return SemidirectProduct(SO(n))
