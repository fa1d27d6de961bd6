"""Bases of equivariant linear maps Hom_G(ρ_in, ρ_out), solved from the constraint.

``W`` is equivariant iff ``ρ_out(g) W = W ρ_in(g)`` for the group's discrete generators and
``dρ_out(X) W = W dρ_in(X)`` for its Lie algebra basis — finitely many linear equations in the
entries of W, which hold for every element once they hold for these. With ``vec`` row-major,
``vec(A W - W B) = (A ⊗ I - I ⊗ Bᵀ) vec(W)``; the basis is the null space of the stacked system.

Direct sums are solved block by block, Hom(⊕_i A_i, ⊕_j B_j) = ⊕_{i,j} Hom(A_i, B_j), each block
memoised: ``4 * regular(D8)`` costs one 16×16 solve instead of one in 4096 unknowns.

Limits, checked before anything is allocated (a one-line ValueError says what to do instead):

- `MAX_REP_DIM`: each representation has at most 4096 dimensions (the basis is dense).
- `MAX_SOLVE_UNKNOWNS`: one block that is not a direct sum has at most 4096 unknowns
  ``d_in·d_out``: its system is an ``n×n`` float64 matrix (128 MiB, about 30 s to solve on one
  core at the limit); ``regular(Cyclic(300))`` to itself would need 90,000 (65 GB).
- `MAX_BASIS_ENTRIES`: the returned dense basis ``[k, d_out, d_in]`` has at most 2**27 entries
  (1 GiB of float64); the layers in `symml.nn` never build it, they solve block by block.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from symml.groups import Group
from symml.reps.base import RepBase, check_group

_NULL_TOL = 1e-9

MAX_REP_DIM = 4096
"""Largest representation dimension `intertwiners` and `decompose` accept."""
MAX_SOLVE_UNKNOWNS = 4096
"""Most unknowns ``d_in·d_out`` of one direct solve (its system is ``n×n`` float64)."""
MAX_BASIS_ENTRIES = 2**27
"""Most entries ``k·d_out·d_in`` of a basis `intertwiners` returns (1 GiB of float64)."""


def intertwiners(rep_in: RepBase, rep_out: RepBase) -> Tensor:
    """Orthonormal basis (Frobenius inner product) of Hom_G(ρ_in, ρ_out).

    Memoised per ``(rep_in, rep_out)``: the first call solves an eigenproblem of size
    ``d_in·d_out``, later calls copy the cached basis.

    Shapes: returns ``[k, d_out, d_in]`` float64, ``k = dim Hom_G(ρ_in, ρ_out)``.

    Example:
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular, trivial
        >>> intertwiners(regular(Cyclic(4)), trivial(Cyclic(4))).shape  # the mean
        torch.Size([1, 1, 4])
    """
    check_group(rep_in, rep_out, "intertwiners")
    check_solvable(rep_in, rep_out, "intertwiners")
    return _solve(rep_in, rep_out).clone()


def check_solvable(rep_in: RepBase, rep_out: RepBase, owner: str = "intertwiners") -> None:
    """Raise a one-line ValueError, before anything is allocated, when Hom_G(ρ_in, ρ_out) is
    beyond `MAX_REP_DIM` or one of its blocks beyond `MAX_SOLVE_UNKNOWNS`."""
    if rep_in.dim * rep_out.dim <= MAX_SOLVE_UNKNOWNS:
        return  # no block can be larger than the whole: the usual case, one multiplication
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if rep.dim > MAX_REP_DIM:
            raise ValueError(
                f"{owner}: expected representations of dimension <= MAX_REP_DIM = {MAX_REP_DIM} "
                f"(got {name} = {_short(rep)} of dimension {rep.dim}); use a smaller "
                "representation, or a smaller group"
            )
    block = _largest_block(rep_in, rep_out)
    if block is not None:
        a, b = block
        raise ValueError(
            f"{owner}: expected at most MAX_SOLVE_UNKNOWNS = {MAX_SOLVE_UNKNOWNS} unknowns per "
            f"block (got {a.dim * b.dim} for {_short(a)} → {_short(b)}: a {a.dim * b.dim}² "
            f"float64 system, {8 * (a.dim * b.dim) ** 2 / 1e9:.1f} GB); write the reps as direct "
            "sums of smaller parts (solved block by block), e.g. decompose(rep).rep: the same "
            "rep in the basis decompose(rep).change_of_basis"
        )


def solve_cost(rep_in: RepBase, rep_out: RepBase) -> int:
    """``Σ n³`` over the distinct blocks `_solve` would solve directly (n = unknowns of each):
    the leading cost of their eigensolves, for budgets such as `decompose`'s."""
    parts_in, parts_out = rep_in._summands(), rep_out._summands()
    if len(parts_in) == 1 and len(parts_out) == 1:
        return (rep_in.dim * rep_out.dim) ** 3
    return sum(solve_cost(a, b) for a in dict.fromkeys(parts_in) for b in dict.fromkeys(parts_out))


