"""Decomposition of a representation into irreps: ``ρ(g) = Q (⊕_i ψ_i^{⊕m_i})(g) Qᵀ``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups import Elements, SemidirectProduct
from symml.reps import irreps as _irreps
from symml.reps.constructors import Irrep, irrep
from symml.reps.intertwiners import (
    MAX_REP_DIM,
    MAX_SOLVE_UNKNOWNS,
    _short,
    intertwiners,
    solve_cost,
)
from symml.reps.rep import Pullback, Rep, direct_sum

_RANK_TOL = 1e-8


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Irreps with multiplicities and the orthogonal change of basis.

    Attributes:
        irreps: ``((ψ_1, m_1), (ψ_2, m_2), ...)`` in the group's irrep order.
        change_of_basis: Q, ``[d, d]`` float64, orthogonal; column blocks follow ``irreps``.
    """

    irreps: tuple[tuple[Rep, int], ...]
    change_of_basis: Tensor

    @property
    def rep(self) -> Rep:
        """The block-diagonal rep ``⊕ ψ_i^{⊕m_i}`` (equivalent to the decomposed one)."""
        return direct_sum(*(m * psi for psi, m in self.irreps))

    def reconstruct(self, g: Elements, dtype: torch.dtype = torch.float64) -> Tensor:
        """``Q (⊕ ψ_i)(g) Qᵀ``, ``[B, d, d]`` — equals the decomposed rep at ``g``."""
        q = self.change_of_basis.to(device=g.device, dtype=dtype)
        return q @ self.rep(g, dtype=dtype) @ q.T

    def __str__(self) -> str:
        return " + ".join(f"{m}x{psi}" for psi, m in self.irreps)


def decompose(rep: Rep) -> Decomposition:
    """Decompose ``rep`` into irreps (numerically, through Hom_G(ψ, ρ) for each candidate ψ).

    Each candidate irrep ψ costs one eigensolve per block of Hom_G(ψ, ρ); a representation
    whose solves would together cost more than one solve at the limit (`MAX_SOLVE_UNKNOWNS`
    unknowns, about 30 s on one core), or of dimension above `MAX_REP_DIM`, is refused up front
    with a ValueError rather than after minutes of work.

    Example:
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> print(decompose(regular(Cyclic(4))))
        1xirrep(Cyclic(4), 0) + 1xirrep(Cyclic(4), 1) + 1xirrep(Cyclic(4), 2)
    """
    if rep.dim > MAX_REP_DIM:
        raise ValueError(
            f"decompose: expected a representation of dimension <= MAX_REP_DIM = {MAX_REP_DIM} "
            f"(got {rep.dim} for {_short(rep)}); decompose its direct-sum parts one at a time"
        )
    if isinstance(rep, Irrep):
        return Decomposition(((rep, 1),), torch.eye(rep.dim, dtype=torch.float64))
    if isinstance(rep, Pullback):
        inner = decompose(rep.rep)
        assert isinstance(rep.group, SemidirectProduct)
        wrapped = tuple((Pullback(psi, rep.group), m) for psi, m in inner.irreps)
        return Decomposition(wrapped, inner.change_of_basis)
    group = rep.group
    try:
        keys = _irreps.irrep_keys(group, rep.bandlimit)
    except TypeError as err:
        raise ValueError(
            f"decompose: irreps of {group!r} are not tabulated, so {rep} cannot be decomposed "
            "(intertwiners() still works: it solves the constraint directly)"
        ) from err
    candidates = [irrep(group, key) for key in keys]
    cost = sum(solve_cost(psi, rep) for psi in candidates)
    budget = MAX_SOLVE_UNKNOWNS**3
    if cost > budget:
        raise ValueError(
            f"decompose: expected at most the work of one {MAX_SOLVE_UNKNOWNS}-unknown solve "
            f"(got {len(candidates)} candidate irreps of {group!r} against {_short(rep)} of dim "
            f"{rep.dim}, {cost / budget:.1f}× that); decompose a smaller representation, e.g. "
            "its direct-sum parts one at a time, or use a smaller group"
        )
    found: list[tuple[Rep, int]] = []
    columns: list[Tensor] = []
    for psi in candidates:
        copies = _isotypic_copies(intertwiners(psi, rep), psi.dim)
        if copies:
            found.append((psi, len(copies)))
            columns += copies
    q = torch.cat(columns, 1) if columns else torch.zeros(rep.dim, 0, dtype=torch.float64)
    if q.shape[1] != rep.dim:
        # a user error, not a numerical one: the group's irreps are not all tabulated (e.g. the
        # standard rep of SpecialOrthogonal(n) / Orthogonal(n)), so say what still works
        raise ValueError(
            f"decompose: the irreps of {group!r} that symml tabulates span {q.shape[1]} of the "
            f"{rep.dim} dimensions of {rep}; the rest lies in irreps that are not tabulated "
            "(intertwiners() still works: it solves the constraint directly)"
        )
    return Decomposition(tuple(found), q)


def _isotypic_copies(basis: Tensor, m: int) -> list[Tensor]:
    """Split Hom_G(ψ, ρ) (``[k, d, m]``) into orthonormal embeddings ``V [d, m]`` (``VᵀV = I``)
    with mutually orthogonal images; ψ of real, complex or quaternionic type alike."""
    copies: list[Tensor] = []
    d = basis.shape[1]
    while basis.shape[0] > 0:
        v = basis[0]
        # Schur: VᵀV commutes with ψ and is symmetric, hence c·I
        v = v / torch.sqrt(torch.trace(v.T @ v) / m)
        copies.append(v)
        proj = torch.eye(d, dtype=basis.dtype) - v @ v.T
        rest = (proj @ basis).reshape(basis.shape[0], -1)
        u, s, vh = torch.linalg.svd(rest, full_matrices=False)
        keep = s > _RANK_TOL * max(1.0, float(s.max()) if s.numel() else 1.0)
        basis = vh[keep].reshape(-1, d, m)
    return copies
