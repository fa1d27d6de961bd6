"""Real orthogonal irreducible representations of the symmetric group S_n.

The irreps of S_n are labelled by partitions lambda of n. Young's orthogonal form realises the
irrep lambda on the real vector space with orthonormal basis {e_T}, T ranging over the standard
Young tableaux of shape lambda (filled with 0..n-1). The adjacent transposition s_i = (i, i+1)
acts on e_T via the axial distance r = c(i+1) - c(i), where c(k) = column - row of the box of k:

    rho(s_i) e_T = (1/r) e_T + sqrt(1 - 1/r^2) e_{s_i T}.

If i, i+1 share a row then r = 1 and s_i T is not standard (the second term vanishes); if they
share a column then r = -1. Otherwise s_i T is standard with axial distance -r, so {e_T, e_{s_i T}}
spans an invariant plane on which rho(s_i) is the symmetric involution
[[1/r, sqrt(1 - 1/r^2)], [sqrt(1 - 1/r^2), -1/r]]. All matrices are orthogonal and satisfy the
Coxeter relations of S_n, hence extend to a homomorphism on all of S_n.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

Shape = tuple[int, ...]
Tableau = tuple[tuple[int, ...], ...]


def _check_shape(shape: Sequence[int]) -> Shape:
    """Validate a partition and return it as a tuple of Python ints."""
    parts = tuple(shape)
    if len(parts) == 0 or not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        raise ValueError(f"shape must be a non-empty sequence of ints, got {shape!r}")
    if any(p < 1 for p in parts):
        raise ValueError(f"shape must have positive parts, got {shape!r}")
    if any(a < b for a, b in zip(parts, parts[1:], strict=False)):
        raise ValueError(f"shape must be non-increasing, got {shape!r}")
    return parts


def partitions(n: int) -> list[Shape]:
    """All partitions of n in reverse lexicographic order.

    Args:
        n: Positive integer.

    Returns:
        List of non-increasing tuples summing to n, from (n,) (trivial irrep) down to (1,) * n
        (sign irrep).

    Raises:
        ValueError: If n < 1.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got n={n}")

    def rec(m: int, largest: int) -> list[Shape]:
        if m == 0:
            return [()]
        return [(k, *rest) for k in range(min(m, largest), 0, -1) for rest in rec(m - k, k)]

    return rec(n, n)


@functools.lru_cache(maxsize=128)
def _tableaux(shape: Shape) -> tuple[Tableau, ...]:
    n = sum(shape)
    if n == 1:
        return (((0,),),)
    out: list[Tableau] = []
    for r, length in enumerate(shape):  # place n - 1 in the corner of row r (top row first)
        if r + 1 < len(shape) and shape[r + 1] == length:
            continue  # not a removable corner
        smaller = tuple(p for p in shape[:r] + (length - 1,) + shape[r + 1 :] if p > 0)
        for t in _tableaux(smaller):
            rows = [list(row) for row in t] + [[]]
            rows[r].append(n - 1)
            out.append(tuple(tuple(row) for row in rows if row))
    return tuple(out)


def standard_tableaux(shape: Sequence[int]) -> list[Tableau]:
    """All standard Young tableaux of a shape, in last-letter order.

    Tableaux are ordered by the row of the largest entry n-1 (top row first), ties broken
    recursively by the tableau of the remaining entries 0..n-2.

    Args:
        shape: Partition of n (non-increasing positive ints).

    Returns:
        List of tableaux, each a tuple of rows holding the entries 0..n-1, rows and columns
        strictly increasing. Its length is hook_length_dimension(shape).
    """
    return list(_tableaux(_check_shape(shape)))


def hook_length_dimension(shape: Sequence[int]) -> int:
    """Dimension of the irrep lambda by the hook length formula d = n! / prod(hooks).

    Args:
        shape: Partition of n.

    Returns:
        Number of standard Young tableaux of the shape.
    """
    parts = _check_shape(shape)
    cols = [sum(1 for p in parts if p > c) for c in range(parts[0])]
    hooks = math.prod(p - c + cols[c] - r - 1 for r, p in enumerate(parts) for c in range(p))
    return math.factorial(sum(parts)) // hooks