def _short(rep: RepBase, width: int = 60) -> str:
    text = str(rep)
    return text if len(text) <= width else text[: width - 1] + "…"


def _largest_block(rep_in: RepBase, rep_out: RepBase) -> tuple[RepBase, RepBase] | None:
    """A pair of parts that `_solve` would solve directly with too many unknowns (None if none);
    walks the same split into direct-sum parts, without solving anything."""
    parts_in, parts_out = rep_in._summands(), rep_out._summands()
    if len(parts_in) == 1 and len(parts_out) == 1:
        return (rep_in, rep_out) if rep_in.dim * rep_out.dim > MAX_SOLVE_UNKNOWNS else None
    for a in dict.fromkeys(parts_in):  # equal parts are solved once (memoised)
        for b in dict.fromkeys(parts_out):
            if a.dim * b.dim > MAX_SOLVE_UNKNOWNS:
                found = _largest_block(a, b)
                if found is not None:
                    return found
    return None


def constraint_generators(rep: RepBase) -> list[Tensor]:
    """The matrices the constraint uses for ``rep``: ``ρ(s)`` for each discrete generator s, and
    ``dρ(X)`` for each Lie algebra basis element X; each ``[d, d]`` float64."""
    point = rep._solving_rep()
    group: Group = point.group
    gens = group.generators
    mats: list[Tensor] = []
    if len(gens):
        mats += list(point(gens, dtype=torch.float64).cpu())
    if group.lie_algebra_dim:
        mats += list(point._lie())
    if not mats and group.order is None:
        # an infinite group with no generators and no Lie algebra (e.g. the translations of
        # R^n) would put no constraint on W: refuse rather than return every matrix
        raise ValueError(
            f"intertwiners: cannot solve for equivariant maps of {group!r}: it is infinite and "
            "symml knows neither discrete generators nor a Lie algebra for it; use a group it "
            "can solve for (finite groups, SO(n), O(n), their products, or T ⋊ H through H)"
        )
    # contiguous: `torch.kron` rejects transposed views, which e.g. `Dual` reps produce
    return [m.contiguous() for m in mats]


@functools.cache
def _generating_pair(group: Group) -> Tensor | None:
    """Coefficients ``[2, L]`` of two Lie algebra elements that generate the whole Lie algebra
    (checked by closing their span under brackets in the group's standard representation), or
    None (L <= 2, or no standard representation to check in).

    W commutes with dρ(X) for all X iff it commutes with dρ of a generating set, because dρ keeps
    brackets. Two elements generate so(n) (n >= 3), so the constraint needs 2 Lie equations
    instead of n(n-1)/2: for O(5) on 2-tensors, 5x less work to build the system.
    """
    basis = group.lie_algebra
    if basis.shape[0] <= 2 or basis.shape[-1] == 0 or basis.shape[0] != group.lie_algebra_dim:
        return None
    coeffs = torch.randn(2, basis.shape[0], generator=torch.Generator().manual_seed(0))
    coeffs = coeffs.to(torch.float64)
    span = [torch.einsum("l,lij->ij", c, basis) for c in coeffs]
    frontier = list(span)
    while frontier:
        new = []
        for a in frontier:
            for b in list(span):
                bracket = a @ b - b @ a
                norm = bracket.norm()
                if norm < 1e-9:
                    continue
                bracket = bracket / norm  # unit norm: the rank test sees directions, not sizes
                stacked = torch.stack([m.reshape(-1) for m in [*span, bracket]])
                if int(torch.linalg.matrix_rank(stacked, atol=1e-9)) > len(span):
                    span.append(bracket)
                    new.append(bracket)
        frontier = new
    return coeffs if len(span) == basis.shape[0] else None


