"""How symml's groups correspond to e3nn's and escnn's, as plain data.

`symml.groups` imports neither library: a group type with a counterpart mixes in
`E3nnCounterpart` or `EscnnCounterpart` and says, in ints and strings, which object of the other
library it is and how its elements and irrep keys translate; `symml.reps.interop` (and the
steerable layers) build the e3nn / escnn objects from that.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor

from symml.groups.group import Group, IrrepKey


class E3nnCounterpart(abc.ABC):
    """A group whose irreps are e3nn's irreps ``(l, p)``, with the same matrices (SO(3), O(3))."""

    @abc.abstractmethod
    def e3nn_irrep(self, key: IrrepKey) -> tuple[int, int]:
        """e3nn's ``(l, p)`` (degree, parity ±1) of the irrep ``key``."""

    @abc.abstractmethod
    def irrep_key_from_e3nn(self, l: int, p: int) -> IrrepKey:  # noqa: E741 - e3nn's name
        """The key of the irrep that is e3nn's ``(l, p)``."""


def _declaring_types(base: type, attribute: str) -> list[type]:
    """The subclasses of ``base`` that define ``attribute`` themselves (so a subclass of
    `Cyclic` is not a second escnn cyclic group), in the order they are defined."""
    found: list[type] = []
    subclasses: list[type] = base.__subclasses__()
    for t in subclasses:
        found += ([t] if attribute in vars(t) else []) + _declaring_types(t, attribute)
    return found


def e3nn_types() -> list[str]:
    """Names of the group types with an e3nn counterpart, for error messages."""
    return [t.__name__ for t in _declaring_types(E3nnCounterpart, "irrep_key_from_e3nn")]


@dataclass(frozen=True)
class EscnnGroupId:
    """Which escnn group a symml group is.

    Attributes:
        factory: the ``escnn.group`` function that builds it, e.g. ``"dihedral_group"``.
        args: that function's arguments, e.g. ``(4,)`` (the band limit for SO(2) / O(2)).
        o2_subgroup: escnn's id of the group as a subgroup of O(2), ``(axis, N)``: the reflection
            axis (``2θ`` of escnn's ``flipRot2dOnR2(axis=θ)``; None without reflections) and the
            number of rotations (-1: all of them). It names the group's gspace on the plane,
            ``escnn.gspaces.GSpace2D(o2_subgroup)``.
    """

    factory: str
    args: tuple[int, ...]
    o2_subgroup: tuple[float | None, int]


class EscnnCounterpart(abc.ABC):
    """A group type that escnn has too (C_N, D_N, SO(2), O(2)), with the same irreps, element
    conventions (reflect first, then rotate) and matrices.

    Attributes:
        escnn_class: the name of escnn's class for it, e.g. ``"DihedralGroup"``.
    """

    escnn_class: ClassVar[str]

    @abc.abstractmethod
    def escnn_group_id(self, maximum_frequency: int) -> EscnnGroupId:
        """The escnn group (``maximum_frequency``: band limit of escnn's SO(2) / O(2))."""

    @abc.abstractmethod
    def escnn_elements(self, data: Tensor) -> list[Any]:
        """escnn's parameters of raw elements ``data``: ``escnn_group.element(p)`` for each."""

    @abc.abstractmethod
    def escnn_irrep_id(self, key: IrrepKey) -> tuple[int, ...]:
        """escnn's id of the irrep ``key``: ``escnn_group.irrep(*id)``."""

    @abc.abstractmethod
    def irrep_key_from_escnn(self, irrep_id: tuple[int, ...]) -> IrrepKey:
        """The key of the irrep with escnn id ``irrep_id``."""

    @classmethod
    @abc.abstractmethod
    def from_escnn_order(cls, order: int) -> Group:
        """The group of this type whose escnn counterpart has ``order`` elements (-1: infinite)."""


def escnn_types() -> list[type[EscnnCounterpart]]:
    """The group types with an escnn counterpart, in the order they are defined."""
    types = _declaring_types(EscnnCounterpart, "escnn_class")
    return [t for t in types if issubclass(t, EscnnCounterpart)]


def group_from_escnn(escnn_class: str, order: int) -> Group | None:
    """The symml group of escnn's class ``escnn_class`` with ``order`` elements, or None."""
    for t in escnn_types():
        if t.escnn_class == escnn_class:
            return t.from_escnn_order(order)
    return None
