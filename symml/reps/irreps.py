"""Irrep keys: each group lists and checks its own (`symml.groups.Group.irrep_keys`); these
functions give them the names `symml.reps` uses and its error messages.

Keys (the ``k`` of ``irrep(G, k)``) are described with each group: `symml.groups.planar` (C_N,
D_N), `symml.groups.planar_lie` (SO(2), O(2)), `symml.groups.orthogonal` (SO(3), O(3), SO(n),
O(n)), `symml.groups.permutations` (S_n: partitions in Young's orthogonal form); a group with
no table of its own (the trivial group, translations) has the trivial irrep ``0`` only.
"""

from __future__ import annotations

from typing import cast

from symml.groups import Group, IrrepKey


def irrep_keys(group: Group, bandlimit: int | None = None) -> list[IrrepKey]:
    """All irreps of a finite group, or those of frequency <= ``bandlimit`` for a compact one.

    Example:
        >>> from symml.groups import Dihedral, SO3
        >>> irrep_keys(Dihedral(4))
        [(0, 0), (1, 0), (1, 1), (0, 2), (1, 2)]
        >>> irrep_keys(SO3(), 2)
        [0, 1, 2]
    """
    return group.irrep_keys(bandlimit)


def validate_key(group: Group, key: object) -> IrrepKey:
    """Normalise ``key`` (lists → tuples) and check that it names an irrep of ``group``."""
    if isinstance(key, list):
        key = tuple(key)
    if not group.is_irrep_key(key):
        raise ValueError(f"irrep: {key!r} is not an irrep of {group!r}; {group.irrep_key_hint}")
    return cast(IrrepKey, key)
