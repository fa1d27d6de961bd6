"""Representations of direct products ``G_1 × ... × G_k``, pulled back from one factor.

``pullback(ρ, G, factor=i)`` is ``(g_1, ..., g_k) ↦ ρ(g_i)``; tensor products of pull-backs from
different factors give the outer products ``ρ ⊠ σ``, and every irrep of a product of compact groups
is such an outer product of factor irreps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups import Group
from symml.reps.rep import Rep, _Derived


@dataclass(frozen=True, repr=False)
class FactorPullback(_Derived):
    """``(g_1, ..., g_k) ↦ ρ(g_factor)`` for a rep ρ of ``group.product_factors[factor]``."""

    rep: Rep
    group: Group
    factor: int

    def __post_init__(self) -> None:
        factors = self.group.product_factors
        if not 0 <= self.factor < len(factors):
            raise ValueError(
                f"pullback: factor={self.factor} is out of range for {self.group!r} "
                f"(expected 0 .. {len(factors) - 1})"
            )
        if self.rep.group != factors[self.factor]:
            raise ValueError(
                f"pullback: expected a rep of factor {self.factor}, "
                f"{factors[self.factor]!r} (got one of {self.rep.group!r})"
            )

    def _matrices(self, data: Tensor) -> Tensor:
        return self.rep._matrices(self.group._project(data, self.factor))

    def _lie(self) -> Tensor:
        # the product's Lie algebra is ⊕_j Lie(G_j): this rep is dρ on factor i's block, 0 elsewhere
        blocks = []
        for j, f in enumerate(self.group.product_factors):
            if j == self.factor and f.lie_algebra_dim:
                blocks.append(self.rep._lie())
            else:
                blocks.append(
                    torch.zeros(f.lie_algebra_dim, self.dim, self.dim, dtype=torch.float64)
                )
        return torch.cat(blocks)

    def _summands(self) -> tuple[Rep, ...]:
        parts = self.rep._summands()
        if len(parts) == 1:
            return (self,)
        return tuple(FactorPullback(p, self.group, self.factor) for p in parts)

    def _expr(self) -> str:
        return f"pullback({self.rep}, {self.group!r}, factor={self.factor})"


def factor_pullback(rep: Rep, group: Group, factor: int | None = None) -> Rep:
    """Pull ``rep`` back to the direct product ``group`` along the projection onto ``factor``
    (default: the only factor equal to ``rep.group``)."""
    if factor is None:
        matches = [i for i, f in enumerate(group.product_factors) if f == rep.group]
        if len(matches) != 1:
            what = "no factor" if not matches else f"factors {matches}"
            raise ValueError(
                f"pullback: {rep.group!r} is {what} of {group!r}; pass factor=i to choose one"
            )
        factor = matches[0]
    return FactorPullback(rep, group, factor)
