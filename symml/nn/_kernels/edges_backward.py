"""The edge kernel's backward pass (`symml.nn._kernels.edges`), written out step by step: φ_h,
then chunk by chunk back through the coordinate MLP, the attention gate and the edge MLP, then
the first layer's node-level products."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from symml.nn._kernels.edge_ops import (
    Chunk,
    EdgeOptions,
    Weights,
    accumulate,
    chunk_size,
    scatter_rows,
    silu_backward,
    unit,
)
from symml.nn._kernels.gemm import linear as _matmul


class Graph(NamedTuple):
    """Edges ``src[e] → dst[e]`` and the inverse in-degrees (None when no mean is taken)."""

    src: Tensor
    dst: Tensor
    inv_deg: Tensor | None


@dataclass
class _Grads:
    """The gradients being summed over the chunks."""

    messages: Tensor  # of M [N, H]
    coords: Tensor  # of T [N, n]
    p: Tensor  # of P [N, H]
    q: Tensor  # of Q [N, H]
    pos: Tensor | None  # of x, when needed
    edge_attr: Tensor | None  # of a, when needed
    weights: dict[str, Tensor] = field(default_factory=dict)  # by `Weights` field name


def _node_backward(
    opts: EdgeOptions,
    w: Weights,
    node: tuple[Tensor, ...],
    features: int,
    g_out: Tensor,
    weights: dict[str, Tensor],
) -> tuple[Tensor, Tensor]:
    """Back through ``h' = [h +] φ_h([h, M])``: returns the gradients of h and of M."""
    node_in, z_n, u_n = node
    assert w.w_n1 is not None and w.w_n2 is not None
    weights["w_n2"] = g_out.t() @ u_n
    weights["b_n2"] = g_out.sum(0)
    g_z_n = silu_backward(_matmul(g_out, w.w_n2.t()), z_n)
    weights["w_n1"] = g_z_n.t() @ node_in
    weights["b_n1"] = g_z_n.sum(0)
    g_in = _matmul(g_z_n, w.w_n1.t())
    g_h = g_in[:, :features] + g_out if opts.residual else g_in[:, :features]
    return g_h, g_in[:, features:]


def _coords_backward(
    opts: EdgeOptions, w: Weights, chunk: Chunk, m: Tensor, i: Tensor, g: _Grads, g_m: Tensor
) -> tuple[Tensor, Tensor | None]:
    """Back through ``T_i += vec(r) · clamp(w_4 · silu(W_3 m + b_3))``: returns the gradient of
    m with ``g_m`` added, and that of ``r`` (None unless x needs one)."""
    assert w.w_3 is not None and w.w_4 is not None and chunk.z3 is not None
    r, d = chunk.r, chunk.d
    assert r is not None and d is not None
    u3 = F.silu(chunk.z3) if chunk.u3 is None else chunk.u3
    s = u3 @ w.w_4[0]
    g_t = g.coords.index_select(0, i)
    vec, rho = unit(r, d) if opts.normalize else (r, d)
    g_s = torch.linalg.vecdot(g_t, vec)
    if opts.clamp is not None:
        g_s = g_s * (s.abs() <= opts.clamp)  # torch.clamp's gradient mask
        s = s.clamp_(-opts.clamp, opts.clamp)
    g_r = None
    if g.pos is not None:
        g_r = g_t * s[:, None]
        if opts.normalize:  # d/dr [r/(ρ+1)] = I/(ρ+1) − r rᵀ/(ρ(ρ+1)²)
            scale = 1 / (rho + 1)
            radial = torch.linalg.vecdot(r, g_r) * scale * scale / rho.clamp_min(1e-30)
            g_r = g_r * scale[:, None] - r * radial[:, None]
    accumulate(g.weights, "w_4", (g_s @ u3)[None])
    g_z3 = silu_backward(g_s[:, None] * w.w_4, chunk.z3)
    accumulate(g.weights, "w_3", g_z3.t() @ m)
    accumulate(g.weights, "b_3", g_z3.sum(0))
    return _matmul(g_z3, w.w_3.t(), add=g_m), g_r


