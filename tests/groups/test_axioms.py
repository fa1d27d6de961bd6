"""Group laws for every group in symml.groups: identity, inverse, associativity, closure.

The laws are written out directly here and also checked through the `symml.testing` harness, so a
bug in either one shows up. Elements come from a hypothesis-drawn seed (``G.sample``) or from
hypothesis-drawn raw data (indices, angles) passed to ``G.element``.
"""

from __future__ import annotations

import math
from collections import deque

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

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
    Elements,
    FiniteGroup,
    Group,
    O,
    Permutations,
    Quaternion,
    Translations,
    Trivial,
    p4,
    p4m,
)
from symml.testing import assert_group_axioms

GROUPS: list[Group] = [
    Trivial(),
    Cyclic(1),
    Cyclic(5),
    Dihedral(1),
    Dihedral(6),
    SO2(),
    O2(),
    SO3(),
    O3(),
    SO(4),
    O(5),
    Translations(2),
    Translations(3, lattice=True),
    Permutations(1),
    Permutations(4),
    Quaternion(),
    p4(),
    p4m(),
    E(2),
    E(3),
    SE(2),
    SE(3),
]
FINITE = [G for G in GROUPS if G.is_finite] + [Cyclic(12), Dihedral(12), Permutations(6)]
SEEDS = st.integers(0, 2**32 - 1)
K = 7  # batch size of sampled elements


def _sample(
    group: Group, seed: int, k: int = K, dtype: torch.dtype = torch.float64
) -> tuple[Elements, Elements, Elements]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(group.sample(k, generator=gen, dtype=dtype) for _ in range(3))


def _all(mask: torch.Tensor) -> bool:
    assert mask.dtype == torch.bool
    return bool(mask.all())


# ----- the laws, written out ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("group", GROUPS, ids=repr)
@given(seed=SEEDS)
def test_laws_on_sampled_elements(group: Group, dtype: torch.dtype, seed: int) -> None:
    a, b, c = _sample(group, seed, dtype=dtype)
    e = group.identity(K)
    assert _all(e @ a == a) and _all(a @ e == a)
    assert _all(a @ ~a == e) and _all(~a @ a == e)
    assert _all(~~a == a)
    assert _all((a @ b) @ c == a @ (b @ c))
    assert _all(~(a @ b) == ~b @ ~a)
    # closure: a product is valid data of the group (validation raises otherwise), same layout
    ab = a @ b
    assert ab.group == group and ab.data.shape == a.data.shape
    assert ab.data.dtype == a.data.dtype
    group.element(ab.data)


@pytest.mark.parametrize("group", GROUPS, ids=repr)
@given(seed=SEEDS)
def test_single_element_broadcasts_against_a_batch(group: Group, seed: int) -> None:
    a, b, _ = _sample(group, seed)
    single = a[0]
    expected = Elements(group, single.data.expand_as(b.data))
    assert _all(single @ b == expected @ b)
    assert _all(b @ single == b @ expected)


@pytest.mark.parametrize("group", [G for G in GROUPS if not isinstance(G, Trivial)], ids=repr)
def test_equality_distinguishes_elements(group: Group) -> None:
    """Guards the laws above: `==` must not be vacuously true."""
    if group.is_finite:
        g = group.elements()
        same = torch.stack([g == g[i] for i in range(len(g))])
        assert torch.equal(same, torch.eye(len(g), dtype=torch.bool))
    else:
        a, b, _ = _sample(group, seed=3)
        assert _all(a == a) and not bool((a == b).any())


@pytest.mark.parametrize("group", GROUPS, ids=repr)
@pytest.mark.parametrize("seed", [0, 1])
def test_harness_group_axioms(group: Group, seed: int) -> None:
    assert_group_axioms(group, n=12, seed=seed)


def test_harness_catches_a_broken_group() -> None:
    class Broken(Cyclic):
        def _compose(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a - b) % self.n  # not associative

    with pytest.raises(AssertionError, match="associativity|identity|inverse"):
        assert_group_axioms(Broken(5))


# ----- elements from raw data -------------------------------------------------------------------
@st.composite
def _cyclic_indices(draw: st.DrawFn, kind: type) -> tuple[Group, list[int], list[int]]:
    group = kind(draw(st.integers(1, 12)))
    idx = st.lists(st.integers(0, group.order - 1), min_size=3, max_size=3)
    return group, draw(idx), draw(idx)


@given(_cyclic_indices(Cyclic))
def test_cyclic_composes_by_adding_exponents(case: tuple[Group, list[int], list[int]]) -> None:
    group, i, j = case
    a, b = group.element(i), group.element(j)
    expected = (torch.tensor(i) + torch.tensor(j)) % group.n
    assert torch.equal((a @ b).data, expected)
    assert torch.equal((~a).data, (-torch.tensor(i)) % group.n)
    assert_group_axioms(group, elements=a @ b)


@given(_cyclic_indices(Dihedral))
def test_dihedral_relations(case: tuple[Group, list[int], list[int]]) -> None:
    group, i, j = case
    n = group.n
    r, f = group.element([1 % n]), group.element([n])
    e = group.identity()
    g = group.element(i)
    # r^n = e, f^2 = e, f r f = r^-1, and element s*n + k is r^k f^s
    rn = e
    for _ in range(n):
        rn = rn @ r
    assert _all(rn == e) and _all(f @ f == e) and _all(f @ r @ f == ~r)
    s, k = group.split(g)
    rk = [group.element([int(kk)]) for kk in k]
    built = [rk_ @ (f if int(ss) else e) for rk_, ss in zip(rk, s, strict=True)]
    assert torch.equal(torch.cat([b.data for b in built]), g.data)
    # reflections are involutions; rotations commute with rotations
    h = group.element(j)
    assert _all((g @ g == e) | (s == 0))
    rot = group.element(torch.tensor(j) % n)
    assert _all(rot @ (g @ ~g) == rot) and _all((rot @ rot) @ rot == rot @ (rot @ rot))
    assert _all((g @ h) @ g == g @ (h @ g))


