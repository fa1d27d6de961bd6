"""Field types of a representation: its direct-sum parts, grouped by equal representation.

Equivariant layers work type by type: Hom(⊕_a m_a·a, ⊕_b m_b·b) = ⊕_{a,b} Hom(a, b)^{m_a m_b}, so
one small basis per pair of types serves every copy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.reps import Rep, constraint_generators
from symml.reps.product import FactorPullback
from symml.reps.rep import DirectSum, Pullback


@dataclass(frozen=True)
class FieldType:
    """One type of field in a representation and where its copies sit.

    Attributes:
        rep: the representation of one copy (dimension ``d``).
        offsets: start index of each copy in the full vector, ``m`` of them.
    """

    rep: Rep
    offsets: tuple[int, ...]

    @property
    def copies(self) -> int:
        return len(self.offsets)

    def indices(self) -> Tensor:
        """Indices ``[m, d]`` of the copies' coordinates in the full vector."""
        start = torch.tensor(self.offsets, dtype=torch.long)
        return start[:, None] + torch.arange(self.rep.dim)


def parts(rep: Rep) -> list[Rep]:
    """The direct-sum parts of ``rep`` (pull-backs of sums split into pull-backs of parts)."""
    if isinstance(rep, DirectSum):
        return [q for p in rep.parts for q in parts(p)]
    if isinstance(rep, Pullback) and isinstance(rep.rep, DirectSum):
        return [Pullback(p, rep.group) for p in parts(rep.rep)]
    if isinstance(rep, FactorPullback) and isinstance(rep.rep, DirectSum):
        return [FactorPullback(p, rep.group, rep.factor) for p in parts(rep.rep)]
    return [rep]


@functools.cache
def field_types(rep: Rep) -> tuple[FieldType, ...]:
    """The parts of ``rep`` grouped by (structurally) equal representation, in first-seen order."""
    offsets: dict[Rep, list[int]] = {}
    start = 0
    for part in parts(rep):
        offsets.setdefault(part, []).append(start)
        start += part.dim
    return tuple(FieldType(r, tuple(o)) for r, o in offsets.items())


@functools.cache
def is_trivial(rep: Rep) -> bool:
    """Whether ``rep`` is the one-dimensional trivial representation (checked on matrices:
    ρ(s) = 1 on the discrete generators, dρ(X) = 0 on the Lie algebra)."""
    if rep.dim != 1:
        return False
    n_discrete = len(rep.group.generators)
    mats = constraint_generators(rep)
    discrete, lie = mats[:n_discrete], mats[n_discrete:]
    return all(bool((m - 1).abs().max() < 1e-12) for m in discrete) and all(
        bool(m.abs().max() < 1e-12) for m in lie
    )


@functools.cache
def same_matrices(a: Rep, b: Rep) -> bool:
    """Whether ``a`` and ``b`` are the same representation as matrices (equal on the group's
    generators and Lie algebra, hence everywhere): then the identity is an intertwiner."""
    if a.group != b.group or a.dim != b.dim:
        return False
    return all(
        torch.allclose(x, y, atol=1e-10)
        for x, y in zip(constraint_generators(a), constraint_generators(b), strict=True)
    )
