"""The linear map from free coefficients θ to an equivariant matrix W = Σ_k θ_k B_k.

Hom_G(⊕_a m_a·a, ⊕_b m_b·b) is block structured: the block between copy q of type a and copy p of
type b is Σ_k θ_{pqk} B^{ab}_k with one small basis B^{ab} ``[K, d_b, d_a]`` per pair of types.
So the part of W between all copies of a and all copies of b is one small GEMM,
``θ^{ab} [m_b·m_a, K] @ B^{ab} [K, d_b·d_a]``, reordered to ``[m_b·d_b, m_a·d_a]``; W is these
blocks concatenated in the order the copies appear. Nothing of size ``K × d_out × d_in`` is ever
stored, and forward and backward are a few dense kernels (a gather/scatter over every nonzero of
the basis was 5x slower). `linear_t` goes further and multiplies by W without building it: per
pair of types, by θ and the small basis in turn (for identity blocks θ alone).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from symml.nn import _gemm
from symml.nn._types import FieldType, field_types
from symml.reps import Rep, intertwiners


@dataclass(frozen=True)
class Block:
    """The coefficients ``θ[start : start + m_b·m_a·K]`` (order p, q, k) of the maps from the
    copies of input type ``a`` to those of output type ``b``, with ``basis [K, d_b, d_a]``;
    ``route`` is how `linear_t` multiplies by it (see `_route`)."""

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
    """How `linear_t` multiplies by a block.

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


class _Step(NamedTuple):
    """One block for `_LinearFunction`: its route, the rows of its input and output types in the
    type-ordered layout, its sizes, and where its coefficients start in θ."""

    route: str
    a0: int
    a1: int
    b0: int
    b1: int
    m_a: int
    m_b: int
    k: int
    d_a: int
    d_b: int
    start: int


class LinearPlan(NamedTuple):
    """What `_LinearFunction` needs of an `Expansion` (and of the bias's), precomputed once.

    Both reps are laid out type by type (``order_in`` / ``unorder_out`` permute the coordinates
    into and out of that layout when a type's copies are not side by side; None when they are).
    """

    steps: tuple[_Step, ...]
    bias_steps: tuple[_Step, ...]
    d_in: int
    d_out: int
    out_types: tuple[tuple[int, int], ...]
    order_in: tuple[int, ...] | None
    order_out: tuple[int, ...] | None
    unorder_out: tuple[int, ...] | None


def type_rows(types: tuple[FieldType, ...]) -> tuple[list[tuple[int, int]], list[int] | None]:
    """Rows ``(start, end)`` of each type when the coordinates are laid out type by type, and
    that layout as a list of the original coordinates (None if it is the original order)."""
    rows, at = [], 0
    for t in types:
        rows.append((at, at + t.copies * t.rep.dim))
        at += t.copies * t.rep.dim
    order = [off + i for t in types for off in t.offsets for i in range(t.rep.dim)]
    return rows, None if order == sorted(order) else order


def linear_plan(exp: Expansion, bias_exp: Expansion | None) -> LinearPlan:
    """The `LinearPlan` of ``W = Σ θ_k B_k`` (``exp``) and of its bias (``bias_exp``)."""
    rows_in, order_in = type_rows(exp.types_in)
    rows_out, order_out = type_rows(exp.types_out)

    def step(blk: Block, e: Expansion, a_rows: list[tuple[int, int]]) -> _Step:
        k, d_b, d_a = blk.basis.shape
        m_a, m_b = e.types_in[blk.a].copies, e.types_out[blk.b].copies
        (a0, a1), (b0, b1) = a_rows[blk.a], rows_out[blk.b]
        return _Step(blk.route, a0, a1, b0, b1, m_a, m_b, k, d_a, d_b, blk.start)

    unorder = None
    if order_out is not None:
        unorder = [0] * len(order_out)
        for position, coordinate in enumerate(order_out):
            unorder[coordinate] = position
    return LinearPlan(
        tuple(step(blk, exp, rows_in) for blk in exp.blocks),
        tuple(step(blk, bias_exp, [(0, 1)]) for blk in bias_exp.blocks) if bias_exp else (),
        rows_in[-1][1] if rows_in else 0,
        rows_out[-1][1] if rows_out else 0,
        tuple(rows_out),
        None if order_in is None else tuple(order_in),
        None if order_out is None else tuple(order_out),
        None if unorder is None else tuple(unorder),
    )


def plan_constants(plan: LinearPlan, bases: list[Tensor]) -> tuple[tuple[Tensor, ...], ...]:
    """Per step, the basis in the shapes its route multiplies by (forward and backward), made
    once per dtype and device rather than reshaped on every call."""
    out: list[tuple[Tensor, ...]] = []
    for st, basis in zip(plan.steps, bases, strict=True):
        k, d_b, d_a = st.k, st.d_b, st.d_a
        if st.route == "scale":  # B = c·I: c
            out.append((basis.reshape(-1)[0:1],))
        elif st.route == "basis_first":
            flat = basis.reshape(k * d_b, d_a)
            out.append((flat, flat.t().contiguous()))
        elif st.route == "theta_first":
            mixer = basis.transpose(0, 1).reshape(d_b, k * d_a).contiguous()
            out.append((mixer, mixer.t().contiguous()))
        else:
            flat = basis.reshape(k, d_b * d_a)
            out.append((flat, flat.t().contiguous()))
    return tuple(out)


