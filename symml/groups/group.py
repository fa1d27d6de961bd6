"""The `Group` abstraction and its batched `Elements`.

A group is a small immutable value (``Cyclic(4) == Cyclic(4)``); its elements are batched tensors
wrapped in `Elements`, which remembers the group so that a representation of one group is never
silently evaluated at elements of another.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


class Elements:
    """A batch of ``B`` elements of one group.

    ``data`` is the raw tensor encoding (its layout is the group's: indices ``[B]`` for finite
    groups, angles ``[B]`` for SO(2), matrices ``[B, 3, 3]`` for SO(3), ...).

    Example:
        >>> from symml.groups import Cyclic
        >>> G = Cyclic(4)
        >>> g = G.element([1, 3])
        >>> (g @ g).data
        tensor([2, 2])
        >>> (~g).data
        tensor([3, 1])
    """

    __slots__ = ("group", "data")

    def __init__(self, group: Group, data: Tensor) -> None:
        self.group = group
        self.data = data

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int | slice | Tensor) -> Elements:
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Elements(self.group, self.data[index])

    def __matmul__(self, other: Elements) -> Elements:
        return self.group.compose(self, other)

    def __invert__(self) -> Elements:
        return self.group.inverse(self)

    def __eq__(self, other: object) -> Any:  # elementwise, like tensors
        if not isinstance(other, Elements):
            return NotImplemented
        return self.group.equal(self, other)

    __hash__ = None  # type: ignore[assignment]  # mutable batch, compared elementwise

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    @property
    def device(self) -> torch.device:
        return self.data.device

    def to(self, device: torch.device | str) -> Elements:
        return Elements(self.group, self.data.to(device))

    def repeat(self, n: int) -> Elements:
        """Repeat the batch ``n`` times along the batch dimension."""
        return Elements(self.group, torch.cat([self.data] * n))

    def __repr__(self) -> str:
        return f"Elements({self.group!r}, {self.group.describe(self.data)})"


def cat(elements: Sequence[Elements]) -> Elements:
    """Concatenate batches of elements of one group."""
    if not elements:
        raise ValueError("cat: expected at least one batch of elements (got none)")
    group = elements[0].group
    for e in elements:
        _check_same_group(group, e, "cat")
    return Elements(group, torch.cat([e.data for e in elements]))


def _check_same_group(group: Group, g: Elements, what: str) -> None:
    if not isinstance(g, Elements):
        raise TypeError(
            f"{what}: expected symml Elements of {group!r} (got {type(g).__name__}); "
            f"wrap raw tensors with `{group!r}.element(data)`"
        )
    if g.group != group:
        raise ValueError(
            f"{what}: expected elements of {group!r} (got elements of {g.group!r}); "
            "map them with an inclusion (symml.groups.inclusion) or restrict the representation"
        )


class Group(abc.ABC):
    """A group with batched elements.

    Subclasses are frozen dataclasses and implement the raw operations on element tensors
    (``_identity``, ``_compose``, ``_inverse``, ``_equal``, ``_validate``, ``_sample``). The public
    methods take and return `Elements` and check that they belong to this group.

    Attributes:
        lie_algebra_dim: dimension of the Lie algebra (0 for discrete groups).
        point_dim: dimension ``n`` of the space R^n the group acts on by its standard action,
            or None when it has no action on points.
    """

    lie_algebra_dim: int = 0
    point_dim: int | None = None

    # ----- raw operations, implemented by subclasses -------------------------------------
    @abc.abstractmethod
    def _identity(self, n: int, device: torch.device | None) -> Tensor: ...

    @abc.abstractmethod
    def _compose(self, a: Tensor, b: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def _inverse(self, a: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def _equal(self, a: Tensor, b: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def _validate(self, data: Tensor) -> Tensor:
        """Check shape/dtype/range of raw element data; return it (possibly cast)."""

    @abc.abstractmethod
    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        """Raw random elements; float64 for continuous groups (`sample` casts them)."""

    @property
    @abc.abstractmethod
    def order(self) -> int | None:
        """Number of elements, or None for an infinite group."""

    def _generators(self) -> Tensor:
        """Raw discrete generators (finite groups: a generating set; Lie groups: the part
        not reached from the identity component, possibly empty)."""
        return self._identity(0, None)

    def describe(self, data: Tensor) -> str:
        """Readable form of raw element data."""
        return str(data.tolist())

    # ----- public API ------------------------------------------------------------------------
    def element(self, data: Any) -> Elements:
        """Wrap raw data (tensor or nested list) as validated `Elements` of this group."""
        tensor = data if isinstance(data, Tensor) else torch.as_tensor(data)
        return Elements(self, self._validate(tensor))

    def identity(self, n: int = 1, device: torch.device | str | None = None) -> Elements:
        """``n`` copies of the identity element."""
        return Elements(self, self._identity(n, _device(device)))

    def compose(self, a: Elements, b: Elements) -> Elements:
        """Batched product ``a b`` (apply ``b`` first); batches broadcast when one has size 1."""
        _check_same_group(self, a, "compose")
        _check_same_group(self, b, "compose")
        da, db = _broadcast(a.data, b.data, "compose")
        return Elements(self, self._compose(*_promote(da, db)))

    def inverse(self, a: Elements) -> Elements:
        """Batched inverse ``a⁻¹``."""
        _check_same_group(self, a, "inverse")
        return Elements(self, self._inverse(a.data))

    def equal(self, a: Elements, b: Elements) -> Tensor:
        """Elementwise equality ``[B]`` bool (up to float tolerance for continuous groups)."""
        _check_same_group(self, a, "equal")
        _check_same_group(self, b, "equal")
        da, db = _broadcast(a.data, b.data, "equal")
        return self._equal(*_promote(da, db))

    def sample(
        self,
        n: int = 1,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Elements:
        """``n`` random elements: Haar-uniform for compact groups; for translation groups a
        standard normal (R^d) or uniform integers in [-4, 4] (Z^d), as documented by the group.
        ``dtype`` sets the float dtype of continuous elements (default: torch's default)."""
        if n < 0:
            raise ValueError(f"sample: expected n >= 0 (got {n})")
        data = self._sample(n, generator, _device(device))  # float64 for continuous groups
        if data.is_floating_point():
            data = data.to(dtype or torch.get_default_dtype())
        return Elements(self, data)

    def elements(self) -> Elements:
        """All elements, in a fixed order (finite groups only)."""
        raise ValueError(
            f"elements: {self!r} is infinite, so its elements cannot be listed; "
            "use sample(n) instead"
        )

    @property
    def generators(self) -> Elements:
        """Discrete generators (see ``_generators``)."""
        return Elements(self, self._generators())

    @property
    def lie_algebra(self) -> Tensor:
        """Basis of the Lie algebra in the standard representation, ``[L, n, n]`` float64."""
        return torch.zeros(0, 0, 0, dtype=torch.float64)

    @property
    def is_finite(self) -> bool:
        return self.order is not None

    # ----- actions ------------------------------------------------------------------------------
    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """Linear part of the standard action on R^n: ``[B, n, n]``."""
        raise TypeError(f"{self!r} has no standard action on points")

    def act_on_points(self, g: Elements, x: Tensor) -> Tensor:
        """Standard action on points: ``x [B, ..., n]`` (or ``[..., n]`` with one element)
        ↦ ``g·x``; for groups with translations this includes the translation part."""
        _check_same_group(self, g, "act_on_points")
        if self.point_dim is None:
            raise TypeError(f"{self!r} has no standard action on points")
        if x.shape[-1] != self.point_dim:
            raise ValueError(
                f"act_on_points: expected points with last dimension {self.point_dim} "
                f"for {self!r} (got shape {list(x.shape)})"
            )
        mats = self.matrices(g, dtype=x.dtype).to(x.device)
        return _apply_batched(mats, x, len(g))


def _apply_batched(mats: Tensor, x: Tensor, batch: int) -> Tensor:
    """Apply ``mats [B, n, n]`` to ``x [B, ..., n]`` (or ``[..., n]`` when ``B == 1``)."""
    if batch == 1 and (x.dim() == 1 or x.shape[0] != 1):
        return x @ mats[0].transpose(-1, -2)
    if x.shape[0] != batch:
        raise ValueError(
            f"expected a leading batch dimension of {batch} (one per element) or a single "
            f"element (got points of shape {list(x.shape)})"
        )
    flat = x.reshape(batch, -1, x.shape[-1])
    return (flat @ mats.transpose(-1, -2)).reshape(x.shape)


def _broadcast(a: Tensor, b: Tensor, what: str) -> tuple[Tensor, Tensor]:
    na, nb = a.shape[0], b.shape[0]
    if na == nb:
        return a, b
    if na == 1:
        return a.expand(nb, *a.shape[1:]), b
    if nb == 1:
        return a, b.expand(na, *b.shape[1:])
    raise ValueError(f"{what}: batch sizes {na} and {nb} do not broadcast (expected equal or 1)")


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Cast float element data to a common dtype (e.g. the float32 `identity` with float64
    samples), as the raw operations (matrix products) need one dtype."""
    if a.dtype != b.dtype and a.is_floating_point() and b.is_floating_point():
        dtype = torch.promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)
    return a, b


def _device(device: torch.device | str | None) -> torch.device | None:
    return torch.device(device) if device is not None else None


def float_tolerance(dtype: torch.dtype) -> float:
    """Tolerance for comparing continuous group elements in ``dtype``."""
    return 1e-9 if dtype == torch.float64 else 1e-4


def wrap_angle(theta: Tensor) -> Tensor:
    """Angles reduced to [0, 2π)."""
    wrapped = torch.remainder(theta, 2 * math.pi)
    # a tiny negative angle rounds to exactly 2π: map it to 0 to stay in [0, 2π)
    return torch.where(wrapped >= 2 * math.pi, torch.zeros_like(wrapped), wrapped)
