"""The quaternion group Q8, the worked example of docs/groups.md: Hamilton's relations, the group
axioms on hypothesis-drawn elements, left multiplication as its standard action, its irreps
(four real ones and H, of quaternionic type), and the doc's excerpts of its file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import Elements, Quaternion
from symml.groups import quaternion as quaternion_module
from symml.reps import decompose, intertwiners, irrep, regular, sign, standard, trivial
from symml.testing import assert_group_axioms, assert_homomorphism

ROOT = Path(__file__).resolve().parents[2]
Q8 = Quaternion()
F64 = torch.float64
INDICES = st.lists(st.integers(0, 7), min_size=1, max_size=16)


def _q(name: str) -> Elements:
    minus, unit = name.startswith("-"), name.lstrip("-")
    return Q8.element([4 * minus + "1ijk".index(unit)])


def _as_quaternion(g: Elements) -> torch.Tensor:
    """Each element as a unit quaternion ``(w, x, y, z)``: the image of 1 under it."""
    return Q8.matrices(g, dtype=F64)[:, :, 0]


def _hamilton(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The quaternion product of rows ``(w, x, y, z)``."""
    w1, x1, y1, z1 = p.unbind(-1)
    w2, x2, y2, z2 = q.unbind(-1)
    return torch.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        -1,
    )


def test_hamilton_relations() -> None:
    minus_one = _q("-1")
    for g in ("i", "j", "k"):
        assert bool((_q(g) @ _q(g) == minus_one).all())
    assert bool((_q("i") @ _q("j") @ _q("k") == minus_one).all())
    assert bool((_q("i") @ _q("j") == _q("k")).all()) and bool(
        (_q("j") @ _q("i") == _q("-k")).all()
    )
    assert Q8.describe(Q8.elements().data) == "[1, i, j, k, -1, -i, -j, -k]"


@given(a=INDICES, b=INDICES, c=INDICES)
def test_group_axioms(a: list[int], b: list[int], c: list[int]) -> None:
    n = min(len(a), len(b), len(c))
    x, y, z = (Q8.element(v[:n]) for v in (a, b, c))
    e = Q8.identity(n)
    assert bool(((x @ y) @ z == x @ (y @ z)).all())
    assert bool((x @ e == x).all()) and bool((e @ x == x).all())
    assert bool((x @ ~x == e).all()) and bool((~x @ x == e).all())


def test_harness_and_generators() -> None:
    assert_group_axioms(Q8)
    assert Q8.describe(Q8.generators.data) == "[i, j]"
    assert Q8.order == len(Q8.elements()) == 8


@given(a=INDICES, b=INDICES)
def test_standard_action_is_quaternion_multiplication(a: list[int], b: list[int]) -> None:
    """Left multiplication: ρ(g) x = g·x as quaternions, so ρ(gh) = ρ(g)ρ(h), det ρ(g) = 1."""
    n = min(len(a), len(b))
    g, h = Q8.element(a[:n]), Q8.element(b[:n])
    assert torch.equal(_as_quaternion(g @ h), _hamilton(_as_quaternion(g), _as_quaternion(h)))
    x = torch.randn(n, 4, dtype=F64, generator=torch.Generator().manual_seed(len(a)))
    moved = Q8.act_on_points(g, x[:, None, :])[:, 0]
    assert float((moved - _hamilton(_as_quaternion(g), x)).abs().max()) <= 1e-12
    assert torch.allclose(torch.linalg.det(Q8.matrices(g, dtype=F64)), torch.ones(n, dtype=F64))


def test_irreps() -> None:
    for key in Q8.irrep_keys():
        assert_homomorphism(irrep(Q8, key))
    assert [irrep(Q8, k).dim for k in Q8.irrep_keys()] == [1, 1, 1, 1, 4]
    g = Q8.elements()
    assert torch.equal(irrep(Q8, 4)(g, dtype=F64), standard(Q8)(g, dtype=F64))
    # the kernels of the one-dimensional irreps 1, 2, 3 are ⟨j⟩, ⟨i⟩, ⟨k⟩
    kernels = [
        [Q8.describe(g[i].data) for i in range(8) if irrep(Q8, key)(g[i])[0, 0, 0] > 0]
        for key in (1, 2, 3)
    ]
    assert kernels == [
        ["[1]", "[j]", "[-1]", "[-j]"],
        ["[1]", "[i]", "[-1]", "[-i]"],
        ["[1]", "[k]", "[-1]", "[-k]"],
    ]
    assert trivial(Q8) == irrep(Q8, 0)
    with pytest.raises(ValueError, match="Quaternion.. has no sign representation"):
        sign(Q8)
    with pytest.raises(
        ValueError,
        match=re.escape("5 is not an irrep of Quaternion(); expected one of [0, 1, 2, 3, 4]"),
    ):
        irrep(Q8, 5)


def test_h_is_of_quaternionic_type() -> None:
    """End_G(H) is the quaternions (dimension 4), and the regular rep holds each irrep once."""
    assert intertwiners(irrep(Q8, 4), irrep(Q8, 4)).shape[0] == 4
    chi = Q8.character_table()
    assert torch.equal(chi @ chi.T / 8, torch.diag(torch.tensor([1.0, 1, 1, 1, 4], dtype=F64)))
    assert decompose(regular(Q8)).irreps == tuple((irrep(Q8, k), 1) for k in range(5))


def test_doc_excerpts_are_the_file() -> None:
    """docs/groups.md quotes quaternion.py in ```py blocks; they must still be in the file."""
    doc = (ROOT / "docs" / "groups.md").read_text(encoding="utf-8")
    source = Path(quaternion_module.__file__).read_text(encoding="utf-8")
    excerpts = re.findall(r"```py\n(.*?)```", doc, flags=re.S)
    assert len(excerpts) >= 4
    for excerpt in excerpts:
        # a quoted method stands dedented in the doc (ruff formats the doc's code blocks)
        method = textwrap.indent(excerpt, "    ", lambda line: bool(line.strip()))
        assert excerpt in source or method in source, (
            f"docs/groups.md quotes code that is not in quaternion.py:\n{excerpt}"
        )