def _solver_generators(rep: RepBase) -> list[Tensor]:
    """`constraint_generators` with the Lie part reduced to a generating pair when there is one."""
    mats = constraint_generators(rep)
    group = rep._solving_rep().group
    pair = _generating_pair(group) if group.lie_algebra_dim else None
    if pair is None:
        return mats
    discrete = mats[: len(mats) - group.lie_algebra_dim]
    lie = torch.stack(mats[len(discrete) :])
    return discrete + [torch.einsum("l,lij->ij", c, lie).contiguous() for c in pair]


@functools.cache
def _solve(rep_in: RepBase, rep_out: RepBase) -> Tensor:
    parts_in, parts_out = rep_in._summands(), rep_out._summands()
    if len(parts_in) == 1 and len(parts_out) == 1:
        return _solve_direct(rep_in, rep_out)
    solved = [[_solve(part_in, part_out) for part_in in parts_in] for part_out in parts_out]
    k = sum(len(block) for row_blocks in solved for block in row_blocks)
    if k * rep_out.dim * rep_in.dim > MAX_BASIS_ENTRIES:
        # the blocks are small; only the dense basis they would be copied into is too large
        raise ValueError(
            f"intertwiners: expected a basis of at most MAX_BASIS_ENTRIES = {MAX_BASIS_ENTRIES} "
            f"entries (got {k} maps of {rep_out.dim}×{rep_in.dim}, "
            f"{8 * k * rep_out.dim * rep_in.dim / 1e9:.1f} GB as float64); build the layer with "
            "symml.nn.EquivariantLinear, which keeps the basis block by block"
        )
    blocks = []
    row = 0
    for part_out, row_blocks in zip(parts_out, solved, strict=True):
        col = 0
        for part_in, block in zip(parts_in, row_blocks, strict=True):
            if len(block):
                full = block.new_zeros(len(block), rep_out.dim, rep_in.dim)
                full[:, row : row + part_out.dim, col : col + part_in.dim] = block
                blocks.append(full)
            col += part_in.dim
        row += part_out.dim
    if not blocks:
        return torch.zeros(0, rep_out.dim, rep_in.dim, dtype=torch.float64)
    return torch.cat(blocks)


def _solve_direct(rep_in: RepBase, rep_out: RepBase) -> Tensor:
    a_list = _solver_generators(rep_out)
    b_list = _solver_generators(rep_in)
    d_out, d_in = rep_out.dim, rep_in.dim
    n = d_out * d_in
    gram = torch.zeros(n, n, dtype=torch.float64)
    eye_in = torch.eye(d_in, dtype=torch.float64)
    eye_out = torch.eye(d_out, dtype=torch.float64)
    for a, b in zip(a_list, b_list, strict=True):
        c = torch.kron(a, eye_in) - torch.kron(eye_out, b.T.contiguous())
        gram += c.T @ c
    # null space of Σ CᵀC = null space of the stacked C; eigh on n×n beats an SVD of the stack
    values, vectors = _eigh_one_thread(gram)
    scale = max(1.0, float(values.abs().max())) if n else 1.0
    basis = vectors[:, values < _NULL_TOL * scale].T.reshape(-1, d_out, d_in)
    return torch.where(basis.abs() < 1e-13, torch.zeros_like(basis), basis)


def _eigh_one_thread(gram: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.linalg.eigh`` on one thread. With two OpenMP threads and the default wait policy,
    LAPACK's eigh on a 729×729 matrix took 2.6 s here instead of 0.12 s on one thread; at these
    sizes more threads gain little, so the solver never risks the slow case."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(gram)
    finally:
        torch.set_num_threads(threads)


def clear_cache() -> None:
    """Forget memoised intertwiner bases (for benchmarks and memory-bound sessions)."""
    _solve.cache_clear()
