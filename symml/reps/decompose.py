"""Decomposition of a representation into irreps: ``ρ(g) = Q (⊕_i ψ_i^{⊕m_i})(g) Qᵀ``.

The numerical part of `Rep.decompose` (`symml.reps.rep`, which builds the candidate irreps ψ
from the group's own list and wraps the result in a `Decomposition`): each copy of ψ in ρ is an
orthonormal embedding found in Hom_G(ψ, ρ). It needs reps only through the `RepBase` interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import Tensor

from symml.groups import IrrepKey
from symml.reps.base import RepBase
from symml.reps.intertwiners import (
    MAX_REP_DIM,
    MAX_SOLVE_UNKNOWNS,
    _short,
    intertwiners,
    solve_cost,
)

_RANK_TOL = 1e-8

Irreducible = TypeVar("Irreducible", bound=RepBase)


def check_decomposable(rep: RepBase) -> None:
    """A ValueError, before any work, when ``rep`` is above `MAX_REP_DIM`."""
    if rep.dim > MAX_REP_DIM:
        raise ValueError(
            f"decompose: expected a representation of dimension <= MAX_REP_DIM = {MAX_REP_DIM} "
            f"(got {rep.dim} for {_short(rep)}); decompose its direct-sum parts one at a time"
        )


def candidate_keys(rep: RepBase) -> list[IrrepKey]:
    """Keys of the irreps that can occur in ``rep``: all of a finite group's, or those up to the
    rep's band limit; a ValueError when the group's irreps are not tabulated."""
    try:
        return rep.group.irrep_keys(rep.bandlimit)
    except TypeError as err:
        raise ValueError(
            f"decompose: irreps of {rep.group!r} are not tabulated, so {rep} cannot be "
            "decomposed (intertwiners() still works: it solves the constraint directly)"
        ) from err


def decompose_into(
    rep: RepBase, candidates: Sequence[Irreducible]
) -> tuple[tuple[tuple[Irreducible, int], ...], Tensor]:
    """The irreps among ``candidates`` (all inequivalent) that occur in ``rep``, with their
    multiplicities, and the orthogonal change of basis ``Q [d, d]`` (float64) whose column
    blocks embed their copies, in candidate order.

    Each candidate ψ costs one eigensolve per block of Hom_G(ψ, ρ); when these would together
    cost more than one solve at the limit (`MAX_SOLVE_UNKNOWNS` unknowns, about 30 s on one
    core), a ValueError says so up front rather than after minutes of work.
    """
    _check_budget(rep, candidates)
    found: list[tuple[Irreducible, int]] = []
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
            f"decompose: the irreps of {rep.group!r} that symml tabulates span {q.shape[1]} of "
            f"the {rep.dim} dimensions of {rep}; the rest lies in irreps that are not tabulated "
            "(intertwiners() still works: it solves the constraint directly)"
        )
    return tuple(found), q


def _check_budget(rep: RepBase, candidates: Sequence[RepBase]) -> None:
    cost = sum(solve_cost(psi, rep) for psi in candidates)
    budget = MAX_SOLVE_UNKNOWNS**3
    if cost > budget:
        raise ValueError(
            f"decompose: expected at most the work of one {MAX_SOLVE_UNKNOWNS}-unknown solve "
            f"(got {len(candidates)} candidate irreps of {rep.group!r} against {_short(rep)} of "
            f"dim {rep.dim}, {cost / budget:.1f}× that); decompose a smaller representation, "
            "e.g. its direct-sum parts one at a time, or use a smaller group"
        )


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