def _chunk_backward(
    opts: EdgeOptions,
    w: Weights,
    cols: tuple[Tensor, ...],
    graph: Graph,
    edge_attr: Tensor | None,
    chunk: Chunk,
    start: int,
    step: int,
    g: _Grads,
) -> None:
    """One chunk of edges, back from its messages (and coordinate messages) to P, Q, x, a and
    the edge MLP's weights."""
    i, j = graph.dst[start : start + step], graph.src[start : start + step]
    m0 = F.silu(chunk.z2) if chunk.m0 is None else chunk.m0  # recomputed unless kept
    g_m = g.messages.index_select(0, i)
    alpha = None
    if opts.attention:
        assert w.w_att is not None and w.b_att is not None
        alpha = torch.sigmoid(_matmul(m0, w.w_att, w.b_att))
    g_r = None
    if opts.coords:
        g_m, g_r = _coords_backward(opts, w, chunk, m0 if alpha is None else m0 * alpha, i, g, g_m)
    if alpha is not None:
        assert w.w_att is not None
        g_pre = torch.linalg.vecdot(g_m, m0)[:, None] * alpha * (1 - alpha)
        accumulate(g.weights, "w_att", g_pre.t() @ m0)
        accumulate(g.weights, "b_att", g_pre.sum(0))
        g_m = (g_m * alpha).addmm_(g_pre, w.w_att)
    g_z2 = silu_backward(g_m, chunk.z2)
    accumulate(g.weights, "w_2", g_z2.t() @ (F.silu(chunk.z1) if chunk.u1 is None else chunk.u1))
    accumulate(g.weights, "b_2", g_z2.sum(0))
    g_z1 = silu_backward(_matmul(g_z2, w.w_2.t()), chunk.z1)
    scatter_rows(g.p, i, g_z1)
    scatter_rows(g.q, j, g_z1)
    if opts.distance:
        r, d = chunk.r, chunk.d
        assert r is not None and d is not None
        accumulate(g.weights, "w_d", d @ g_z1)
        if g.pos is not None:
            radial = (g_z1 @ cols[3]).mul_(2.0)[:, None]
            g_r = r * radial if g_r is None else g_r.addcmul_(r, radial)
    if edge_attr is not None:
        accumulate(g.weights, "w_a", g_z1.t() @ edge_attr[start : start + step])
        if g.edge_attr is not None:
            g.edge_attr[start : start + step] = g_z1 @ cols[2]
    if g.pos is not None and g_r is not None:
        scatter_rows(g.pos, i, g_r)
        scatter_rows(g.pos, j, g_r.neg_())


def edges_backward(
    opts: EdgeOptions,
    cols: tuple[Tensor, ...],
    graph: Graph,
    inputs: tuple[Tensor | None, ...],
    chunks: list[Chunk],
    node: tuple[Tensor, ...],
    grads_out: tuple[Tensor, Tensor],
    needs: tuple[bool, ...],
) -> tuple[Tensor | None, ...]:
    """Gradients of ``inputs`` ``(h, pos, edge_attr, *weights)`` from those of the outputs.

    ``cols`` are the first layer's column blocks ``(W_i, W_j, W_a, w_d)``, ``chunks`` what each
    chunk of the forward kept, ``node`` what φ_h kept (option node), ``needs`` which inputs need a
    gradient.
    """
    h, pos, edge_attr, *weight_list = inputs
    assert h is not None
    w = Weights._make(weight_list)
    g_first, g_coords = grads_out
    weights: dict[str, Tensor] = {}
    g_h_node, g_messages = None, g_first  # g_first: the gradient of M, or of h' (node)
    if opts.node:  # back through φ_h: its input's gradient splits into h's and M's
        g_h_node, g_messages = _node_backward(opts, w, node, h.shape[1], g_first, weights)
    g_pos = None
    if pos is not None and needs[1]:
        # x' = x + T: the incoming gradient of x' is also x's
        g_pos = g_coords.clone() if opts.node and opts.coords else torch.zeros_like(pos)
    if graph.inv_deg is not None:
        if opts.messages_mean:
            g_messages = g_messages * graph.inv_deg[:, None]
        if opts.coords and opts.coords_mean:
            g_coords = g_coords * graph.inv_deg[:, None].to(g_coords.dtype)
    hidden = w.w_1.shape[0]
    # gradients of P and Q (two contiguous blocks: scatter_add_ into a strided one is slow)
    g_p, g_q = g_messages.new_zeros(2, h.shape[0], hidden)
    g_attr = torch.zeros_like(edge_attr) if edge_attr is not None and needs[2] else None
    g = _Grads(g_messages, g_coords, g_p, g_q, g_pos, g_attr, weights)
    step = chunk_size(hidden)
    for chunk, start in zip(chunks, range(0, graph.src.numel(), step), strict=True):
        _chunk_backward(opts, w, cols, graph, edge_attr, chunk, start, step, g)
    w_i, w_j, w_a, w_d = cols
    blocks = [g_p.t() @ h, g_q.t() @ h]
    if opts.distance:
        blocks.append(weights["w_d"][:, None] if "w_d" in weights else w_d.new_zeros(hidden, 1))
    if edge_attr is not None:
        blocks.append(weights["w_a"] if "w_a" in weights else torch.zeros_like(w_a))
    weights["w_1"] = torch.cat(blocks, 1)
    weights["b_1"] = g_p.sum(0)
    g_h = _matmul(g_q, w_j.t(), add=_matmul(g_p, w_i.t())) if needs[0] else None
    if g_h is not None and g_h_node is not None:
        g_h += g_h_node
    weight_grads = [
        None if t is None else weights[k] if k in weights else torch.zeros_like(t)
        for k, t in zip(Weights._fields, w, strict=True)
    ]
    return (g_h, g_pos, g_attr, *weight_grads)
