"""`EquivariantLinear`'s map ``W xt + b`` in training (`linear_t`).

Reference: ``EquivariantLinear.reference_t``, which assembles ``W = Σ_k θ_k B_k`` block by block
(`symml.nn._expansion.assemble`, a few small products and concatenations per pair of field types,
each an autograd node) and multiplies. Here W is cut into its connected components (`Component`:
for O(3) the even and odd tensor ranks, which no block joins), each assembled in one scatter from
a precomputed list of its nonzero entries (``M[r, c] += θ[t] · v``) and multiplied in one GEMM
through oneDNN (`symml.nn._kernels.gemm`); a component that is one multiple of the identity
(V → V alone) multiplies copies only. The backward is two GEMMs per component and the same lists
read the other way.

Multiplying block by block, by each block's cheapest route, takes fewer multiply-adds still (2-3x
fewer for the EMLP's hidden layers), but a few dozen small products, each its own parallel
region: on two threads that was no faster than on one and, whenever waking the other thread
costs something (``OMP_WAIT_POLICY=PASSIVE``, a busy machine), 2-3x slower than the components
(O(3) inertia model's hidden layer, batch 500: 1.9 ms forward + backward on one thread, 1.5 on
two, 6.8 on two passive, against 2.0, 1.3 and 2.5-4). Double backward differentiates the
reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from symml.nn._expansion import Expansion
from symml.nn._kernels import gemm
from symml.nn._kernels._autograd import load, replay_backward, save
from symml.nn._types import FieldType

Reference = Callable[[Tensor, Tensor, Tensor | None], Tensor]


class Entries(NamedTuple):
    """The nonzeros of ``M = Σ_t θ_t B_t`` as ``M.flat[entry[e]] += θ[coeff[e]] · value[e]``
    (sorted by ``entry``), each value given as its position ``source[e]`` in the concatenated
    flattened bases, so that it is read from the layer's own bases, in its dtype."""

    entry: Tensor
    coeff: Tensor
    source: Tensor


def _entries(exp: Expansion, blocks: list[int], rows: Tensor, cols: Tensor, width: int) -> Entries:
    """The entries of ``exp``'s blocks ``blocks`` in a matrix of ``width`` columns whose row for
    output coordinate r is ``rows[r]`` and column for input coordinate c is ``cols[c]``."""
    starts = [0]  # where each block's basis starts in the concatenated bases
    for blk in exp.blocks:
        starts.append(starts[-1] + blk.basis.numel())
    index, coeff, source = [], [], []
    for n in blocks:
        blk = exp.blocks[n]
        a, b = exp.types_in[blk.a], exp.types_out[blk.b]
        k, i, j = blk.basis.nonzero(as_tuple=True)  # the basis's nonzeros B[k, i, j]
        p = torch.arange(b.copies).repeat_interleave(a.copies)[:, None]  # copy pairs (p, q)
        q = torch.arange(a.copies).repeat(b.copies)[:, None]
        row = rows[torch.tensor(b.offsets)[p] + i]
        col = cols[torch.tensor(a.offsets)[q] + j]
        index.append((row * width + col).flatten())
        coeff.append((blk.start + (p * a.copies + q) * len(blk.basis) + k).flatten())
        position = starts[n] + (k * blk.basis.shape[1] + i) * blk.basis.shape[2] + j
        source.append(position.expand(p.shape[0], -1).flatten())
    if not index:
        empty = torch.zeros(0, dtype=torch.long)
        return Entries(empty, empty, empty)
    flat = torch.cat(index)
    order = torch.argsort(flat, stable=True)  # filled front to back
    return Entries(flat[order], torch.cat(coeff)[order], torch.cat(source)[order])


