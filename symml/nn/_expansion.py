"""The linear map from free coefficients θ to an equivariant matrix W = Σ_k θ_k B_k.

Hom_G(⊕_a m_a·a, ⊕_b m_b·b) is block structured: the block between copy q of type a and copy p of
type b is Σ_k θ_{pqk} B^{ab}_k with one small basis B^{ab} ``[K, d_b, d_a]`` per pair of types.
So the part of W between all copies of a and all copies of b is one small GEMM,
``θ^{ab} [m_b·m_a, K] @ B^{ab} [K, d_b·d_a]``, reordered to ``[m_b·d_b, m_a·d_a]``; W is these
blocks concatenated in the order the copies appear. Nothing of size ``K × d_out × d_in`` is ever
stored, and forward and backward are a few dense kernels (a gather/scatter over every nonzero of
the basis was 5x slower). `apply_t` goes further and multiplies by W without building it: per
pair of types, by θ and the small basis in turn (for identity blocks θ alone).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from symml.nn import _gemm
from symml.nn._types import FieldType, field_types
from symml.reps import Rep, intertwiners


@dataclass(frozen=True)
class Block:
    """The coefficients ``θ[start : start + m_b·m_a·K]`` (order p, q, k) of the maps from the
    copies of input type ``a`` to those of output type ``b``, with ``basis [K, d_b, d_a]``;
    ``route`` is how `apply_t` multiplies by it (see `_route`)."""

    a: int
    b: int
    start: int
    basis: Tensor
    route: str = "dense"


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
                blocks.append(Block(ai, bi, size, basis, _route(a.copies, b.copies, basis)))
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


def _route(m_a: int, m_b: int, basis: Tensor) -> str:
    """How `apply_t` multiplies by a block.

    Multiply-adds per sample: ``dense`` (assembled block, one GEMM) m_b·d_b·m_a·d_a; ``scale``
    (B = c·I) m_b·m_a·d; ``basis_first`` m_a·K·d_b·d_a in batched matmuls, then m_b·m_a·K·d_b in a
    GEMM; ``theta_first`` m_b·K·m_a·d_a in a GEMM, then m_b·d_b·K·d_a batched. Batched products of
    small matrices count double: they run at about half a GEMM's speed here.
    """
    k, d_b, d_a = basis.shape
    if k == 1 and d_a == d_b and d_a > 0:
        c = float(basis[0, 0, 0])
        if torch.allclose(basis[0], c * torch.eye(d_a, dtype=basis.dtype), rtol=0, atol=1e-12):
            return "scale"
    costs = {
        "dense": m_b * d_b * m_a * d_a,
        "basis_first": 2 * m_a * k * d_b * d_a + m_b * m_a * k * d_b,
        "theta_first": m_b * k * m_a * d_a + 2 * m_b * d_b * k * d_a,
    }
    return min(costs, key=lambda route: costs[route])


def apply_t(
    exp: Expansion,
    bases: list[Tensor],
    theta: Tensor,
    xt: Tensor,
    bias: dict[int, Tensor] | None = None,
) -> Tensor:
    """``W xt (+ bias)`` for feature-major ``xt [d_in, B] → [d_out, B]`` without building W.

    Works on each pair of types as `Block.route` says: the copies of an input type are one slab
    ``[m_a, d_a, B]``, so the identity blocks (scalars, V → V) are a GEMM of m_b·m_a rather than
    m_b·d_b·m_a·d_a multiply-adds per sample, and rank-one blocks (traces, S → T(2)) are never
    widened to their dense form. ``bias`` maps an output type to its ``[m_b·d_b, 1]`` bias.
    """
    batch = xt.shape[1]
    in_widths = [(q1 - q0) * exp.types_in[a].rep.dim for a, q0, q1 in exp.runs_in]
    # split, not slicing: each slice's backward would zero-fill a gradient of xt's size
    pieces = xt.split(in_widths) if len(in_widths) > 1 else (xt,)
    by_type: list[list[Tensor]] = [[] for _ in exp.types_in]
    for (a, _, _), piece in zip(exp.runs_in, pieces, strict=True):
        by_type[a].append(piece)
    fields = [p[0] if len(p) == 1 else torch.cat(p) for p in by_type]
    acc: dict[int, Tensor] = dict(bias) if bias else {}
    for blk, basis in zip(exp.blocks, bases, strict=True):
        x_a = fields[blk.a]
        m_b, m_a = exp.types_out[blk.b].copies, exp.types_in[blk.a].copies
        k, d_b, d_a = basis.shape
        coeffs = theta[blk.start : blk.start + m_b * m_a * k]
        prev = acc.get(blk.b)
        if blk.route == "theta_first":
            # u[p,k,j,n] = Σ_q θ[p,q,k] x[q,j,n]; y[p,i,n] = Σ_{k,j} B_k[i,j] u[p,k,j,n]
            mix = coeffs.view(m_b, m_a, k).transpose(1, 2).reshape(m_b * k, m_a)
            u = (mix @ x_a.reshape(m_a, d_a * batch)).view(m_b, k * d_a, batch)
            y = torch.matmul(basis.transpose(0, 1).reshape(d_b, k * d_a), u).view(-1, batch)
            acc[blk.b] = y if prev is None else prev + y
            continue
        if blk.route == "scale":  # y[p, i, n] = c Σ_q θ[p, q] x[q, i, n]
            left, right = (coeffs * basis[0, 0, 0]).view(m_b, m_a), x_a.reshape(m_a, d_a * batch)
        elif blk.route == "basis_first":
            # z[q,k,i,n] = Σ_j B_k[i,j] x[q,j,n]; y[p,i,n] = Σ_{q,k} θ[p,q,k] z[q,k,i,n]
            z = torch.matmul(basis.reshape(k * d_b, d_a), x_a.reshape(m_a, d_a, batch))
            left, right = coeffs.view(m_b, m_a * k), z.view(m_a * k, d_b * batch)
        else:
            w = coeffs.view(m_b * m_a, k) @ basis.view(k, d_b * d_a)
            left = w.view(m_b, m_a, d_b, d_a).transpose(1, 2).reshape(m_b * d_b, m_a * d_a)
            right = x_a.reshape(m_a * d_a, batch)
        if prev is None:
            acc[blk.b] = (left @ right).view(-1, batch)
        elif prev.shape[1] == 1 and prev.shape[0] != left.shape[0]:  # bias of a d_b > 1 type
            acc[blk.b] = (left @ right).view(-1, batch) + prev
        else:  # the GEMM adds onto the output so far (d_b·B columns when left is per copy)
            acc[blk.b] = torch.addmm(prev.view(left.shape[0], -1), left, right).view(-1, batch)
    out_widths: list[list[int]] = [[] for _ in exp.types_out]
    for b, p0, p1 in exp.runs_out:
        out_widths[b].append((p1 - p0) * exp.types_out[b].rep.dim)
    out_pieces = []
    for bi, widths in enumerate(out_widths):
        full = acc.get(bi)
        if full is None:
            full = xt.new_zeros(sum(widths), batch)
        elif full.shape[1] != batch:  # a bias alone: [m_b·d_b, 1]
            full = full.expand(-1, batch).contiguous()
        out_pieces.append(list(full.split(widths)) if len(widths) > 1 else [full])
    ordered = [out_pieces[b].pop(0) for b, _, _ in exp.runs_out]
    return ordered[0] if len(ordered) == 1 else torch.cat(ordered)


def _type_views(
    exp: Expansion, xt: Tensor, output: bool, zero: bool = False
) -> tuple[list[Tensor], list[bool]]:
    """Per field type, ``[m·d, B]`` rows of ``xt``: a view when the type's copies are one run,
    else a gathered copy (``zero``: a zero buffer instead, to be written back with `_scatter`)."""
    types, type_runs = (exp.types_out, exp.runs_out) if output else (exp.types_in, exp.runs_in)
    at = 0
    where: list[list[tuple[int, int]]] = [[] for _ in types]
    for t, q0, q1 in type_runs:
        width = (q1 - q0) * types[t].rep.dim
        where[t].append((at, at + width))
        at += width
    views, copied = [], []
    for spans in where:
        if len(spans) == 1:
            views.append(xt[spans[0][0] : spans[0][1]])
            copied.append(False)
        elif zero:
            views.append(xt.new_zeros(sum(e - s for s, e in spans), xt.shape[1]))
            copied.append(True)
        else:
            views.append(torch.cat([xt[s:e] for s, e in spans]))
            copied.append(True)
    return views, copied


def _scatter(
    exp: Expansion, out: Tensor, views: list[Tensor], copied: list[bool], output: bool
) -> None:
    """Write the gathered (``copied``) type buffers back into their runs of ``out``."""
    types, type_runs = (exp.types_out, exp.runs_out) if output else (exp.types_in, exp.runs_in)
    at, filled = 0, [0] * len(views)
    for t, q0, q1 in type_runs:
        width = (q1 - q0) * types[t].rep.dim
        if copied[t]:
            out[at : at + width] = views[t][filled[t] : filled[t] + width]
            filled[t] += width
        at += width


class _LinearFunction(torch.autograd.Function):
    """``W xt + bias`` as one autograd node, on feature-major ``xt [d_in, B]`` (see `apply_t`).

    The same products as `apply_t` type by type, but written into one output buffer, with the
    backward written out: no autograd node per view, split or slice (each slice's backward is a
    zero-filled gradient of the whole input), and the weight-gradient products, whose second
    operand comes transposed, go through oneDNN (`symml.nn._gemm`). Double backward replays
    `apply_t`.
    """

    @staticmethod
    def forward(
        ctx: Any,
        exp: Expansion,
        bases: tuple[Tensor, ...],
        xt: Tensor,
        theta: Tensor,
        bias: Tensor | None,
    ) -> Tensor:
        batch = xt.shape[1]
        d_out = sum((q1 - q0) * exp.types_out[t].rep.dim for t, q0, q1 in exp.runs_out)
        out = xt.new_empty(d_out, batch)
        fields, _ = _type_views(exp, xt, output=False)
        outs, copied = _type_views(exp, out, output=True, zero=True)
        written = [False] * len(outs)
        if bias is not None:
            biases, _ = _type_views(exp, bias[:, None], output=True)
            for b, (o, v) in enumerate(zip(outs, biases, strict=True)):
                o.copy_(v.expand_as(o))
                written[b] = True
        saved: list[Tensor] = []
        for blk, basis in zip(exp.blocks, bases, strict=True):
            x_a, y_b = fields[blk.a], outs[blk.b]
            m_b, m_a = exp.types_out[blk.b].copies, exp.types_in[blk.a].copies
            k, d_b, d_a = basis.shape
            coeffs = theta[blk.start : blk.start + m_b * m_a * k]
            if blk.route == "theta_first":
                mix = coeffs.view(m_b, m_a, k).transpose(1, 2).reshape(m_b * k, m_a)
                u = (mix @ x_a.view(m_a, d_a * batch)).view(m_b, k * d_a, batch)
                y = torch.matmul(basis.transpose(0, 1).reshape(d_b, k * d_a), u)
                y_b.add_(y.view(-1, batch)) if written[blk.b] else y_b.copy_(y.view(-1, batch))
                saved.append(mix)
            else:
                if blk.route == "scale":
                    left = (coeffs * basis[0, 0, 0]).view(m_b, m_a)
                    right = x_a.view(m_a, d_a * batch)
                    saved.append(left)
                elif blk.route == "basis_first":
                    z = torch.matmul(basis.reshape(k * d_b, d_a), x_a.view(m_a, d_a, batch))
                    left, right = coeffs.view(m_b, m_a * k), z.view(m_a * k, d_b * batch)
                    saved.append(z)
                else:
                    w = coeffs.view(m_b * m_a, k) @ basis.view(k, d_b * d_a)
                    left = w.view(m_b, m_a, d_b, d_a).transpose(1, 2).reshape(m_b * d_b, -1)
                    right = x_a
                    saved.append(left)
                target = y_b.view(left.shape[0], -1)
                if written[blk.b]:
                    target.addmm_(left, right)
                else:
                    torch.mm(left, right, out=target)
            written[blk.b] = True
        for b, o in enumerate(outs):
            if not written[b]:
                o.zero_()
        if any(copied):
            _scatter(exp, out, outs, copied, output=True)
        ctx.exp, ctx.bases, ctx.has_bias = exp, bases, bias is not None
        ctx.save_for_backward(xt, theta, *saved)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        exp: Expansion = ctx.exp
        bases: tuple[Tensor, ...] = ctx.bases
        xt, theta, *saved = ctx.saved_tensors
        need_x, need_theta, need_bias = ctx.needs_input_grad[2:5]
        if torch.is_grad_enabled():  # create_graph: replay with recorded ops, differentiably
            return _replay_linear(exp, bases, xt, theta, grad, ctx.needs_input_grad)
        batch = xt.shape[1]
        grad = grad.contiguous()
        fields, _ = _type_views(exp, xt, output=False)
        grads_out, _ = _type_views(exp, grad, output=True)
        gx = torch.zeros_like(xt) if need_x else None
        gfields, gcopied = (
            _type_views(exp, gx, output=False, zero=True) if gx is not None else ([], [])
        )
        g_theta = torch.empty_like(theta) if need_theta else None
        for blk, basis, kept in zip(exp.blocks, bases, saved, strict=True):
            x_a, g_b = fields[blk.a], grads_out[blk.b]
            m_b, m_a = exp.types_out[blk.b].copies, exp.types_in[blk.a].copies
            k, d_b, d_a = basis.shape
            coeffs = theta[blk.start : blk.start + m_b * m_a * k]
            g_coeffs = None if g_theta is None else g_theta[blk.start : blk.start + coeffs.numel()]
            if blk.route == "theta_first":
                mix = kept  # [m_b·K, m_a]
                g_u = torch.matmul(
                    basis.transpose(0, 1).reshape(d_b, k * d_a).t(), g_b.view(m_b, d_b, batch)
                ).view(m_b * k, d_a * batch)
                if g_coeffs is not None:
                    g_mix = _gemm.mm(g_u, x_a.view(m_a, d_a * batch).t())  # [m_b·K, m_a]
                    g_coeffs.view(m_b, m_a, k).copy_(g_mix.view(m_b, k, m_a).transpose(1, 2))
                if gfields:
                    gfields[blk.a].view(m_a, d_a * batch).addmm_(mix.t(), g_u)
            elif blk.route == "scale":
                left = kept  # c·θ [m_b, m_a]
                g_rows = g_b.view(m_b, d_a * batch)
                if g_coeffs is not None:
                    g_left = _gemm.mm(g_rows, x_a.view(m_a, d_a * batch).t())
                    g_coeffs.copy_(g_left.view(-1)).mul_(basis[0, 0, 0])
                if gfields:
                    gfields[blk.a].view(m_a, d_a * batch).addmm_(left.t(), g_rows)
            elif blk.route == "basis_first":
                z = kept  # [m_a, K·d_b, B]
                g_rows = g_b.view(m_b, d_b * batch)
                if g_coeffs is not None:
                    g_coeffs.copy_(_gemm.mm(g_rows, z.view(m_a * k, d_b * batch).t()).view(-1))
                if gfields:
                    g_z = (coeffs.view(m_b, m_a * k).t() @ g_rows).view(m_a, k * d_b, batch)
                    g_x = torch.matmul(basis.reshape(k * d_b, d_a).t(), g_z)  # [m_a, d_a, B]
                    gfields[blk.a].view(m_a, d_a, batch).add_(g_x)
            else:
                left = kept  # W's block [m_b·d_b, m_a·d_a]
                if g_coeffs is not None:
                    g_w = _gemm.mm(g_b, x_a.t()).view(m_b, d_b, m_a, d_a).transpose(1, 2)
                    g_w = g_w.reshape(m_b * m_a, d_b * d_a)
                    g_coeffs.copy_((g_w @ basis.view(k, d_b * d_a).t()).view(-1))
                if gfields:
                    gfields[blk.a].addmm_(left.t(), g_b)
        if gx is not None and any(gcopied):
            _scatter(exp, gx, gfields, gcopied, output=False)
        g_bias = grad.sum(1) if ctx.has_bias and need_bias else None
        return None, None, gx, g_theta, g_bias


def _replay_linear(
    exp: Expansion,
    bases: tuple[Tensor, ...],
    xt: Tensor,
    theta: Tensor,
    grad: Tensor,
    needs: tuple[bool, ...],
) -> tuple[Tensor | None, ...]:
    with torch.enable_grad():
        inputs = [t for t, need in zip((xt, theta), needs[2:4], strict=True) if need]
        grads = iter(
            torch.autograd.grad(
                apply_t(exp, list(bases), theta, xt), inputs, grad, create_graph=True
            )
            if inputs
            else ()
        )
    g_x = next(grads) if needs[2] else None
    g_theta = next(grads) if needs[3] else None
    return None, None, g_x, g_theta, grad.sum(1) if needs[4] else None


def linear_t(
    exp: Expansion, bases: list[Tensor], theta: Tensor, xt: Tensor, bias: Tensor | None = None
) -> Tensor:
    """``W xt + bias`` for feature-major ``xt [d_in, B] → [d_out, B]`` (``bias [d_out]``), as
    `apply_t` computes it, in one autograd node (`_LinearFunction`)."""
    out: Tensor = _LinearFunction.apply(exp, tuple(bases), xt.contiguous(), theta, bias)
    return out
