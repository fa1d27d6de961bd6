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

    Example:
        >>> group_from_name("D8")
        Dihedral(8)
        >>> group_from_name("E3")
        E(3)
        >>> group_from_name("O3xC4")
        DirectProduct((O3(), Cyclic(4)))
    """
    if "x" in name:
        return direct_product(*(group_from_name(part) for part in name.split("x")))
    fixed = {"trivial": Trivial(), "p4": p4(), "p4m": p4m()}
    if name in fixed:
        return fixed[name]
    match = re.fullmatch(r"(C|D|SO|O|T|Z|S|SE|E)(\d+)", name)
    if match is None:
        known = ", ".join(p for p, _ in _PATTERNS)
        raise ValueError(f"group_from_name: unknown group name {name!r}; expected one of: {known}")
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
    return builders[kind](n)
