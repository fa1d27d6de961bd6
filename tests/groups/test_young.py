"""Tests for Young's orthogonal form of the irreps of S_n (symml.groups._young)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from symml.groups._young import (
    adjacent_transposition_matrices,
    hook_length_dimension,
    irrep_matrices,
    partitions,
    permutation_to_adjacent_transpositions,
    standard_tableaux,
)

ATOL = 1e-10


def _compose(f: tuple[int, ...], g: tuple[int, ...]) -> tuple[int, ...]:
    """(f o g)(i) = f(g(i))."""
    return tuple(f[g[i]] for i in range(len(g)))


def _sign(perm: tuple[int, ...]) -> int:
    """Sign from the cycle decomposition: (-1)^(n - number of cycles)."""
    seen, cycles = set(), 0
    for start in range(len(perm)):
        if start not in seen:
            cycles += 1
            k = start
            while k not in seen:
                seen.add(k)
                k = perm[k]
    return (-1) ** (len(perm) - cycles)


def _all_perms(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.long)


def _shapes(max_n: int) -> list[tuple[int, ...]]:
    return [s for n in range(1, max_n + 1) for s in partitions(n)]


@st.composite
def _perm_pair(draw: st.DrawFn) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    n = draw(st.integers(2, 6))
    sigma = tuple(draw(st.permutations(range(n))))
    tau = tuple(draw(st.permutations(range(n))))
    return n, sigma, tau


@pytest.mark.parametrize(
    ("n", "count"), [(1, 1), (2, 2), (3, 3), (4, 5), (5, 7), (6, 11), (7, 15), (8, 22)]
)
def test_partition_counts_and_order(n: int, count: int) -> None:
    parts = partitions(n)
    assert len(parts) == count
    assert len(set(parts)) == count
    assert parts[0] == (n,)
    assert parts[-1] == (1,) * n
    assert parts == sorted(parts, reverse=True)  # reverse lexicographic
    for p in parts:
        assert sum(p) == n
        assert all(a >= b >= 1 for a, b in zip(p, p[1:] + (1,), strict=True))


def test_partitions_rejects_nonpositive() -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        partitions(0)


@pytest.mark.parametrize(
    ("shape", "dim"),
    [
        ((1,), 1),
        ((2, 1), 2),
        ((2, 2), 2),
        ((3, 2), 5),
        ((3, 1, 1), 6),
        ((3, 2, 1), 16),
        ((4, 2, 1), 35),
    ],
)
def test_hook_length_known_values(shape: tuple[int, ...], dim: int) -> None:
    assert hook_length_dimension(shape) == dim


@pytest.mark.parametrize("shape", _shapes(7))
def test_tableaux_are_standard_and_counted_by_hook_formula(shape: tuple[int, ...]) -> None:
    n = sum(shape)
    tabs = standard_tableaux(shape)
    assert len(tabs) == hook_length_dimension(shape)
    assert len(set(tabs)) == len(tabs)
    # last-letter order: the row holding n - 1 is non-decreasing along the list
    rows_of_last = [next(r for r, row in enumerate(t) if n - 1 in row) for t in tabs]
    assert rows_of_last == sorted(rows_of_last)
    for t in tabs:
        assert tuple(len(row) for row in t) == shape
        assert sorted(v for row in t for v in row) == list(range(n))
        assert all(a < b for row in t for a, b in zip(row, row[1:], strict=False))
        assert all(t[r][c] < t[r + 1][c] for r in range(len(t) - 1) for c in range(len(t[r + 1])))


@pytest.mark.parametrize("n", range(1, 7))
def test_sum_of_squared_dims_is_group_order(n: int) -> None:
    assert sum(hook_length_dimension(s) ** 2 for s in partitions(n)) == math.factorial(n)


@pytest.mark.parametrize("shape", _shapes(6))
def test_generators_orthogonal_and_coxeter(shape: tuple[int, ...]) -> None:
    gens = adjacent_transposition_matrices(shape)
    n, d = sum(shape), hook_length_dimension(shape)
    assert gens.shape == (n - 1, d, d)
    assert gens.dtype == torch.float64
    eye = torch.eye(d, dtype=torch.float64)
    for i in range(n - 1):
        s = gens[i]
        torch.testing.assert_close(s @ s.T, eye, atol=ATOL, rtol=0)
        torch.testing.assert_close(s @ s, eye, atol=ATOL, rtol=0)
        if i + 1 < n - 1:
            t = gens[i + 1]
            torch.testing.assert_close(s @ t @ s, t @ s @ t, atol=ATOL, rtol=0)
        for j in range(i + 2, n - 1):
            torch.testing.assert_close(s @ gens[j], gens[j] @ s, atol=ATOL, rtol=0)


@pytest.mark.parametrize("shape", _shapes(6))
def test_generator_diagonal_is_inverse_axial_distance(shape: tuple[int, ...]) -> None:
    gens = adjacent_transposition_matrices(shape)
    for k, t in enumerate(standard_tableaux(shape)):
        content = {v: c - r for r, row in enumerate(t) for c, v in enumerate(row)}
        for i in range(sum(shape) - 1):
            expected = 1.0 / (content[i + 1] - content[i])
            assert gens[i, k, k].item() == pytest.approx(expected, abs=ATOL)


def test_generator_cache_is_not_mutable_by_callers() -> None:
    first = adjacent_transposition_matrices((3, 2))
    reference = first.clone()
    first.fill_(7.0)
    torch.testing.assert_close(adjacent_transposition_matrices((3, 2)), reference)
    standard_tableaux((3, 2)).clear()
    assert len(standard_tableaux((3, 2))) == 5


@seed(1234)
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7).flatmap(lambda n: st.permutations(range(n))))
def test_word_multiplies_to_permutation(perm: list[int]) -> None:
    n = len(perm)
    word = permutation_to_adjacent_transpositions(perm)
    product = tuple(range(n))
    for a in word:
        s = list(range(n))
        s[a], s[a + 1] = a + 1, a
        product = _compose(product, tuple(s))
    assert product == tuple(perm)
    inversions = sum(perm[i] > perm[j] for i in range(n) for j in range(i + 1, n))
    assert len(word) == inversions


@seed(2024)
@settings(max_examples=150, deadline=None)
@given(_perm_pair())
def test_homomorphism(data: tuple[int, tuple[int, ...], tuple[int, ...]]) -> None:
    n, sigma, tau = data
    perms = torch.tensor([sigma, tau, _compose(sigma, tau), tuple(range(n))])
    for shape in partitions(n):
        rs, rt, rst, rid = irrep_matrices(shape, perms)
        torch.testing.assert_close(rs @ rt, rst, atol=ATOL, rtol=0)
        torch.testing.assert_close(rs @ rs.T, rid, atol=ATOL, rtol=0)
        torch.testing.assert_close(rid, torch.eye(rid.shape[0], dtype=torch.float64))


@pytest.mark.parametrize("n", range(1, 6))
def test_trivial_and_sign_irreps(n: int) -> None:
    perms = _all_perms(n)
    trivial = irrep_matrices((n,), perms)
    sign = irrep_matrices((1,) * n, perms)
    assert trivial.shape == sign.shape == (len(perms), 1, 1)
    torch.testing.assert_close(trivial, torch.ones_like(trivial))
    expected = torch.tensor([_sign(tuple(p)) for p in perms.tolist()], dtype=torch.float64)
    torch.testing.assert_close(sign[:, 0, 0], expected)


@pytest.mark.parametrize("n", range(2, 7))
def test_standard_irrep_character_is_fixed_points_minus_one(n: int) -> None:
    perms = _all_perms(n)
    chars = irrep_matrices((n - 1, 1), perms).diagonal(dim1=1, dim2=2).sum(-1)
    fixed = (perms == torch.arange(n)).sum(1).to(torch.float64)
    torch.testing.assert_close(chars, fixed - 1, atol=ATOL, rtol=0)


@pytest.mark.parametrize("n", range(1, 6))
def test_schur_orthogonality_of_characters(n: int) -> None:
    perms = _all_perms(n)
    shapes = partitions(n)
    chars = torch.stack([irrep_matrices(s, perms).diagonal(dim1=1, dim2=2).sum(-1) for s in shapes])
    gram = chars @ chars.T / math.factorial(n)
    torch.testing.assert_close(gram, torch.eye(len(shapes), dtype=torch.float64), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 2), "non-increasing"),
        ((2, 0), "positive"),
        ((3, -1), "positive"),
        ((), "non-empty"),
        ((2.0, 1), "ints"),
    ],
)
def test_invalid_shapes(shape: tuple[int, ...], match: str) -> None:
    for fn in (standard_tableaux, hook_length_dimension, adjacent_transposition_matrices):
        with pytest.raises(ValueError, match=match):
            fn(shape)
    with pytest.raises(ValueError, match=match):
        irrep_matrices(shape, torch.tensor([[0, 1, 2]]))


def test_invalid_perms() -> None:
    with pytest.raises(ValueError, match=r"shape \[B, 3\]"):
        irrep_matrices((2, 1), torch.tensor([[0, 1, 2, 3]]))
    with pytest.raises(ValueError, match=r"shape \[B, 3\]"):
        irrep_matrices((2, 1), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="permutation of 0..2"):
        irrep_matrices((2, 1), torch.tensor([[0, 1, 2], [0, 0, 1]]))
    with pytest.raises(ValueError, match="permutation of 0..2"):
        irrep_matrices((2, 1), torch.tensor([[0, 1, 3]]))
    with pytest.raises(ValueError, match="integer tensor"):
        irrep_matrices((2, 1), torch.tensor([[0.0, 1.0, 2.0]]))
    with pytest.raises(ValueError, match="permutation of 0..2"):
        permutation_to_adjacent_transpositions([2, 2, 0])


def test_empty_batch() -> None:
    out = irrep_matrices((2, 1), torch.empty(0, 3, dtype=torch.long))
    assert out.shape == (0, 2, 2)
