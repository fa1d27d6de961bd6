"""Cross-check against e3nn: symml's SO(3)/O(3) irreps are e3nn's (same real basis), and reps
convert to and from e3nn ``Irreps``. e3nn builds its generators in float32, so its matrices are
compared at 1e-5."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from e3nn import o3
from hypothesis import given, settings
from hypothesis import strategies as st

from symml.groups import O3, SO3, Dihedral
from symml.reps import (
    Rep,
    change_basis,
    from_e3nn,
    irrep,
    regular,
    standard,
    to_e3nn,
)

F64 = torch.float64
E3NN_ATOL = 1e-5  # e3nn's so(3) generators are computed in float32
# e3nn's D_from_matrix has a fixed cost per call (up to ~0.3 s at l = 4 on a busy machine),
# so: fewer examples, bigger batches
FEW = settings(max_examples=8)
SEEDS = st.integers(0, 2**32 - 1)


def _sample(group: O3 | SO3, n: int, seed: int) -> torch.Tensor:
    return group.sample(n, generator=torch.Generator().manual_seed(seed), dtype=F64).data


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("l", range(5))
@pytest.mark.parametrize("p", [1, -1])
@FEW
@given(seed=SEEDS)
def test_o3_irreps_match_e3nn(l: int, p: int, seed: int) -> None:  # noqa: E741 - the degree
    """On random rotations and reflections (Haar on O(3): both components)."""
    r = _sample(O3(), 64, seed)
    assert bool((torch.linalg.det(r) < 0).any() and (torch.linalg.det(r) > 0).any())
    ours = irrep(O3(), (l, p))(O3().element(r), dtype=F64)
    theirs = o3.Irrep(l, p).D_from_matrix(r)
    assert _err(ours, theirs.to(F64)) <= E3NN_ATOL


@pytest.mark.parametrize("l", range(5))
@FEW
@given(seed=SEEDS)
def test_so3_irreps_match_e3nn(l: int, seed: int) -> None:  # noqa: E741 - the degree
    r = _sample(SO3(), 64, seed)
    ours = irrep(SO3(), l)(SO3().element(r), dtype=F64)
    theirs = o3.Irrep(l, (-1) ** l).D_from_matrix(r)
    assert _err(ours, theirs.to(F64)) <= E3NN_ATOL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2x0e + 1x1o", 2 * irrep(O3(), (0, 1)) + irrep(O3(), (1, -1))),
        ("1x1o", irrep(O3(), (1, -1))),
        ("3x2e", 3 * irrep(O3(), (2, 1))),
        (
            "1x0o + 2x1e + 1x3o",
            irrep(O3(), (0, -1)) + 2 * irrep(O3(), (1, 1)) + irrep(O3(), (3, -1)),
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_from_e3nn_and_back(text: str, expected: Rep) -> None:
    rep = from_e3nn(text)
    assert rep == expected
    assert to_e3nn(rep) == o3.Irreps(text)
    assert from_e3nn(o3.Irreps(text)) == rep  # an Irreps object is accepted too
    r = _sample(O3(), 8, 0)
    assert _err(rep(O3().element(r), dtype=F64), o3.Irreps(text).D_from_matrix(r)) <= E3NN_ATOL


def test_from_e3nn_with_so3() -> None:
    """With ``group=SO3()`` parities are dropped; `to_e3nn` puts back (-1)^l."""
    rep = from_e3nn("1x1o + 2x2e", group=SO3())
    assert rep == irrep(SO3(), 1) + 2 * irrep(SO3(), 2)
    assert to_e3nn(rep) == o3.Irreps("1x1o + 2x2e")


@pytest.mark.parametrize(
    "rep",
    [
        standard(O3()).tensor(standard(O3())),
        irrep(SO3(), 1).tensor(irrep(SO3(), 2)),
        irrep(O3(), (1, -1)).tensor(irrep(O3(), (2, 1))) + standard(O3()),
        change_basis(
            irrep(O3(), (2, -1)),
            torch.linalg.qr(
                torch.randn(5, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
            )[0],
        ),
        standard(O3()).dual(),
    ],
    ids=str,
)
@FEW
@given(seed=SEEDS)
def test_to_e3nn_with_change_of_basis(rep: Rep, seed: int) -> None:
    """``(irreps, Q)`` with ``rep(g) = Q · irreps.D_from_matrix(R) · Qᵀ``, Q orthogonal."""
    irreps, q = to_e3nn(rep, change_of_basis=True)
    assert irreps.dim == rep.dim
    assert _err(q @ q.T, torch.eye(rep.dim, dtype=F64)) <= 1e-10
    r = _sample(rep.group, 32, seed)  # type: ignore[arg-type]
    expected = q @ irreps.D_from_matrix(r).to(F64) @ q.T
    assert _err(rep(rep.group.element(r), dtype=F64), expected) <= E3NN_ATOL


def test_to_e3nn_of_a_plain_sum_has_identity_basis() -> None:
    rep = irrep(O3(), (0, 1)) + irrep(O3(), (2, -1))
    irreps, q = to_e3nn(rep, change_of_basis=True)
    assert irreps == o3.Irreps("1x0e + 1x2o")
    assert torch.equal(q, torch.eye(6, dtype=F64))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: from_e3nn("2x0e", group=Dihedral(4)), r"expected group O3\(\) or SO3\(\)"),
        (lambda: from_e3nn("not irreps"), r"cannot read e3nn irreps 'not irreps'"),
        (lambda: from_e3nn(""), r"from_e3nn: '' is empty"),
        (
            lambda: to_e3nn(regular(Dihedral(4))),
            r"expected a rep of O3\(\) or SO3\(\).*Dihedral\(4\)",
        ),
        (
            lambda: to_e3nn(standard(O3()).tensor(standard(O3()))),
            r"not a plain sum of irreps; pass change_of_basis=True",
        ),
    ],
    ids=["from-group", "from-garbage", "from-empty", "to-dihedral", "to-not-plain"],
)
def test_e3nn_conversion_errors(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
