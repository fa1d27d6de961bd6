"""The edge pipeline of `EGNNConv` and `GNNConv` as one autograd node (`fused_edges`).

Reference: `symml.nn.gnn._edge_mlp.reference_edges`, the same map with a gather, the MLPs and a
scatter in ordinary ops (its docstring has the formulas). Computed per edge ``(j → i)``; the first
layer of the edge MLP is applied to node features before the gather (``W[h_i, h_j] = W_i h_i +
W_j h_j``, so it costs O(N) instead of O(E)), and φ_h runs in the same node.

Why a hand-written backward: autograd would keep every intermediate ``[E, H]`` tensor of this chain
alive for the backward pass (about 2.6 KB per edge at H = 64) and streams each one through memory
once per elementwise op. Here edges are processed in cache-sized chunks, only the three
pre-activations ``z1, z2, z3`` and ``x_i − x_j``, ``‖x_i − x_j‖²`` are kept (0.77 KB per edge at
H = 64; nothing when no input needs a gradient), and the activations are recomputed from them in
the backward pass, except when all edges fit in one chunk (a few MB at most), where keeping them
is cheaper. The ``[E, H] × [H, H]`` products go through oneDNN in float32 on the CPU
(`symml.nn._kernels.gemm`). Double backward differentiates the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from symml.nn._kernels._autograd import load, replay_backward, save
from symml.nn._kernels.edge_ops import (
    Chunk,
    EdgeOptions,
    Weights,
    chunk_size,
    columns,
    scatter_rows,
    unit,
)
from symml.nn._kernels.edges_backward import Graph, edges_backward
from symml.nn._kernels.gemm import linear as _matmul

Reference = Callable[
    [EdgeOptions, Tensor, Tensor | None, Tensor, Tensor | None, Tensor | None, Weights],
    tuple[Tensor, Tensor],
]


def fused_edges(
    opts: EdgeOptions,
    edge_index: Tensor,
    inv_deg: Tensor | None,
    h: Tensor,
    pos: Tensor | None,
    edge_attr: Tensor | None,
    weights: Weights,
    reference: Reference,
) -> tuple[Tensor, Tensor]:
    """``reference(opts, edge_index, inv_deg, h, pos, edge_attr, weights)`` as one autograd node.

    Args:
        opts: what to compute.
        edge_index: ``[2, E]``, edges ``edge_index[0] → edge_index[1]``.
        inv_deg: ``[N]`` inverse in-degrees (needed for the means).
        h: ``[N, F]`` node features.
        pos: ``[N, n]`` coordinates (with ``distance`` or ``coords``).
        edge_attr: ``[E, A]`` or None.
        weights: the parameters.
        reference: the same map in ordinary differentiable ops (differentiated for double
            backward).

    Returns:
        ``(M [N, H], T [N, n])`` (``T`` is empty without ``coords``); with ``opts.node``
        ``(h' [N, F_out], x + T [N, n])``.
    """
    out: tuple[Tensor, Tensor] = _FusedEdges.apply(
        opts, reference, edge_index, inv_deg, h, pos, edge_attr, *weights
    )
    return out


@dataclass
class _Pass:
    """One forward pass's node-level operands, and the sums its chunks scatter into."""

    graph: Graph
    pos: Tensor | None
    edge_attr: Tensor | None
    p: Tensor  # W_i h + b_1 [N, H]
    q: Tensor  # W_j h [N, H]
    w_a: Tensor
    w_d: Tensor
    messages: Tensor  # M [N, H]
    coords: Tensor  # T [N, n] (empty without coords)


def _chunk_forward(
    opts: EdgeOptions, w: Weights, run: _Pass, start: int, step: int, keep_activations: bool
) -> Chunk:
    """One chunk of edges: gather, edge MLP, scatter into ``run``'s messages and coords."""
    i, j = run.graph.dst[start : start + step], run.graph.src[start : start + step]
    z1 = run.p.index_select(0, i).add_(run.q.index_select(0, j))
    r = d = z3 = u3 = None
    if run.pos is not None:
        r = run.pos.index_select(0, i).sub_(run.pos.index_select(0, j))
        d = torch.linalg.vecdot(r, r)
        if opts.distance:
            z1.addcmul_(d[:, None], run.w_d)
    if run.edge_attr is not None:
        z1.addmm_(run.edge_attr[start : start + step], run.w_a.t())
    u1 = F.silu(z1)
    z2 = _matmul(u1, w.w_2, w.b_2)
    m = m0 = F.silu(z2)
    if opts.attention:
        assert w.w_att is not None and w.b_att is not None
        m = m0 * torch.sigmoid(_matmul(m0, w.w_att, w.b_att))
    scatter_rows(run.messages, i, m)
    if opts.coords:
        assert w.w_3 is not None and w.b_3 is not None and w.w_4 is not None
        assert r is not None and d is not None
        z3 = _matmul(m, w.w_3, w.b_3)
        u3 = F.silu(z3)
        s = u3 @ w.w_4[0]
        if opts.clamp is not None:
            s = s.clamp_(-opts.clamp, opts.clamp)
        vec = unit(r, d)[0] if opts.normalize else r
        scatter_rows(run.coords, i, vec * s[:, None])
    if keep_activations:
        return Chunk(z1, z2, z3, r, d, u1, m0, u3)
    return Chunk(z1, z2, z3, r, d, None, None, None)


def _node_forward(
    opts: EdgeOptions, w: Weights, h: Tensor, pos: Tensor | None, run: _Pass
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``h' = [h +] φ_h([h, M])`` and ``x' = x + T`` (in ``run.coords``); returns h' and what
    the backward needs. In the same autograd node: a separate graph for it (cat, 2 linear layers,
    SiLU, residual, x + T) costs more in per-node overhead than its arithmetic at N-body sizes."""
    assert w.w_n1 is not None and w.b_n1 is not None and w.w_n2 is not None
    node_in = torch.cat([h, run.messages], 1)
    z_n = _matmul(node_in, w.w_n1, w.b_n1)
    u_n = F.silu(z_n)
    h_out = _matmul(u_n, w.w_n2, w.b_n2, add=h if opts.residual else None)
    if opts.coords:
        assert pos is not None
        run.coords += pos
    return h_out, (node_in, z_n, u_n)


class _Saved(NamedTuple):
    graph: tuple[Tensor | None, ...]  # edge_index, inv_deg
    inputs: tuple[Tensor | None, ...]  # h, pos, edge_attr, *weights
    chunks: tuple[Tensor | None, ...]  # the fields of every `Chunk`, chunk after chunk
    node: tuple[Tensor, ...]  # φ_h's input [h, M], pre-activation and activation (option node)


class _FusedEdges(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        opts: EdgeOptions,
        reference: Reference,
        edge_index: Tensor,
        inv_deg: Tensor | None,
        h: Tensor,
        pos: Tensor | None,
        edge_attr: Tensor | None,
        *weights: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        w = Weights._make(weights)
        w_i, w_j, w_a, w_d = columns(w.w_1, h.shape[1], opts.distance)
        hidden = w.w_1.shape[0]
        pq = _matmul(h, torch.cat([w_i, w_j]))  # the first layer on the nodes: P, Q [N, 2H]
        p, q = pq[:, :hidden], pq[:, hidden:]
        p += w.b_1
        coords = h.new_zeros(0) if pos is None or not opts.coords else pos.new_zeros(pos.shape)
        messages = h.new_zeros(h.shape[0], hidden)
        graph = Graph(edge_index[0], edge_index[1], inv_deg)
        run = _Pass(graph, pos, edge_attr, p, q, w_a, w_d, messages, coords)
        keep = any(ctx.needs_input_grad)  # nothing is saved in inference
        step, e = chunk_size(hidden), edge_index.shape[1]
        # all edges in one chunk (a few MB at most): recomputing the activations in the backward
        # would cost more time than keeping them costs memory
        activations = keep and e <= step
        chunks = [_chunk_forward(opts, w, run, s, step, activations) for s in range(0, e, step)]
        if inv_deg is not None:
            if opts.messages_mean:
                messages.mul_(inv_deg[:, None])
            if opts.coords and opts.coords_mean:
                coords.mul_(inv_deg[:, None].to(coords.dtype))
        first = messages
        node: tuple[Tensor, ...] = ()
        if opts.node:
            first, node = _node_forward(opts, w, h, pos, run)
        ctx.opts, ctx.reference = opts, reference
        ctx.columns = (w_i, w_j, w_a, w_d)  # derived from w_1, which is saved too
        if not opts.coords:
            ctx.mark_non_differentiable(coords)  # empty: T is not computed
        if keep:
            flat = tuple(t for chunk in chunks for t in chunk)
            save(ctx, _Saved((edge_index, inv_deg), (h, pos, edge_attr, *weights), flat, node))
        return first, coords

    @staticmethod
    def backward(ctx: Any, g_first: Tensor, g_coords: Tensor) -> tuple[Tensor | None, ...]:
        saved = load(ctx, _Saved)
        edge_index, inv_deg = saved.graph
        assert edge_index is not None
        needs = ctx.needs_input_grad[4:]
        if torch.is_grad_enabled():  # create_graph: differentiate the reference
            opts, reference = ctx.opts, ctx.reference

            def replayed(
                h: Tensor, pos: Tensor | None, attr: Tensor | None, *weights: Tensor | None
            ) -> tuple[Tensor, Tensor]:
                return reference(opts, edge_index, inv_deg, h, pos, attr, Weights._make(weights))

            grads = replay_backward(replayed, saved.inputs, [g_first, g_coords], needs)
            return (None, None, None, None, *grads)
        width = len(Chunk._fields)
        flat = saved.chunks
        chunks = [Chunk._make(flat[s : s + width]) for s in range(0, len(flat), width)]
        graph = Graph(edge_index[0], edge_index[1], inv_deg)
        grads = edges_backward(
            ctx.opts,
            ctx.columns,
            graph,
            saved.inputs,
            chunks,
            saved.node,
            (g_first, g_coords),
            needs,
        )
        return (None, None, None, None, *grads)
