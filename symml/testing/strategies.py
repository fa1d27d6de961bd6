"""Hypothesis strategies for random representations: sums of irreps, standard and sign reps,
their tensor products and duals, for every group family symml's generic layers support.

Use them to test your own layers on many representations at once::

    from hypothesis import given
    from symml.testing.strategies import GROUPS, reps


    @given(reps(GROUPS["O3"]), reps(GROUPS["O3"]))
    def test_my_layer(rep_in, rep_out): ...

Needs the ``hypothesis`` package (in ``symml[dev]``).
"""

from __future__ import annotations

import contextlib

try:
    from hypothesis import strategies as st
except ImportError as err:  # a test-only dependency: say how to get it
    raise ImportError(
        "symml.testing.strategies needs hypothesis: pip install hypothesis (or symml[dev])"
    ) from err

from symml.groups import (
    SO,
    Cyclic,
    Dihedral,
    Group,
    O,
    Permutations,
    direct_product,
)
from symml.reps import Rep, irrep, irrep_keys, pullback, sign, standard, trivial

__all__ = ["GROUPS", "MAX_DIM", "leaves", "reps"]

GROUPS: dict[str, Group] = {
    "O2": O(2),
    "SO2": SO(2),
    "O3": O(3),
    "SO3": SO(3),
    "O4": O(4),
    "SO4": SO(4),
    "C5": Cyclic(5),
    "D4": Dihedral(4),
    "S4": Permutations(4),
    "SO2xC3": direct_product(SO(2), Cyclic(3)),
    "O3xS3": direct_product(O(3), Permutations(3)),
}
MAX_DIM = 24


def leaves(group: Group) -> list[Rep]:
    """Small building blocks of ``group``'s representations."""
    if group.product_factors:
        out = [trivial(group)]
        for i, f in enumerate(group.product_factors):
            out += [pullback(r, group, factor=i) for r in leaves(f)[1:]]
        return out
    out = [trivial(group), standard(group)]
    with contextlib.suppress(ValueError):  # no sign rep for SO(n) and odd cyclic groups
        out.append(sign(group))
    try:
        keys = irrep_keys(group, 2) if group.order is None else irrep_keys(group)
    except ValueError:
        keys = []  # irreps not tabulated (SO(n), O(n) for n >= 4): standard and tensors suffice
    out += [irrep(group, k) for k in keys if irrep(group, k).dim <= 5]
    return list(dict.fromkeys(out))


@st.composite
def reps(draw: st.DrawFn, group: Group, max_dim: int = MAX_DIM) -> Rep:
    """A random rep of ``group``: a sum of up to 3 terms, each a leaf, a dual, or a tensor
    product of two leaves, with a random multiplicity; at most ``max_dim`` dimensions."""
    pool = leaves(group)
    terms: list[Rep] = []
    dim = 0
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["leaf", "dual", "tensor"]))
        a = draw(st.sampled_from(pool))
        term = a
        if kind == "dual":
            term = a.dual()
        elif kind == "tensor":
            b = draw(st.sampled_from(pool))
            if a.dim * b.dim <= max_dim:
                term = a.tensor(b)
        copies = draw(st.integers(1, 2))
        if dim + copies * term.dim > max_dim:
            continue
        terms.append(copies * term if copies > 1 else term)
        dim += copies * term.dim
    if not terms:
        terms = [pool[0]]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out
