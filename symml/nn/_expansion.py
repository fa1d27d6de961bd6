"""The linear map from free coefficients θ to an equivariant matrix W = Σ_k θ_k B_k.

Hom_G(⊕_a m_a·a, ⊕_b m_b·b) is block structured: the block between copy q of type a and copy p of
type b is Σ_k θ_{pqk} B^{ab}_k with one small basis B^{ab} ``[K, d_b, d_a]`` per pair of types.
So the part of W between all copies of a and all copies of b is one small GEMM,
``θ^{ab} [m_b·m_a, K] @ B^{ab} [K, d_b·d_a]``, reordered to ``[m_b·d_b, m_a·d_a]``; W is these
blocks concatenated in the order the copies appear. Nothing of size ``K × d_out × d_in`` is ever
stored, and forward and backward are a few dense kernels (a gather/scatter over every nonzero of
the basis, recorded by autograd, was 5x slower). In training the linear kernel
(`symml.nn._kernels.linear`) builds W in its own autograd node, by one scatter over W's nonzeros.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.nn._types import FieldType, field_types
from symml.reps import Rep, intertwiners


@dataclass(frozen=True)
class Block:
    """The coefficients ``θ[start : start + m_b·m_a·K]`` (order p, q, k) of the maps from the
    copies of input type ``a`` to those of output type ``b``, with ``basis [K, d_b, d_a]``."""

    a: int
    b: int
    start: int
    basis: Tensor


@dataclass(frozen=True)
class Expansion:
    """How to build W ``[d_out, d_in]`` from θ (see `assemble`).

    Attributes:
        types_in, types_out: the field types of the reps (`field_types`).
        blocks: the nonzero pairs of types, in θ's order.
        runs_in, runs_out: ``(type, first copy, end copy)`` per run of consecutive copies of one
            type, in the order of the coordinates.
        size: number of free coefficients (= dim Hom_G(ρ_in, ρ_out)).
        std: ``[size]`` float64, the init scale of each coefficient that gives every output
            coordinate unit variance for unit-variance, uncorrelated inputs.
    """

    types_in: tuple[FieldType, ...]
    types_out: tuple[FieldType, ...]
    blocks: tuple[Block, ...]
    runs_in: tuple[tuple[int, int, int], ...]
    runs_out: tuple[tuple[int, int, int], ...]
    size: int
    std: Tensor


def runs(types: tuple[FieldType, ...]) -> tuple[tuple[int, int, int], ...]:
    """``(type, first copy, end copy)`` for each run of consecutive copies of one type, in the
    order the runs appear in the representation (so concatenating them rebuilds the vector)."""
    copies = sorted((off, ti, ci) for ti, t in enumerate(types) for ci, off in enumerate(t.offsets))
    out: list[tuple[int, int, int]] = []
    for _, ti, ci in copies:
        if out and out[-1][0] == ti and out[-1][2] == ci:
            out[-1] = (ti, out[-1][1], ci + 1)
        else:
            out.append((ti, ci, ci + 1))
    return tuple(out)


@functools.cache
def expansion(rep_in: Rep, rep_out: Rep) -> Expansion:
    """The block expansion of Hom_G(rep_in, rep_out) (memoised per pair of reps)."""
    types_in, types_out = field_types(rep_in), field_types(rep_out)
    blocks: list[Block] = []
    size = 0
    for bi, b in enumerate(types_out):
        for ai, a in enumerate(types_in):
            basis = intertwiners(a.rep, b.rep)  # [K, d_b, d_a], memoised in symml.reps
            if len(basis):
                blocks.append(Block(ai, bi, size, basis))
                size += b.copies * a.copies * len(basis)
    # E|W_i·x|² = Σ_{entries in row i} σ² v² for θ ~ N(0, σ²): scale each coefficient by the mean
    # energy of the output rows it writes to, so that every row has unit energy. Every copy of a
    # type b has the same row energies, so this is computed per type.
    energy = [torch.zeros(t.rep.dim, dtype=torch.float64) for t in types_out]
    for blk in blocks:
        energy[blk.b] += types_in[blk.a].copies * (blk.basis**2).sum((0, 2))
    stds = []
    for blk in blocks:
        nonzero = (blk.basis != 0).to(torch.float64)
        touched = (nonzero * energy[blk.b][:, None]).sum((1, 2))
        std = (nonzero.sum((1, 2)) / touched).sqrt()
        stds.append(std.repeat(types_out[blk.b].copies * types_in[blk.a].copies))
    std = torch.cat(stds) if stds else torch.zeros(0, dtype=torch.float64)
    return Expansion(types_in, types_out, tuple(blocks), runs(types_in), runs(types_out), size, std)


def assemble(exp: Expansion, bases: list[Tensor], theta: Tensor) -> Tensor:
    """W ``[d_out, d_in]`` from coefficients ``theta [size]`` (differentiable in ``theta``).

    ``bases`` are the blocks' bases in ``theta``'s dtype and device.
    """
    dense: dict[tuple[int, int], Tensor] = {}
    for blk, basis in zip(exp.blocks, bases, strict=True):
        m_b, m_a = exp.types_out[blk.b].copies, exp.types_in[blk.a].copies
        k, d_b, d_a = basis.shape
        coeffs = theta[blk.start : blk.start + m_b * m_a * k].view(m_b * m_a, k)
        w = coeffs @ basis.view(k, d_b * d_a)  # [(p, q), (i, j)]
        if d_a * d_b > 1:
            w = w.view(m_b, m_a, d_b, d_a).transpose(1, 2)
        dense[blk.a, blk.b] = w.reshape(m_b * d_b, m_a * d_a)
    rows = []
    for b, p0, p1 in exp.runs_out:
        d_b = exp.types_out[b].rep.dim
        cols = []
        for a, q0, q1 in exp.runs_in:
            d_a = exp.types_in[a].rep.dim
            block = dense.get((a, b))
            if block is None:
                cols.append(theta.new_zeros((p1 - p0) * d_b, (q1 - q0) * d_a))
            else:
                cols.append(block[p0 * d_b : p1 * d_b, q0 * d_a : q1 * d_a])
        rows.append(cols[0] if len(cols) == 1 else torch.cat(cols, 1))
    return rows[0] if len(rows) == 1 else torch.cat(rows, 0)
