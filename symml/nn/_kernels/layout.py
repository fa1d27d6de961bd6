"""The type-by-type layout the kernels compute in: each field type's copies side by side.

A representation lists its copies in any order (``V + S + V``); the kernels want every type's
copies in one block of rows, ``[m·d, B]`` viewed as ``[m, d, B]``. `TypeOrder` moves feature-major
tensors into that layout and back; when a rep is already laid out so (as `EMLP` builds its hidden
reps) there is nothing to move.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from symml.nn._types import FieldType


class TypeRows(NamedTuple):
    """Rows ``start, copies, dim`` of one field type in the type-ordered layout."""

    start: int
    copies: int
    dim: int

    @property
    def end(self) -> int:
        return self.start + self.copies * self.dim


class TypeOrder(NamedTuple):
    """A permutation of the coordinates: ``order[i]`` is the coordinate at type-ordered row i,
    ``inverse`` the permutation back."""

    order: tuple[int, ...]
    inverse: tuple[int, ...]

    def to_types(self, xt: Tensor) -> Tensor:
        """``[d, B]`` in the rep's order → type-ordered."""
        return xt.index_select(0, torch.tensor(self.order, device=xt.device))

    def from_types(self, xt: Tensor) -> Tensor:
        """``[d, B]`` type-ordered → the rep's order."""
        return xt.index_select(0, torch.tensor(self.inverse, device=xt.device))


def type_rows(types: tuple[FieldType, ...]) -> tuple[TypeRows, ...]:
    """Where each type's copies sit once the coordinates are laid out type by type."""
    rows, at = [], 0
    for t in types:
        rows.append(TypeRows(at, t.copies, t.rep.dim))
        at += t.copies * t.rep.dim
    return tuple(rows)


def type_order(types: tuple[FieldType, ...]) -> TypeOrder | None:
    """The permutation into the type-ordered layout, or None if the rep already is in it."""
    order = [off + i for t in types for off in t.offsets for i in range(t.rep.dim)]
    if order == sorted(order):
        return None
    inverse = [0] * len(order)
    for position, coordinate in enumerate(order):
        inverse[coordinate] = position
    return TypeOrder(tuple(order), tuple(inverse))


def fields(rows: tuple[TypeRows, ...], xt: Tensor) -> list[Tensor]:
    """Views ``[m, d, B]`` of each type's rows of a type-ordered ``[d_total, B]`` tensor."""
    return [xt[r.start : r.end].view(r.copies, r.dim, xt.shape[1]) for r in rows]
