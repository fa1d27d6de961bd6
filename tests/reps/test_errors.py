"""Every user-facing error of symml.reps: the right type, naming the argument, what was expected
and what was got (STYLE rule 6)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import pytest
import torch

from symml.groups import (
    O2,
    O3,
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
)
from symml.reps import (
    change_basis,
    decompose,
    direct_sum,
    escnn_group,
    from_e3nn,
    irrep,
    irrep_keys,
    pullback,
    quotient,
    regular,
    sign,
    standard,
    to_e3nn,
    to_escnn,
)

VALUE_ERRORS: list[tuple[str, Callable[[], object], str]] = [
    (
        "C4 rep at D4 elements",
        lambda: regular(Cyclic(4))(Dihedral(4).elements()),
        re.escape("expected elements of Cyclic(4) (got elements of Dihedral(4))"),
    ),
    (
        "irrep key of C4",
        lambda: irrep(Cyclic(4), 3),
        re.escape("irrep: 3 is not an irrep of Cyclic(4); expected one of [0, 1, 2]"),
    ),
    (
        "irrep key of D4",
        lambda: irrep(Dihedral(4), (0, 1)),
        re.escape("irrep: (0, 1) is not an irrep of Dihedral(4); expected one of [(0, 0),"),
    ),
    (
        "irrep key of SO3",
        lambda: irrep(SO3(), -1),
        re.escape("irrep: -1 is not an irrep of SO3(); expected an integer frequency k >= 0"),
    ),
    (
        "irrep key of O3",
        lambda: irrep(O3(), (1, 2)),
        re.escape("irrep: (1, 2) is not an irrep of O3(); expected (l, p) with l >= 0 and parity"),
    ),
    (
        "irrep key of O2",
        lambda: irrep(O2(), (0, 1)),
        re.escape("(0, 1) is not an irrep of O2(); expected (0, 0), (1, 0) or (1, k)"),
    ),
    (
        "irrep key of S3",
        lambda: irrep(Permutations(3), (2, 2)),
        re.escape("(2, 2) is not an irrep of Permutations(3); expected a partition of 3"),
    ),
    (
        "bool is not a frequency",
        lambda: irrep(SO2(), True),
        re.escape("True is not an irrep of SO2()"),
    ),
    (
        "irrep of p4 names the point group's keys",
        lambda: irrep(p4(), (1, 1)),
        re.escape("(1, 1) is not an irrep of Cyclic(4)"),
    ),
    (
        "sum of reps of different groups",
        lambda: standard(Cyclic(4)) + standard(Dihedral(4)),
        re.escape("+: representations of different groups (Cyclic(4) and Dihedral(4))"),
    ),
    (
        "tensor of reps of different groups",
        lambda: standard(SO3()).tensor(standard(O3())),
        re.escape("tensor: representations of different groups (SO3() and O3())"),
    ),
    (
        "direct_sum of reps of different groups",
        lambda: direct_sum(standard(SO2()), standard(O2())),
        re.escape("direct_sum: representations of different groups (SO2() and O2())"),
    ),
    ("empty direct_sum", lambda: direct_sum(), "direct_sum: expected at least one representation"),
    (
        "rep * 0",
        lambda: standard(SO3()) * 0,
        re.escape("rep * k: expected a positive integer number of copies (got 0)"),
    ),
    (
        "rep * 1.5",
        lambda: standard(SO3()) * 1.5,  # type: ignore[operator]
        re.escape("rep * k: expected a positive integer number of copies (got 1.5)"),
    ),
    (
        "True * rep",
        lambda: True * standard(SO3()),
        re.escape("rep * k: expected a positive integer number of copies (got True)"),
    ),
    (
        "regular of SO2",
        lambda: regular(SO2()),
        re.escape("regular: expected a finite group (got SO2(), which is infinite)"),
    ),
    (
        "quotient of SO3",
        lambda: quotient(SO3(), Cyclic(2)),
        re.escape("quotient: expected a finite group (got SO3())"),
    ),
    (
        "quotient by a non-subgroup",
        lambda: quotient(Dihedral(4), Cyclic(3)),
        re.escape("Cyclic(3) is not a subgroup of Dihedral(4)"),
    ),
    (
        "change_basis with a non-orthogonal matrix",
        lambda: change_basis(standard(SO2()), [[1.0, 1.0], [0.0, 1.0]]),
        r"change_basis: expected an orthogonal matrix \(Q Qᵀ = I .*got max \|Q Qᵀ - I\| = 1\)",
    ),
    (
        "change_basis with a wrongly sized matrix",
        lambda: change_basis(standard(SO2()), torch.eye(3)),
        re.escape("change_basis: expected a 2x2 matrix (got [3, 3])"),
    ),
    (
        "change_basis with a vector",
        lambda: change_basis(standard(SO2()), torch.tensor([1.0, 0.0])),
        re.escape("change_basis: expected a matrix (got shape [2])"),
    ),
    (
        "sign of SO3",
        lambda: sign(SO3()),
        re.escape("sign: SO3() has no sign representation"),
    ),
    (
        "sign of C5",
        lambda: sign(Cyclic(5)),
        re.escape("sign: Cyclic(5) has no sign representation"),
    ),
    (
        "standard of Trivial",
        lambda: standard(Trivial()),
        re.escape("standard: Trivial() has no standard representation"),
    ),
    (
        "pullback of a rep of another point group",
        lambda: pullback(standard(SO3()), E(3)),
        re.escape("pullback: expected a rep of the point group O3() (got one of SO3())"),
    ),
    (
        "pullback to a group without translations",
        lambda: pullback(standard(O3()), O3()),
        re.escape(
            "pullback: expected a SemidirectProduct such as E(3) or a DirectProduct (got O3())"
        ),
    ),
    (
        "restrict to a non-subgroup",
        lambda: standard(Cyclic(4)).restrict(Cyclic(3)),
        re.escape("Cyclic(3) is not a subgroup of Cyclic(4)"),
    ),
    (
        "restrict along an inclusion into another group",
        lambda: standard(Cyclic(4)).restrict(inclusion(Cyclic(2), Dihedral(4))),
        re.escape("restrict: the inclusion goes into Dihedral(4), but this rep is of Cyclic(4)"),
    ),
    (
        "irrep_keys of SO3 without bandlimit",
        lambda: irrep_keys(SO3()),
        re.escape("irrep_keys: SO3() has infinitely many irreps; pass a bandlimit"),
    ),
    (
        "from_e3nn with group C4",
        lambda: from_e3nn("1x0e", group=Cyclic(4)),
        re.escape("from_e3nn: expected group O3() or SO3() (got Cyclic(4))"),
    ),
    (
        "to_e3nn of a D4 rep",
        lambda: to_e3nn(regular(Dihedral(4))),
        re.escape("to_e3nn: expected a rep of O3() or SO3() (got one of Dihedral(4))"),
    ),
    (
        "decompose O(5) std ⊗ std",
        lambda: decompose(standard(Orthogonal(5)).tensor(standard(Orthogonal(5)))),
        r"decompose: the irreps of Orthogonal\(5\) that symml tabulates span 1 of the 25 "
        r"dimensions .*not tabulated \(intertwiners\(\) still works",
    ),
    (
        "decompose SO(4) std",
        lambda: decompose(standard(SpecialOrthogonal(4))),
        r"the irreps of SpecialOrthogonal\(4\) that symml tabulates span 0 of the 4 dimensions",
    ),
    (
        "escnn interop of SO3",
        lambda: escnn_group(SO3()),
        re.escape("escnn interop supports Cyclic, Dihedral, SO2 and O2 (got SO3())"),
    ),
]


@pytest.mark.parametrize(
    ("call", "match"), [pytest.param(c, m, id=name) for name, c, m in VALUE_ERRORS]
)
def test_value_errors(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


TYPE_ERRORS: list[tuple[str, Callable[[], object], str]] = [
    (
        "raw tensor instead of Elements",
        lambda: regular(Cyclic(4))(torch.tensor([0])),  # type: ignore[arg-type]
        re.escape("expected symml Elements of Cyclic(4) (got Tensor); wrap raw tensors with"),
    ),
    (
        "tensor with a non-rep",
        lambda: standard(SO3()).tensor(3),  # type: ignore[arg-type]
        re.escape("tensor: expected a Rep (got int)"),
    ),
    (
        "rep + int",
        lambda: standard(SO3()) + 1,  # type: ignore[operator]
        "unsupported operand",
    ),
]


@pytest.mark.parametrize(
    ("call", "match"), [pytest.param(c, m, id=name) for name, c, m in TYPE_ERRORS]
)
def test_type_errors(call: Callable[[], object], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call()


def test_missing_escnn_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the optional extra, the escnn converters raise an ImportError naming it."""
    monkeypatch.setitem(sys.modules, "escnn.group", None)  # makes `import escnn.group` fail
    with pytest.raises(ImportError, match=re.escape("pip install 'symml[steerable]'")):
        escnn_group(Cyclic(4))
    with pytest.raises(ImportError, match="optional extra"):
        to_escnn(regular(Cyclic(4)))


def test_reps_are_immutable() -> None:
    rep = irrep(SO3(), 2)
    with pytest.raises(AttributeError):
        rep.key = 3  # type: ignore[attr-defined]
    assert rep == irrep(SO3(), 2)