class Rows(NamedTuple):
    """Some coordinates of a feature-major tensor, in order: ``coords``, or the range
    ``[start, stop)`` when they are one (no copy needed to read them)."""

    coords: Tensor
    span: tuple[int, int] | None

    def take(self, t: Tensor) -> Tensor:
        return t[self.span[0] : self.span[1]] if self.span else t.index_select(0, self.coords)

    def put(self, target: Tensor, value: Tensor) -> None:
        if self.span:
            target[self.span[0] : self.span[1]].copy_(value)
        else:
            target.index_copy_(0, self.coords, value)


def _rows(coordinates: list[int]) -> Rows:
    first = coordinates[0] if coordinates else 0
    contiguous = coordinates == list(range(first, first + len(coordinates)))
    span = (first, first + len(coordinates)) if contiguous else None
    return Rows(torch.tensor(coordinates, dtype=torch.long), span)


class Component(NamedTuple):
    """A diagonal block of W: the input and output coordinates of field types that only its
    blocks connect (e.g. even and odd tensor ranks for O(3)), and the entries of its matrix
    ``[n_out / kron, n_in / kron]``: with ``kron`` > 1 the block is ``M ⊗ I_kron`` (one type to
    one type through a multiple of the identity, e.g. V → V) and multiplies ``[m, kron·B]``
    views of the copies, kron times fewer multiply-adds than the dense block."""

    rows_in: Rows
    rows_out: Rows
    weight: Entries
    kron: int


def _coordinates(types: list[FieldType]) -> list[int]:
    return sorted(off + i for t in types for off in t.offsets for i in range(t.rep.dim))


def _components(exp: Expansion) -> tuple[Component, ...]:
    """W split into the connected components of its nonzero blocks: for O(3)'s EMLP layers two,
    of half the multiply-adds together of the whole product."""
    parent = list(range(len(exp.types_in) + len(exp.types_out)))  # inputs, then outputs

    def root(n: int) -> int:
        while parent[n] != n:
            n = parent[n]
        return n

    for blk in exp.blocks:
        parent[root(len(exp.types_in) + blk.b)] = root(blk.a)
    members: dict[int, list[int]] = {}
    for n, blk in enumerate(exp.blocks):
        members.setdefault(root(blk.a), []).append(n)
    d_in = sum(t.copies * t.rep.dim for t in exp.types_in)
    d_out = sum(t.copies * t.rep.dim for t in exp.types_out)
    out = []
    for blocks in members.values():
        ins = _coordinates([exp.types_in[a] for a in sorted({exp.blocks[n].a for n in blocks})])
        outs = _coordinates([exp.types_out[b] for b in sorted({exp.blocks[n].b for n in blocks})])
        kron = _identity_dim(exp, blocks[0]) if len(blocks) == 1 else 1
        if kron > 1:
            weight = _copies_entries(exp, blocks[0])
        else:
            cols, rows = torch.zeros(d_in, dtype=torch.long), torch.zeros(d_out, dtype=torch.long)
            cols[ins], rows[outs] = torch.arange(len(ins)), torch.arange(len(outs))
            weight = _entries(exp, blocks, rows, cols, len(ins))
        out.append(Component(_rows(ins), _rows(outs), weight, kron))
    return tuple(out)


def _identity_dim(exp: Expansion, n: int) -> int:
    """d if block ``n`` is a multiple of the identity of dimension d > 1, else 1."""
    basis = exp.blocks[n].basis
    k, d_b, d_a = basis.shape
    if k != 1 or d_a != d_b or d_a < 2:
        return 1
    identity = float(basis[0, 0, 0]) * torch.eye(d_a, dtype=basis.dtype)
    return d_a if torch.allclose(basis[0], identity, rtol=0, atol=1e-12) else 1


def _copies_entries(exp: Expansion, n: int) -> Entries:
    """The entries ``M[p, q] = c·θ[p, q]`` of a block ``c·θ ⊗ I`` between copies."""
    blk = exp.blocks[n]
    m_b, m_a = exp.types_out[blk.b].copies, exp.types_in[blk.a].copies
    at = sum(b.basis.numel() for b in exp.blocks[:n])  # c = the basis's first entry
    pairs = torch.arange(m_b * m_a)
    return Entries(pairs, blk.start + pairs, torch.full_like(pairs, at))