@functools.lru_cache(maxsize=128)
def _generators(shape: Shape) -> torch.Tensor:
    tabs = _tableaux(shape)
    n, d = sum(shape), len(tabs)
    index = {t: k for k, t in enumerate(tabs)}
    mats = torch.zeros(max(n - 1, 0), d, d, dtype=torch.float64)
    for k, t in enumerate(tabs):
        pos = {v: (r, c) for r, row in enumerate(t) for c, v in enumerate(row)}
        for i in range(n - 1):
            (r0, c0), (r1, c1) = pos[i], pos[i + 1]
            axial = (c1 - r1) - (c0 - r0)
            mats[i, k, k] = 1.0 / axial
            if r0 != r1 and c0 != c1:
                swap = {i: i + 1, i + 1: i}
                partner = index[tuple(tuple(swap.get(v, v) for v in row) for row in t)]
                mats[i, partner, k] = math.sqrt(1.0 - 1.0 / axial**2)
    return mats


def adjacent_transposition_matrices(shape: Sequence[int]) -> torch.Tensor:
    """Young's orthogonal form of the adjacent transpositions s_i = (i, i+1).

    Args:
        shape: Partition lambda of n, with d = hook_length_dimension(lambda).

    Returns:
        Tensor [n-1, d, d] float64; entry i is rho_lambda(s_i) in the basis of
        standard_tableaux(shape). Each is symmetric, orthogonal and an involution. A fresh copy of
        a per-shape cached tensor is returned.
    """
    return _generators(_check_shape(shape)).clone()


def permutation_to_adjacent_transpositions(perm: Sequence[int]) -> list[int]:
    """A reduced word in adjacent transpositions for a permutation.

    With perm[i] the image of i and composition (f o g)(i) = f(g(i)), the returned word
    [a_1, ..., a_k] satisfies perm = s_{a_1} o s_{a_2} o ... o s_{a_k}, hence
    rho(perm) = rho(s_{a_1}) @ ... @ rho(s_{a_k}). k is the number of inversions of perm.

    Args:
        perm: Permutation of 0..n-1 in one-line notation.

    Returns:
        List of indices a in 0..n-2 (a denotes s_a = (a, a+1)).
    """
    p = [int(v) for v in perm]
    if sorted(p) != list(range(len(p))):
        raise ValueError(f"perm must be a permutation of 0..{len(p) - 1}, got {list(perm)}")
    swaps: list[int] = []
    for end in range(len(p) - 1, 0, -1):  # bubble sort: p o s_j swaps positions j, j+1
        for j in range(end):
            if p[j] > p[j + 1]:
                p[j], p[j + 1] = p[j + 1], p[j]
                swaps.append(j)
    return swaps[::-1]  # perm o s_{j1} o ... o s_{jk} = id  =>  perm = s_{jk} o ... o s_{j1}


def irrep_matrices(shape: Sequence[int], perms: torch.Tensor) -> torch.Tensor:
    """Matrices of a batch of permutations in the orthogonal irrep lambda.

    rho(sigma) rho(tau) = rho(sigma o tau) with (sigma o tau)(i) = sigma(tau(i)). Validation is
    vectorised; the products are a Python loop over the batch and each reduced word (cost
    O(B * n^2) matrix products), acceptable because this is only used to tabulate small groups.

    Args:
        shape: Partition lambda of n, with d = hook_length_dimension(lambda).
        perms: Integer tensor [B, n]; perms[b, i] is the image of i under permutation b.

    Returns:
        Tensor [B, d, d] float64 (on CPU).

    Raises:
        ValueError: If shape is not a partition, perms is not [B, n] integer-valued, or a row of
            perms is not a permutation of 0..n-1.
    """
    parts = _check_shape(shape)
    n = sum(parts)
    if perms.ndim != 2 or perms.shape[1] != n:
        raise ValueError(
            f"perms must have shape [B, {n}] for shape {parts}, got {list(perms.shape)}"
        )
    if perms.dtype.is_floating_point or perms.dtype.is_complex or perms.dtype == torch.bool:
        raise ValueError(f"perms must be an integer tensor, got dtype {perms.dtype}")
    p = perms.detach().to("cpu", torch.long)
    if not bool((p.sort(dim=1).values == torch.arange(n)).all()):
        raise ValueError(f"every row of perms must be a permutation of 0..{n - 1}")
    gens = _generators(parts)
    d = gens.shape[-1]
    out = torch.empty(p.shape[0], d, d, dtype=torch.float64)
    for b, row in enumerate(p.tolist()):
        mat = torch.eye(d, dtype=torch.float64)
        for a in permutation_to_adjacent_transpositions(row):
            mat = mat @ gens[a]
        out[b] = mat
    return out
