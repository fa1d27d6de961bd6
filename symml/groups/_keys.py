"""Small checks shared by the groups' irrep tables (`Group.irrep_keys` and friends)."""

from __future__ import annotations

from symml.groups.group import IrrepKey


def is_natural(x: object) -> bool:
    """Whether ``x`` is an int >= 0 (bools are not numbers here)."""
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def int_key(key: IrrepKey) -> int:
    """``key`` as the int it is for this group (checked by `Group.is_irrep_key` before use)."""
    assert isinstance(key, int)
    return key


def pair_key(key: IrrepKey) -> tuple[int, int]:
    """``key`` as the pair it is for this group (checked by `Group.is_irrep_key` before use)."""
    assert isinstance(key, tuple) and len(key) == 2
    return key[0], key[1]


def need_bandlimit(group: object, bandlimit: int | None) -> int:
    """``bandlimit`` for a group with infinitely many irreps; a ValueError when it is None."""
    if bandlimit is None:
        raise ValueError(f"irrep_keys: {group!r} has infinitely many irreps; pass a bandlimit")
    return bandlimit


class FrequencyKeys:
    """Irrep keys that are integer frequencies ``k >= 0`` without an upper end (SO(2), SO(3)):
    mixed in before the group's base class, so that these override `Group`'s defaults."""

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return list(range(need_bandlimit(self, bandlimit) + 1))

    def is_irrep_key(self, key: object) -> bool:
        return is_natural(key)

    @property
    def irrep_key_hint(self) -> str:
        return "expected an integer frequency k >= 0"
