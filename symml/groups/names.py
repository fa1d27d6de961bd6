"""Short names for groups, as used in configs and on the command line (``"C8"``, ``"D4"``,
``"SO3"``, ``"p4m"``, ``"E3"``, ``"S5"``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from symml.groups.group import Group
from symml.groups.orthogonal import SO, O
from symml.groups.permutations import Permutations
from symml.groups.planar import Cyclic, Dihedral, Trivial
from symml.groups.product import direct_product
from symml.groups.semidirect import SE, E, p4, p4m
from symml.groups.translations import Translations

_PATTERNS: list[tuple[str, str]] = [
    ("trivial", "the trivial group"),
    ("C<n>", "cyclic group of n planar rotations"),
    ("D<n>", "dihedral group: n rotations and n reflections"),
    ("SO<n>", "rotations of R^n (SO2, SO3, SO4, ...)"),
    ("O<n>", "rotations and reflections of R^n"),
    ("T<d> / Z<d>", "translations of R^d / of the grid Z^d"),
    ("S<n>", "permutations of n nodes"),
    ("p4, p4m", "pixel translations with 90° rotations (and flips)"),
    ("SE<n>, E<n>", "(special) Euclidean group of R^n"),
    ("<A>x<B>", "direct product, e.g. O3xC4 or SO2xS3"),
]


def group_names() -> list[tuple[str, str]]:
    """The name patterns `group_from_name` accepts, with a description of each."""
    return list(_PATTERNS)


def group_from_name(name: str) -> Group:
    """Parse a short group name.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: an unknown name, an empty factor of a product (``"O3x"``) or an invalid
            size (``"C0"``); the message quotes the text given and lists the accepted patterns.

    Example:
        >>> group_from_name("D8")
        Dihedral(8)
        >>> group_from_name("E3")
        E(3)
        >>> group_from_name("O3xC4")
        DirectProduct((O3(), Cyclic(4)))
    """
    if not isinstance(name, str):
        raise TypeError(
            f"group_from_name: expected a group name string such as 'C4' or 'O3' (got "
            f"{type(name).__name__} {name!r})"
        )
    if "x" in name:
        parts = name.split("x")
        if not all(parts):
            raise ValueError(
                f"group_from_name: expected a product <A>x<B> of group names (got {name!r}, "
                f"which has an empty factor); e.g. O3xC4. Accepted names: {_known()}"
            )
        return direct_product(*(_single(part, name) for part in parts))
    return _single(name, name)


def _known() -> str:
    return ", ".join(p for p, _ in _PATTERNS)


def _single(part: str, name: str) -> Group:
    """One factor ``part`` of the user's ``name`` (the whole text when it is not a product)."""
    fixed = {"trivial": Trivial(), "p4": p4(), "p4m": p4m()}
    if part in fixed:
        return fixed[part]
    where = f"{part!r}" if part == name else f"{part!r} in {name!r}"
    # ASCII digits only: \d would also take e.g. Arabic-Indic digits, which int() then reads
    match = re.fullmatch(r"(C|D|SO|O|T|Z|S|SE|E)([0-9]+)", part)
    if match is None:
        # the likely slips: spaces around the name, or the wrong case ("c4", "so3", "P4M")
        bare = part.strip()
        valid = r"(C|D|SO|O|T|Z|S|SE|E)[0-9]+|trivial|p4m?"
        near = [c for c in (bare, bare.upper(), bare.lower()) if re.fullmatch(valid, c)]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(
            f"group_from_name: unknown group name {where}{hint}; expected one of: {_known()}"
        )
    kind, n = match.group(1), int(match.group(2))
    builders: dict[str, Callable[[int], Group]] = {
        "C": Cyclic,
        "D": Dihedral,
        "SO": SO,
        "O": O,
        "T": Translations,
        "Z": lambda d: Translations(d, lattice=True),
        "S": Permutations,
        "SE": SE,
        "E": E,
    }
    try:
        return builders[kind](n)
    except ValueError as err:
        # e.g. "E0": the error comes from O(0) inside E(0), so say which name it was about
        raise ValueError(f"group_from_name: {where} is not a valid group: {err}") from None
