"""String form: ``parse_rep(str(rep)) == rep`` with the same hash, and the parser reads only its
fixed vocabulary (no ``eval``), so a config file cannot run code."""

from __future__ import annotations

import pytest
import torch

from symml.groups import (
    O2,
    O3,
    SE,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Orthogonal,
    Permutations,
    SpecialOrthogonal,
    Trivial,
    inclusion,
    p4,
    p4m,
)
from symml.reps import (
    Rep,
    change_basis,
    direct_sum,
    irrep,
    parse_rep,
    pullback,
    quotient,
    regular,
    sign,
    standard,
    trivial,
)

F64 = torch.float64


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return torch.linalg.qr(a)[0]


REPS: list[Rep] = [
    trivial(Trivial()),
    irrep(Cyclic(6), 2),
    irrep(Dihedral(6), (1, 3)),
    irrep(SO2(), 3),
    irrep(O2(), (1, 0)),
    irrep(SO3(), 4),
    irrep(O3(), (2, -1)),
    irrep(Permutations(5), (3, 1, 1)),
    irrep(Orthogonal(5), (0, -1)),
    sign(Dihedral(4)),
    standard(SpecialOrthogonal(4)),
    regular(Dihedral(8)),
    quotient(Dihedral(6), Cyclic(3)),
    quotient(Dihedral(6), Dihedral(2)),
    2 * regular(Cyclic(4)) + trivial(Cyclic(4)),
    irrep(SO3(), 1) + 3 * irrep(SO3(), 0) + irrep(SO3(), 1),
    direct_sum(standard(O3()), standard(O3()).tensor(standard(O3()))),
    standard(O2()).tensor(irrep(O2(), (1, 2))).tensor(sign(O2())),
    standard(O3()).dual(),
    (standard(SO2()) + irrep(SO2(), 2)).dual(),
    irrep(SO3(), 2).restrict(SO2()),
    standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 1.0, 0.0))),
    standard(O3()).restrict(inclusion(Dihedral(3), O3(), axis=(1.0, 2.0, 3.0))),
    regular(Dihedral(8)).restrict(Cyclic(4)),
    change_basis(irrep(SO3(), 2), _orthogonal(5, 0)),
    change_basis(regular(Cyclic(3)), torch.eye(3, dtype=F64)[[2, 0, 1]]),
    standard(E(3)),
    standard(SE(2)).tensor(standard(SE(2))),
    standard(E(3)).restrict(SE(3)),
    change_basis(standard(E(3)), _orthogonal(3, 1)),
    pullback(regular(Cyclic(4)), p4()),
    irrep(p4m(), (1, 1)) + trivial(p4m()),
]


def _id(rep: Rep) -> str:
    text = str(rep)
    return text if len(text) <= 70 else text[:67] + "..."


@pytest.mark.parametrize("rep", REPS, ids=_id)
def test_string_round_trip(rep: Rep) -> None:
    text = str(rep)
    back = parse_rep(text)
    assert back == rep
    assert hash(back) == hash(rep)
    assert str(back) == text
    assert repr(rep) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2 * irrep(Dihedral(4), (1, 1)) + regular(Dihedral(4))",
            2 * irrep(Dihedral(4), (1, 1)) + regular(Dihedral(4)),
        ),
        ("irrep(O3(), [1, -1])", irrep(O3(), (1, -1))),
        ("irrep(SO3(), 2) * 3", 3 * irrep(SO3(), 2)),
        ("  tensor(standard(SO(3)), standard(SO(3)))  ", standard(SO3()).tensor(standard(SO3()))),
        (
            "restrict(standard(O3()), O2(), axis=(1, 1, 0))",
            standard(O3()).restrict(inclusion(O2(), O3(), axis=(1.0, 1.0, 0.0))),
        ),
        ("restrict(standard(O3()), O2(), axis=[0, 0, 2])", standard(O3()).restrict(O2())),
        ("standard(E(2))", pullback(standard(O2()), E(2))),
        ("direct_sum(trivial(SO2()), standard(SO2()))", trivial(SO2()) + standard(SO2())),
        (
            "change_basis(standard(SO2()), [[0, 1], [1, 0]])",
            change_basis(standard(SO2()), [[0.0, 1.0], [1.0, 0.0]]),
        ),
        ("quotient(Dihedral(4), Trivial())", regular(Dihedral(4))),
    ],
)
def test_hand_written_strings(text: str, expected: Rep) -> None:
    assert parse_rep(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("__import__('os')", r"cannot read \"__import__\('os'\)\""),
        ("__import__('os').system('true')", "cannot read"),
        ("standard(SO3()).__class__", r"cannot read 'standard\(SO3\(\)\).__class__'"),
        ("standard(O3().__class__)", r"cannot read 'O3\(\).__class__'"),
        ("standard(SO3(), **__import__('os').environ)", r"not \*\*mapping"),
        ("standard(*[SO3()])", "cannot read"),
        ("open('/etc/passwd')", "cannot read"),
        ("(lambda: standard(SO3()))()", "cannot read"),
        ("[standard(SO3()) for _ in ()]", "cannot read"),
        ("standard(SO3())[0]", "cannot read"),
        ("'standard(SO3())'", "cannot read"),
        ("2 ** 3 * trivial(SO3())", "cannot read"),
        ("x", "cannot read 'x'"),
        ("standard(SO3()) +", "is not a representation expression"),
        ("Cyclic(4)", "describes a Cyclic, not a Rep"),
        ("3", "describes a int, not a Rep"),
        ("standard(SO3()) * 0", r"rep \* k: expected a positive integer"),
        ("regular(SO2())", "regular: expected a finite group"),
    ],
)
def test_rejects_anything_else(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_rep(text)
