"""Change of basis: ``g ↦ Q ρ(g) Qᵀ`` for an orthogonal matrix Q."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups import Group
from symml.reps.rep import Pullback, Rep, _Derived


@dataclass(frozen=True, repr=False)
class ChangeOfBasis(_Derived):
    """``g ↦ Q ρ(g) Qᵀ`` for an orthogonal matrix Q (stored as nested tuples, so hashable)."""

    rep: Rep
    matrix: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        q = self.q
        if q.shape != (self.rep.dim, self.rep.dim):
            raise ValueError(
                f"change_basis: expected a {self.rep.dim}x{self.rep.dim} matrix "
                f"(got {list(q.shape)})"
            )
        deviation = float((q @ q.T - torch.eye(len(q), dtype=q.dtype)).abs().max())
        if deviation > 1e-8:
            raise ValueError(
                "change_basis: expected an orthogonal matrix (Q Qᵀ = I up to 1e-8; got "
                f"max |Q Qᵀ - I| = {deviation:.3g}); orthonormalise it in float64, e.g. with "
                "torch.linalg.qr"
            )

    @property
    def q(self) -> Tensor:
        return torch.tensor(self.matrix, dtype=torch.float64)

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.rep.group

    def _matrices(self, data: Tensor) -> Tensor:
        q = self.q.to(data.device)
        return q @ self.rep._matrices(data) @ q.T

    def _lie(self) -> Tensor:
        return self.q @ self.rep._lie() @ self.q.T

    @property
    def is_permutation(self) -> bool:
        q = self.q
        is_perm = bool(((q == 0) | (q == 1)).all()) and bool((q.sum(0) == 1).all())
        return is_perm and self.rep.is_permutation

    def _solving_rep(self) -> Rep:
        inner = self.rep._solving_rep()
        return self if inner is self.rep else ChangeOfBasis(inner, self.matrix)

    def _expr(self) -> str:
        return f"change_basis({self.rep}, {[list(row) for row in self.matrix]})"


def change_basis(rep: Rep, q: Tensor | list[list[float]]) -> Rep:
    """The equivalent rep ``g ↦ Q ρ(g) Qᵀ`` for an orthogonal ``Q [d, d]``."""
    mat = torch.as_tensor(q, dtype=torch.float64)
    if mat.dim() != 2:
        raise ValueError(f"change_basis: expected a matrix (got shape {list(mat.shape)})")
    if isinstance(rep, Pullback):
        return Pullback(change_basis(rep.rep, mat), rep.group)
    return ChangeOfBasis(rep, tuple(tuple(float(x) for x in row) for row in mat.tolist()))
