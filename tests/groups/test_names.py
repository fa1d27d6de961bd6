"""Groups are values: short names, evaluable reprs, equality, hashing and pickling."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from symml import groups
from symml.groups import (
    O2,
    O3,
    SE,
    SO,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Group,
    O,
    Orthogonal,
    Permutations,
    SemidirectProduct,
    SpecialOrthogonal,
    Translations,
    Trivial,
    group_from_name,
    group_names,
    p4,
    p4m,
)

ALL: list[Group] = [
    Trivial(),
    Cyclic(1),
    Cyclic(8),
    Dihedral(4),
    SO2(),
    O2(),
    SO3(),
    O3(),
    SO(4),
    O(5),
    Translations(2),
    Translations(3, lattice=True),
    Permutations(5),
    p4(),
    p4m(),
    E(2),
    E(3),
    SE(2),
    SE(3),
    SemidirectProduct(Cyclic(2), lattice=True),
    SemidirectProduct(Dihedral(6)),
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C8", Cyclic(8)),
        ("D4", Dihedral(4)),
        ("SO3", SO3()),
        ("SO2", SO2()),
        ("SO4", SpecialOrthogonal(4)),
        ("O2", O2()),
        ("O3", O3()),
        ("O5", Orthogonal(5)),
        ("p4", p4()),
        ("p4m", p4m()),
        ("E3", E(3)),
        ("E2", SemidirectProduct(O2())),
        ("SE3", SemidirectProduct(SO3())),
        ("S5", Permutations(5)),
        ("Z2", Translations(2, lattice=True)),
        ("T3", Translations(3)),
        ("trivial", Trivial()),
    ],
    ids=str,
)
def test_group_from_name(name: str, expected: Group) -> None:
    group = group_from_name(name)
    assert group == expected and type(group) is type(expected)
    # and back: the name parses to a group whose repr evaluates to the same group
    assert eval(repr(group), vars(groups)) == expected


@pytest.mark.parametrize(
    ("pattern", "example", "kind"),
    [
        ("trivial", "trivial", Trivial),
        ("C<n>", "C3", Cyclic),
        ("D<n>", "D3", Dihedral),
        ("SO<n>", "SO6", SpecialOrthogonal),
        ("O<n>", "O4", Orthogonal),
        ("T<d> / Z<d>", "Z3", Translations),
        ("S<n>", "S3", Permutations),
        ("p4, p4m", "p4", SemidirectProduct),
        ("SE<n>, E<n>", "SE2", SemidirectProduct),
    ],
    ids=str,
)
def test_every_documented_pattern_parses(pattern: str, example: str, kind: type) -> None:
    assert pattern in [p for p, _ in group_names()]
    assert isinstance(group_from_name(example), kind)


@pytest.mark.parametrize("group", ALL, ids=repr)
def test_repr_evaluates_back_to_an_equal_group(group: Group) -> None:
    again = eval(repr(group), vars(groups))
    assert again == group and hash(again) == hash(group) and type(again) is type(group)


@pytest.mark.parametrize(
    ("group", "text"),
    [
        (p4(), "p4()"),
        (p4m(), "p4m()"),
        (E(3), "E(3)"),
        (SE(2), "SE(2)"),
        (O(5), "Orthogonal(5)"),
        (Translations(2), "Translations(2, lattice=False)"),
        (SemidirectProduct(Cyclic(2), lattice=True), "SemidirectProduct(Cyclic(2), lattice=True)"),
    ],
    ids=str,
)
def test_readable_reprs(group: Group, text: str) -> None:
    assert repr(group) == text


def test_equality_and_hashing() -> None:
    assert Cyclic(4) == Cyclic(4) and hash(Cyclic(4)) == hash(Cyclic(4))
    assert Cyclic(4) != Dihedral(4)  # the same field n = 4, different groups
    assert Cyclic(4) != Cyclic(5) and SO2() != SO3() and SO2() != O2()
    assert Translations(2) != Translations(2, lattice=True)
    assert p4() != p4m() and SE(3) != E(3) and SE(2) == SemidirectProduct(SO2())
    table = {Cyclic(4): "c4", Dihedral(4): "d4", SO3(): "so3", p4m(): "p4m"}
    assert table[Cyclic(4)] == "c4" and table[Dihedral(4)] == "d4"
    assert table[group_from_name("SO3")] == "so3" and table[group_from_name("p4m")] == "p4m"
    assert len({Cyclic(4), Cyclic(4), Dihedral(4), group_from_name("C4")}) == 2


def test_groups_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Cyclic(4).n = 5  # type: ignore[misc]


@pytest.mark.parametrize("group", ALL, ids=repr)
def test_pickle_round_trips_groups_and_elements(group: Group) -> None:
    g = group.sample(5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    if group.is_finite:
        _ = group.cayley_table  # cached state must pickle too
    group2, g2 = pickle.loads(pickle.dumps((group, g)))
    assert group2 == group and hash(group2) == hash(group)
    assert g2.group == group and torch.equal(g2.data, g.data)
    assert bool((g2 == g).all())
    g3 = copy.deepcopy(g)
    assert g3.group == group and torch.equal(g3.data, g.data)


@pytest.mark.parametrize("group", ALL, ids=repr)
def test_element_repr_names_the_group(group: Group) -> None:
    g = group.sample(2, generator=torch.Generator().manual_seed(0))
    assert repr(g).startswith(f"Elements({group!r}, ")


def test_element_reprs() -> None:
    assert repr(Cyclic(4).element([1, 3])) == "Elements(Cyclic(4), [r^1, r^3])"
    assert repr(Dihedral(4).element([1, 5])) == "Elements(Dihedral(4), [r^1, r^1 f])"