class LinearPlan(NamedTuple):
    """W's components and the bias's nonzeros, made once per layer; ``covers_in`` and
    ``covers_out``: whether the components read every input and write every output row."""

    d_in: int
    d_out: int
    components: tuple[Component, ...]
    bias: Entries | None
    covers_in: bool
    covers_out: bool


def linear_plan(exp: Expansion, bias_exp: Expansion | None) -> LinearPlan:
    """The `LinearPlan` of ``W = Σ θ_k B_k`` (``exp``) and of its bias (``bias_exp``: the maps
    from one trivial input, so its entries index the bias vector)."""
    d_in = sum(t.copies * t.rep.dim for t in exp.types_in)
    d_out = sum(t.copies * t.rep.dim for t in exp.types_out)
    bias = None
    if bias_exp is not None and bias_exp.size:
        blocks = list(range(len(bias_exp.blocks)))
        bias = _entries(bias_exp, blocks, torch.arange(d_out), torch.zeros(1, dtype=torch.long), 1)
    components = _components(exp)
    covers_in = sum(len(c.rows_in.coords) for c in components) == d_in
    covers_out = sum(len(c.rows_out.coords) for c in components) == d_out
    return LinearPlan(d_in, d_out, components, bias, covers_in, covers_out)


class Scatter(NamedTuple):
    """`Entries` with their values, on one device in one dtype."""

    entry: Tensor
    coeff: Tensor
    value: Tensor


def _scatter_of(entries: Entries, flat_bases: Tensor) -> Scatter:
    device = flat_bases.device
    value = flat_bases.index_select(0, entries.source.to(device))
    return Scatter(entries.entry.to(device), entries.coeff.to(device), value)


class LinearKernel(NamedTuple):
    """One layer's plan for one dtype and device: per component its rows and its scatter."""

    plan: LinearPlan
    components: tuple[tuple[Rows, Rows, Scatter], ...]
    bias: Scatter | None


def linear_kernel(plan: LinearPlan, bases: list[Tensor], bias_bases: list[Tensor]) -> LinearKernel:
    """The `LinearKernel` of ``plan`` with the layer's bases (one ``[K, d_b, d_a]`` per block of
    W, and of the bias) in the dtype and on the device it computes in (made once per dtype and
    device rather than converted on every call)."""

    def flat(tensors: list[Tensor]) -> Tensor:
        return torch.cat([b.reshape(-1) for b in tensors])

    def on(rows: Rows, device: torch.device) -> Rows:
        return Rows(rows.coords.to(device), rows.span)

    device = bases[0].device if bases else bias_bases[0].device
    components = tuple(
        (on(c.rows_in, device), on(c.rows_out, device), _scatter_of(c.weight, flat(bases)))
        for c in plan.components
    )
    bias = None if plan.bias is None else _scatter_of(plan.bias, flat(bias_bases))
    return LinearKernel(plan, components, bias)


def linear_t(
    kernel: LinearKernel,
    reference: Reference,
    xt: Tensor,
    theta: Tensor,
    bias_theta: Tensor | None,
) -> Tensor:
    """``reference(xt, theta, bias_theta)`` = ``W xt + b`` as one autograd node.

    Args:
        kernel: the layer's `LinearKernel` for ``theta``'s dtype and device.
        reference: the same map in ordinary differentiable ops (differentiated for double
            backward).
        xt: feature-major inputs ``[d_in, B]``.
        theta: W's coefficients; ``bias_theta``: the bias's (or None).

    Returns:
        ``[d_out, B]``.
    """
    out: Tensor = _LinearFunction.apply(kernel, reference, xt.contiguous(), theta, bias_theta)
    return out