@given(
    st.lists(st.floats(-20, 20), min_size=4, max_size=4),
    st.lists(st.floats(-20, 20), min_size=4, max_size=4),
)
def test_so2_composes_by_adding_angles(x: list[float], y: list[float]) -> None:
    group = SO2()
    tx, ty = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    a, b = group.element(tx), group.element(ty)
    ab = a @ b
    assert _all(ab == group.element(tx + ty))
    assert bool(((ab.data >= 0) & (ab.data < 2 * math.pi)).all())  # wrapped to [0, 2π)
    assert _all(a @ ~a == group.identity(4))
    assert _all(group.element(tx + 2 * math.pi) == a)
    assert not bool((group.element(tx + 0.1) == a).any())


@given(st.integers(1, 6).flatmap(lambda n: st.lists(st.permutations(range(n)), min_size=2)))
def test_permutations_compose_as_functions(perms: list[list[int]]) -> None:
    n = len(perms[0])
    group = Permutations(n)
    a, b = group.element(perms[:1]), group.element(perms[1:])
    composed = (a @ b).data
    for row, tau in zip(composed.tolist(), perms[1:], strict=True):
        assert row == [perms[0][tau[i]] for i in range(n)]  # (στ)(i) = σ(τ(i))
    inv = (~b).data
    for row, tau in zip(inv.tolist(), perms[1:], strict=True):
        assert [row[tau[i]] for i in range(n)] == list(range(n))


# ----- finite groups: listing, Cayley table, generators -----------------------------------------
@pytest.mark.parametrize("group", FINITE, ids=repr)
def test_elements_are_distinct_and_indexed(group: FiniteGroup) -> None:
    g = group.elements()
    assert len(g) == group.order
    assert torch.equal(group.index_of(g), torch.arange(group.order))
    assert len({tuple(row) for row in g.data.reshape(group.order, -1).tolist()}) == group.order
    assert int(group.index_of(group.identity())[0]) == 0


@pytest.mark.parametrize("group", FINITE, ids=repr)
def test_cayley_table_is_a_latin_square_of_products(group: FiniteGroup) -> None:
    table = group.cayley_table
    n = group.order
    expected = torch.arange(n)
    assert table.shape == (n, n)
    assert torch.equal(table.sort(1).values, expected.expand(n, n))
    assert torch.equal(table.sort(0).values, expected[:, None].expand(n, n))
    # spot-check entries against compose, and the inverse table
    g = group.elements()
    gen = torch.Generator().manual_seed(n)
    i, j = torch.randint(n, (2, 16), generator=gen)
    assert torch.equal(group.index_of(g[i] @ g[j]), table[i, j])
    assert torch.equal(table[expected, group.inverse_table], torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize("group", FINITE, ids=repr)
def test_generators_generate_the_group(group: FiniteGroup) -> None:
    """Breadth-first search on the Cayley table from the identity by the generators."""
    gens = group.index_of(group.generators).tolist()
    table = group.cayley_table
    start = int(group.index_of(group.identity())[0])
    seen, queue = {start}, deque([start])
    while queue:
        i = queue.popleft()
        for s in gens:
            j = int(table[i, s])
            if j not in seen:
                seen.add(j)
                queue.append(j)
    assert seen == set(range(group.order))


@pytest.mark.parametrize(
    ("group", "n_generators"),
    [(Cyclic(6), 1), (Dihedral(6), 2), (Permutations(5), 2), (Trivial(), 0), (Cyclic(1), 0)],
    ids=repr,
)
def test_generating_sets_are_small(group: FiniteGroup, n_generators: int) -> None:
    assert len(group.generators) == n_generators


# ----- sampling: dtype, reproducibility ---------------------------------------------------------
@pytest.mark.parametrize("group", GROUPS, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_dtype(group: Group, dtype: torch.dtype) -> None:
    g = group.sample(5, generator=torch.Generator().manual_seed(0), device="cpu", dtype=dtype)
    exact = group.is_finite or getattr(group, "lattice", False)
    assert g.data.dtype == (torch.long if exact else dtype)
    assert len(g) == 5 and g.device == torch.device("cpu")
    group.element(g.data)  # samples are valid elements


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_sample_is_reproducible(group: Group) -> None:
    a = group.sample(6, generator=torch.Generator().manual_seed(11))
    b = group.sample(6, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a.data, b.data)
    assert len(group.sample(0)) == 0


@pytest.mark.parametrize("group", [SO3(), SO(4), SE(3)], ids=repr)
def test_special_groups_sample_rotations(group: Group) -> None:
    g = group.sample(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dets = torch.linalg.det(group.matrices(g))
    assert torch.allclose(dets, torch.ones(64, dtype=torch.float64))


@pytest.mark.parametrize("group", [O3(), O(5), E(2), O2()], ids=repr)
def test_orthogonal_groups_sample_both_components(group: Group) -> None:
    g = group.sample(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dets = torch.linalg.det(group.matrices(g)).round()
    assert set(dets.tolist()) == {-1.0, 1.0}
