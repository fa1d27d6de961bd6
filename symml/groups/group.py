"""The `Group` abstraction and its batched `Elements`.

A group is a small immutable value (``Cyclic(4) == Cyclic(4)``); its elements are batched tensors
wrapped in `Elements`, which remembers the group so that a representation of one group is never
silently evaluated at elements of another.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from symml.groups._tensors import apply_batched, as_device, broadcast_pair, promote_pair

IrrepKey = int | tuple[int, ...]
"""The label of an irrep within its group: an int (C_N, SO(2), SO(3)), a pair (D_N, O(2), O(3)),
a partition (S_n); each group's `Group.irrep_keys` lists them."""


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

    A group also carries what `symml.reps` needs to know about it, so that adding a group is one
    new file (docs/groups.md, "Adding a group"): its irreps (`irrep_keys`, `irrep_matrices`,
    `irrep_dim`, `irrep_lie`, `irrep_frequency`, `trivial_irrep_key`, `sign_irrep_key`), its
    standard representation (`matrices`, `standard_dim`), how representations of products and
    of ``T ⋊ H`` are assembled (`product_factors`, `point_group`), and, through the mixins in
    `symml.groups.counterparts`, its e3nn / escnn counterparts.

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
        return Elements(self, self._identity(n, as_device(device)))

    def compose(self, a: Elements, b: Elements) -> Elements:
        """Batched product ``a b`` (apply ``b`` first); batches broadcast when one has size 1."""
        _check_same_group(self, a, "compose")
        _check_same_group(self, b, "compose")
        da, db = broadcast_pair(a.data, b.data, "compose")
        return Elements(self, self._compose(*promote_pair(da, db)))

    def inverse(self, a: Elements) -> Elements:
        """Batched inverse ``a⁻¹``."""
        _check_same_group(self, a, "inverse")
        return Elements(self, self._inverse(a.data))

    def equal(self, a: Elements, b: Elements) -> Tensor:
        """Elementwise equality ``[B]`` bool (up to float tolerance for continuous groups)."""
        _check_same_group(self, a, "equal")
        _check_same_group(self, b, "equal")
        da, db = broadcast_pair(a.data, b.data, "equal")
        return self._equal(*promote_pair(da, db))

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
        data = self._sample(n, generator, as_device(device))  # float64 for continuous groups
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

    def index_of(self, g: Elements) -> Tensor:
        """Positions ``[B]`` (long) of ``g`` in `elements()` (finite groups only)."""
        raise ValueError(f"index_of: {self!r} is infinite, so its elements have no index")

    def exp(self, coeffs: Tensor) -> Elements:
        """The exponential map: ``exp(Σ_i c_i X_i)`` for coefficient rows ``coeffs [B, L]``
        (float64) over the Lie algebra basis `lie_algebra`; ``B`` elements."""
        if self.lie_algebra_dim == 0:
            return self.identity(len(coeffs))
        raise TypeError(f"exp: symml knows no exponential map for {self!r}")

    # ----- structure that representations are built on ---------------------------------------
    @property
    def point_group(self) -> Group | None:
        """``H`` when this group is ``T ⋊ H`` with translations ``T``: symml's representations of
        it are pulled back from ``H`` (translations act trivially on feature fibres); else None."""
        return None

    @property
    def product_factors(self) -> tuple[Group, ...]:
        """The factors ``G_i`` of a direct product, whose representations pull back along the
        projections and tensor to the product's; ``()`` for other groups."""
        return ()

    def _project(self, data: Tensor, index: int = 0) -> Tensor:
        """Raw data of the images of raw elements under the projection onto `point_group`
        (``index`` 0) or onto ``product_factors[index]``."""
        raise TypeError(f"{self!r} has no projection onto a point group or factor")

    @property
    def standard_dim(self) -> int | None:
        """Dimension of the standard (defining) linear representation, `matrices`; None when
        the group has none (it acts on no space, or affinely: translations)."""
        return self.point_dim

    standard_is_permutation: bool = False
    """Whether the standard representation permutes coordinates (S_n): permutation matrices."""

    acts_on_images: bool = False
    """Whether `symml.groups.act_on_images` moves images ``[..., H, W]`` by this group."""

    def rotation_grid(self, steps: int, dtype: torch.dtype | None = None) -> Elements | None:
        """Test elements of a planar rotation group on a grid: the rotations by multiples of
        ``2π/steps`` (computed in float64, then cast to ``dtype``), then each composed with the
        reflection when the group has it (SO(2), O(2)); every element, in order, for a finite
        one (C_N, D_N); None for other groups."""
        return None

    # ----- irreducible representations: what `symml.reps` asks each group ----------------------
    # The defaults describe a group whose only tabulated irrep is the trivial one, key 0.
    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        """Keys of the real irreps: all of them for a finite group, those of frequency
        <= ``bandlimit`` for a compact Lie group (ValueError without one); TypeError when the
        group's irreps are not tabulated (a direct product: outer products of its factors')."""
        return [0]

    def is_irrep_key(self, key: object) -> bool:
        """Whether ``key`` (lists already turned into tuples) names an irrep."""
        try:
            return key in self.irrep_keys()
        except TypeError:
            return False

    @property
    def irrep_key_hint(self) -> str:
        """What a valid irrep key looks like, for error messages."""
        try:
            return f"expected one of {self.irrep_keys()}"
        except TypeError:
            return "no irreps are tabulated for this group"

    def irrep_dim(self, key: IrrepKey) -> int:
        """Dimension of the irrep ``key``."""
        return int(self.irrep_matrices(key, self._identity(1, None)).shape[-1])

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        """``ρ_key(g)`` for raw elements ``data``: ``[B, d, d]`` float64, real orthogonal."""
        return torch.ones(data.shape[0], 1, 1, dtype=torch.float64, device=data.device)

    def irrep_lie(self, key: IrrepKey) -> Tensor:
        """``dρ_key`` of the Lie algebra basis: ``[L, d, d]`` float64."""
        d = self.irrep_dim(key)
        return torch.zeros(self.lie_algebra_dim, d, d, dtype=torch.float64)

    def irrep_frequency(self, key: IrrepKey) -> int:
        """The band of an irrep (k for SO(2) / O(2), l for SO(3) / O(3)); 0 for finite groups."""
        return 0

    @property
    def trivial_irrep_key(self) -> IrrepKey:
        """The key of the trivial irrep ``g ↦ 1``."""
        return 0

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        """The key of the sign irrep (a one-dimensional irrep onto ±1 that symml calls the sign:
        the determinant, the sign of a permutation), or None when the group has none."""
        return None

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
        return apply_batched(mats, x, len(g))