def _scatter(entries: Scatter, coefficients: Tensor, size: int) -> Tensor:
    """``M.flatten()`` ``[size]`` from its coefficients (`Tensor.scatter_add_`: half the time of
    `Tensor.index_add_` here, 70 against 130 µs for the EMLP's 71,000 entries)."""
    contributions = coefficients.index_select(0, entries.coeff).mul_(entries.value)
    return coefficients.new_zeros(size).scatter_add_(0, entries.entry, contributions)


def _gather_into(target: Tensor, entries: Scatter, grad: Tensor) -> None:
    """Add the coefficients' gradient to ``target`` from ``M``'s, ``grad.flatten()``."""
    contributions = grad.index_select(0, entries.entry).mul_(entries.value)
    target.scatter_add_(0, entries.coeff, contributions)


class _Saved(NamedTuple):
    inputs: tuple[Tensor | None, ...]  # xt, θ, bias θ (or None)
    matrices: tuple[Tensor, ...]  # per component: its matrix
    rows: tuple[Tensor, ...]  # per component: its input rows (as multiplied)


class _LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        kernel: LinearKernel,
        reference: Reference,
        xt: Tensor,
        theta: Tensor,
        bias_theta: Tensor | None,
    ) -> Tensor:
        plan = kernel.plan
        out = None if plan.covers_out else xt.new_zeros(plan.d_out, xt.shape[1])
        matrices, rows = [], []
        batch = xt.shape[1]
        for (rows_in, rows_out, scatter), c in zip(kernel.components, plan.components, strict=True):
            x_c = rows_in.take(xt).view(-1, c.kron * batch)
            n_out, n_in = len(rows_out.coords) // c.kron, x_c.shape[0]
            w = _scatter(scatter, theta, n_out * n_in).view(n_out, n_in)
            y_c = gemm.mm(w, x_c).view(-1, batch)
            if out is None and len(kernel.components) == 1:
                out = y_c  # the one component writes every row, in order
            else:
                out = xt.new_empty(plan.d_out, xt.shape[1]) if out is None else out
                rows_out.put(out, y_c)
            matrices.append(w)
            rows.append(x_c)
        assert out is not None
        if bias_theta is not None and kernel.bias is not None:
            out.add_(_scatter(kernel.bias, bias_theta, plan.d_out)[:, None])
        ctx.kernel, ctx.reference = kernel, reference
        save(ctx, _Saved((xt, theta, bias_theta), tuple(matrices), tuple(rows)))
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        kernel: LinearKernel = ctx.kernel
        plan = kernel.plan
        saved = load(ctx, _Saved)
        xt, theta, bias_theta = saved.inputs
        assert xt is not None and theta is not None
        needs = ctx.needs_input_grad[2:5]
        if torch.is_grad_enabled():  # create_graph: differentiate the reference
            return (None, None, *replay_backward(ctx.reference, saved.inputs, [grad], needs))
        grad = grad.contiguous()
        g_x = None
        if needs[0]:
            g_x = xt.new_empty(xt.shape) if plan.covers_in else torch.zeros_like(xt)
        g_theta = theta.new_zeros(theta.shape) if needs[1] else None
        batch = xt.shape[1]
        for (rows_in, rows_out, scatter), w, x_c in zip(
            kernel.components, saved.matrices, saved.rows, strict=True
        ):
            g_c = rows_out.take(grad).view(w.shape[0], -1)
            if g_x is not None:
                rows_in.put(g_x, gemm.mm(w.t(), g_c).view(-1, batch))
            if g_theta is not None:
                g_w = gemm.mm(g_c, x_c.t())  # [n_out, n_in]
                _gather_into(g_theta, scatter, g_w.view(-1))
        g_bias = None
        if needs[2] and bias_theta is not None and kernel.bias is not None:
            g_bias = bias_theta.new_zeros(bias_theta.shape)
            _gather_into(g_bias, kernel.bias, grad.sum(1))
        return None, None, g_x, g_theta, g_bias