class LinearKernel(NamedTuple):
    """What `linear_t` needs besides the tensors that get gradients, for one layer, dtype and
    device: its `LinearPlan`, the bases per step (`plan_constants`), the bias expansion's
    ``[K, d_b, 1]`` bases, and ``replay``, which computes the same ``W xt + b`` from
    ``(xt, θ, bias θ)`` in the type-ordered layout with recorded ops (for double backward)."""

    plan: LinearPlan
    consts: tuple[tuple[Tensor, ...], ...]
    bias_bases: tuple[Tensor, ...]
    replay: Callable[[Tensor, Tensor, Tensor | None], Tensor]


class _LinearFunction(torch.autograd.Function):
    """``W xt + bias`` as one autograd node, on type-ordered feature-major ``xt [d_in, B]``.

    The products of each block by its route (`Block.route`), written into one output buffer, with
    the backward written out: no autograd node per view, split or slice (each slice's backward is a
    zero-filled gradient of the whole input), and the products go through oneDNN
    (`symml.nn._gemm`). The bias ``Σ_k β_k b_k`` is built inside too. Double backward replays
    the layer with W assembled densely (`LinearKernel.replay`).
    """

    @staticmethod
    def forward(
        ctx: Any, kernel: LinearKernel, xt: Tensor, theta: Tensor, bias_theta: Tensor | None
    ) -> Tensor:
        plan, consts, bias_bases = kernel.plan, kernel.consts, kernel.bias_bases
        batch = xt.shape[1]
        out = xt.new_empty(plan.d_out, batch)
        written: set[int] = set()
        if bias_theta is not None:
            for st, basis in zip(plan.bias_steps, bias_bases, strict=True):
                coeffs = bias_theta[st.start : st.start + st.m_b * st.k].view(st.m_b, st.k)
                vec = (coeffs @ basis.view(st.k, st.d_b)).view(-1, 1)  # [m_b·d_b, 1]
                rows = out[st.b0 : st.b1]
                rows.add_(vec) if st.b0 in written else rows.copy_(vec.expand_as(rows))
                written.add(st.b0)
        saved: list[Tensor] = []
        for st, const in zip(plan.steps, consts, strict=True):
            x_a, y_b = xt[st.a0 : st.a1], out[st.b0 : st.b1]
            m_a, m_b, k, d_a, d_b = st.m_a, st.m_b, st.k, st.d_a, st.d_b
            coeffs = theta[st.start : st.start + m_b * m_a * k]
            if st.route == "theta_first":
                mix = coeffs.view(m_b, m_a, k).transpose(1, 2).reshape(m_b * k, m_a)
                u = _gemm.mm(mix, x_a.view(m_a, d_a * batch)).view(m_b, k * d_a, batch)
                y = torch.matmul(const[0], u).view(-1, batch)  # [d_b, K·d_a] @ u
                y_b.add_(y) if st.b0 in written else y_b.copy_(y)
                saved.append(mix)
            else:
                if st.route == "scale":
                    left, right = coeffs.view(m_b, m_a) * const[0], x_a.view(m_a, -1)
                    saved.append(left)
                elif st.route == "basis_first":
                    z = torch.matmul(const[0], x_a.view(m_a, d_a, batch))  # [m_a, K·d_b, B]
                    left, right = coeffs.view(m_b, m_a * k), z.view(m_a * k, -1)
                    saved.append(z)
                else:
                    w = coeffs.view(m_b * m_a, k) @ const[0]
                    left = w.view(m_b, m_a, d_b, d_a).transpose(1, 2).reshape(m_b * d_b, -1)
                    right = x_a
                    saved.append(left)
                target = y_b.view(left.shape[0], -1)
                if st.b0 in written:
                    _gemm.addmm_(target, left, right)
                else:
                    target.copy_(_gemm.mm(left, right))
            written.add(st.b0)
        for b0, b1 in plan.out_types:
            if b0 not in written:
                out[b0:b1].zero_()
        ctx.kernel = kernel
        ctx.has_bias = bias_theta is not None
        ctx.save_for_backward(xt, theta, bias_theta, *saved)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        kernel: LinearKernel = ctx.kernel
        plan = kernel.plan
        xt, theta, bias_theta, *saved = ctx.saved_tensors
        need_x, need_theta, need_bias = ctx.needs_input_grad[1:4]
        if torch.is_grad_enabled():  # create_graph: replay with recorded ops, differentiably
            needs = (need_x, need_theta, need_bias)
            with torch.enable_grad():
                y = kernel.replay(xt, theta, bias_theta)
                inputs = (xt, theta, bias_theta)
                wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
                grads = iter(torch.autograd.grad(y, wanted, grad, create_graph=True))
            return (None, *(next(grads) if need else None for need in needs))
        batch = xt.shape[1]
        grad = grad.contiguous()
        # each input type's first gradient term is written, later ones added (no zero fill)
        gx = torch.empty_like(xt) if need_x else None
        started: set[int] = set()
        g_theta = torch.empty_like(theta) if need_theta else None
        for st, const, kept in zip(plan.steps, kernel.consts, saved, strict=True):
            x_a, g_b = xt[st.a0 : st.a1], grad[st.b0 : st.b1]
            g_x = None if gx is None else gx[st.a0 : st.a1]
            first = st.a0 not in started
            started.add(st.a0)
            m_a, m_b, k, d_a, d_b = st.m_a, st.m_b, st.k, st.d_a, st.d_b
            g_coeffs = None if g_theta is None else g_theta[st.start : st.start + m_b * m_a * k]
            if st.route == "theta_first":
                g_u = torch.matmul(const[1], g_b.view(m_b, d_b, batch)).view(m_b * k, -1)
                if g_coeffs is not None:
                    g_mix = _gemm.mm(g_u, x_a.view(m_a, d_a * batch).t())  # [m_b·K, m_a]
                    g_coeffs.view(m_b, m_a, k).copy_(g_mix.view(m_b, k, m_a).transpose(1, 2))
                if g_x is not None:
                    _mm_into(g_x.view(m_a, -1), kept.t(), g_u, first)
            elif st.route == "scale":
                g_rows = g_b.view(m_b, -1)
                if g_coeffs is not None:
                    g_left = _gemm.mm(g_rows, x_a.view(m_a, -1).t())
                    torch.mul(g_left.view(-1), const[0], out=g_coeffs)
                if g_x is not None:
                    _mm_into(g_x.view(m_a, -1), kept.t(), g_rows, first)
            elif st.route == "basis_first":
                g_rows = g_b.view(m_b, -1)
                if g_coeffs is not None:
                    g_coeffs.copy_(_gemm.mm(g_rows, kept.view(m_a * k, -1).t()).view(-1))
                if g_x is not None:
                    coeffs = theta[st.start : st.start + m_b * m_a * k].view(m_b, m_a * k)
                    g_z = _gemm.mm(coeffs.t(), g_rows).view(m_a, k * d_b, batch)
                    g_xa = torch.matmul(const[1], g_z)  # [m_a, d_a, B]
                    if first:
                        g_x.view_as(g_xa).copy_(g_xa)
                    else:
                        g_x.view_as(g_xa).add_(g_xa)
            else:
                if g_coeffs is not None:
                    g_w = _gemm.mm(g_b, x_a.t()).view(m_b, d_b, m_a, d_a).transpose(1, 2)
                    g_w = g_w.reshape(m_b * m_a, d_b * d_a)
                    g_coeffs.copy_((g_w @ const[1]).view(-1))
                if g_x is not None:
                    _mm_into(g_x, kept.t(), g_b, first)
        if gx is not None:  # input types no block reads: zero gradient
            at = 0
            for a0, a1 in sorted({(st.a0, st.a1) for st in plan.steps}):
                gx[at:a0].zero_()
                at = a1
            gx[at:].zero_()
        g_bias = None
        if need_bias:
            sums = grad.sum(1)
            parts = []
            for st, basis in zip(plan.bias_steps, kernel.bias_bases, strict=True):
                g_vec = sums[st.b0 : st.b1].view(st.m_b, st.d_b)
                parts.append((g_vec @ basis.view(st.k, st.d_b).t()).view(-1))
            g_bias = torch.cat(parts) if len(parts) > 1 else parts[0]
        return None, gx, g_theta, g_bias


def _mm_into(target: Tensor, a: Tensor, b: Tensor, first: bool) -> None:
    """``target = a @ b`` (``first``) or ``target += a @ b``."""
    if first:
        target.copy_(_gemm.mm(a, b))
    else:
        _gemm.addmm_(target, a, b)


def linear_t(kernel: LinearKernel, xt: Tensor, theta: Tensor, bias_theta: Tensor | None) -> Tensor:
    """``W xt + bias`` for feature-major ``xt [d_in, B] → [d_out, B]``, with ``W = Σ θ_k B_k``
    multiplied type by type in one autograd node (`_LinearFunction`)."""
    plan = kernel.plan
    if plan.order_in is not None:
        xt = xt.index_select(0, torch.tensor(plan.order_in, device=xt.device))
    out: Tensor = _LinearFunction.apply(kernel, xt.contiguous(), theta, bias_theta)
    if plan.unorder_out is not None:
        out = out.index_select(0, torch.tensor(plan.unorder_out, device=out.device))
    return out
