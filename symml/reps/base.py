"""`RepBase`: what every representation implements (dimension, matrices of raw elements, the
Lie algebra, band limit) and what follows from that alone: evaluation at `Elements` (tabulated once
for small finite groups), characters, and the structure the intertwiner solver walks.

Every representation is a `symml.reps.Rep`, which adds the algebra (sums, tensor products, duals,
restriction, decomposition). `symml.reps.intertwiners` stands between the two: it needs only
this interface, and `Rep.decompose` needs it.
"""

from __future__ import annotations

import abc
from functools import cached_property

import torch
from torch import Tensor

from symml.groups import Elements, Group
from symml.groups.group import _check_same_group

_TABLE_MAX_ORDER = 4096  # finite groups up to this order tabulate all matrices once
# ... unless the table [|G|, d, d] would pass this many entries (128 MiB of float64): the table of
# regular(Cyclic(1000)) alone would take 8 GB to save recomputing a few matrices
_TABLE_MAX_ENTRIES = 2**24


class RepBase(abc.ABC):
    """What every representation ρ: G → O(d) of ``group`` implements, and its evaluation.

    Call it on `Elements` to get matrices: ``rep(g)`` is ``[B, d, d]``.
    """

    group: Group

    @property
    @abc.abstractmethod
    def dim(self) -> int: ...

    @abc.abstractmethod
    def _matrices(self, data: Tensor) -> Tensor:
        """``ρ(g)`` for raw elements, ``[B, d, d]`` float64 on ``data``'s device."""

    @abc.abstractmethod
    def _lie(self) -> Tensor:
        """``dρ`` of the group's Lie algebra basis, ``[L, d, d]`` float64."""

    @property
    @abc.abstractmethod
    def bandlimit(self) -> int:
        """Largest irrep frequency that can occur (compact groups; 0 for finite ones)."""

    @property
    @abc.abstractmethod
    def is_permutation(self) -> bool:
        """Whether every ``ρ(g)`` is a permutation matrix."""

    # ----- evaluation --------------------------------------------------------------------------
    def __call__(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """Matrices ``[B, d, d]`` of the elements ``g``, in ``dtype`` (default: the elements'
        float dtype, else torch's default) on ``g``'s device."""
        _check_same_group(self.group, g, f"{self}")
        if dtype is None:
            dtype = g.data.dtype if g.data.is_floating_point() else torch.get_default_dtype()
        order = self.group.order
        if (
            order is not None
            and order <= _TABLE_MAX_ORDER
            and order * self.dim**2 <= _TABLE_MAX_ENTRIES
        ):
            table = self._table.to(device=g.device)
            return table[self.group.index_of(g)].to(dtype)
        return self._matrices(g.data).to(dtype)

    @cached_property
    def _table(self) -> Tensor:
        return self._matrices(self.group.elements().data)

    def character(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """χ(g) = trace ρ(g), ``[B]``, in ``dtype`` (default as for ``rep(g)``)."""
        return torch.diagonal(self(g, dtype=dtype), dim1=-2, dim2=-1).sum(-1)

    def lie_algebra(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """dρ of the group's Lie algebra basis (`Group.lie_algebra`), ``[L, d, d]``."""
        return self._lie().to(dtype)

    # ----- structure the intertwiner solver walks (`symml.reps.intertwiners`) -------------------
    def _summands(self) -> tuple[RepBase, ...]:
        """The direct-sum parts Hom_G is solved for block by block (just this rep if none)."""
        return (self,)

    def _solving_rep(self) -> RepBase:
        """The equivalent rep the constraint is solved on: for ``T ⋊ H`` the one of ``H``."""
        return self

    def __str__(self) -> str:
        return self._expr()

    def __repr__(self) -> str:
        return self._expr()

    @abc.abstractmethod
    def _expr(self) -> str: ...


def check_group(a: RepBase, b: object, op: str) -> None:
    """A TypeError unless ``b`` is a rep, a ValueError unless it is one of ``a``'s group."""
    if not isinstance(b, RepBase):
        raise TypeError(f"{op}: expected a Rep (got {type(b).__name__})")
    if a.group != b.group:
        raise ValueError(
            f"{op}: representations of different groups ({a.group!r} and {b.group!r}); "
            "restrict one of them first"
        )
