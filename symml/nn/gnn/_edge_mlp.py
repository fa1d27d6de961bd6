"""The fused edge pipeline shared by `EGNNConv` and `GNNConv`: gather, edge MLP, scatter.

Computed per edge ``(j → i)`` (``j = edge_index[0]``, ``i = edge_index[1]``)::

    z1 = P_i + Q_j + w_d·‖x_i − x_j‖² + W_a a_ij      (P = W_i h + b_1, Q = W_j h: node-level)
    m  = silu(W_2 silu(z1) + b_2)                      (the edge MLP φ_e, 2 layers, SiLU)
    m ← m · sigmoid(w_att·m + b_att)                   (optional attention)
    s  = clamp(w_4 · silu(W_3 m + b_3), ±c)            (optional coordinate MLP φ_x)
    M_i = Σ_j m_ij,   T_i = Σ_j (x_i − x_j)/(‖x_i − x_j‖ + 1)^[normalize] · s_ij   (or means)
    h'_i = [h_i +] W_n2 silu(W_n1 [h_i, M_i] + b_n1) + b_n2,   x'_i = x_i + T_i   (option node)

Why a hand-written backward: autograd would keep every intermediate ``[E, H]`` tensor of this chain
alive for the backward pass (about 2.6 KB per edge at H = 64) and streams each one through memory
once per elementwise op. Here edges are processed in cache-sized chunks, only the three
pre-activations ``z1, z2, z3`` and ``x_i − x_j``, ``‖x_i − x_j‖²`` are kept (0.77 KB per edge at
H = 64; nothing when no input needs a gradient), and the activations are recomputed from them in
the backward pass, except when all edges fit in one chunk (a few MB at most), where keeping them
is cheaper. The first layer of the edge MLP is applied to node features before the gather
(``W[h_i, h_j] = W_i h_i + W_j h_j``), so it costs O(N) instead of O(E). The ``[E, H] × [H, H]``
products go through oneDNN in float32 on the CPU (`symml.nn._gemm`). Gradients are first order only
(``once_differentiable``); the tests compare them with autograd on a plain reference
implementation, in float64 and (other kernels) in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from symml.nn._gemm import linear as _matmul

# Edges per chunk are chosen so that one [chunk, H] float32 block is 512 KB: a chunk's working set
# (a handful of such blocks) stays in the L2 cache of one core.
_CHUNK_ELEMENTS = 1 << 17
_SAVED_PER_CHUNK = 8


@dataclass(frozen=True)
class EdgeOptions:
    """What the fused pipeline computes (see the module docstring).

    Attributes:
        distance: add ``w_d·‖x_i − x_j‖²`` to the first layer.
        coords: compute the coordinate messages ``T`` (needs ``W_3, b_3, w_4``).
        attention: gate messages with ``sigmoid(w_att·m + b_att)``.
        normalize: divide ``x_i − x_j`` by ``‖x_i − x_j‖ + 1`` in ``T``.
        clamp: bound ``|s|`` by this value (None: no bound).
        messages_mean / coords_mean: average instead of sum over incoming edges.
        node: also apply the node MLP φ_h and return ``h' = φ_h([h, M]) (+ h with residual)`` and
            ``x' = x + T`` instead of ``M`` and ``T`` (needs ``W_n1, b_n1, W_n2, b_n2``).
        residual: add h to φ_h's output.
    """

    distance: bool = True
    coords: bool = True
    attention: bool = False
    normalize: bool = False
    clamp: float | None = None
    messages_mean: bool = False
    coords_mean: bool = True
    node: bool = False
    residual: bool = False


def _silu_backward(grad: Tensor, z: Tensor) -> Tensor:
    """``grad · silu'(z)`` in one fused kernel (the one autograd itself uses for SiLU), written
    over ``grad`` (a temporary: no new [E, H] block, and the one just written is in cache)."""
    out: Tensor = torch.ops.aten.silu_backward.grad_input(grad, z, grad_input=grad)
    return out


def _scatter_rows(out: Tensor, index: Tensor, rows: Tensor) -> None:
    """``out[index[e]] += rows[e]``. `Tensor.index_add_` would do, but on the CPU its speed swings
    by orders of magnitude with thread contention for narrow rows; `scatter_add_` is steady."""
    out.scatter_add_(0, index[:, None].expand_as(rows), rows)


def _chunk_size(hidden: int) -> int:
    return max(256, _CHUNK_ELEMENTS // max(hidden, 1))


def _unit(r: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
    """``r / (‖r‖ + 1)`` and ``‖r‖`` (from ``d = ‖r‖²``)."""
    rho = d.sqrt()
    return r / (rho + 1)[:, None], rho


class Weights(NamedTuple):
    """The pipeline's parameters (None where an option is off), for node features of width F,
    hidden width H and A edge attributes, as the ``nn.Linear`` weights hold them. ``w_1`` is the
    first edge layer as published, on the concatenation ``[h_i, h_j, ‖x_i − x_j‖², a_ij]``:
    columns ``[W_i | W_j | w_d | W_a]`` (no ``w_d`` without ``distance``)."""

    w_1: Tensor  # [H, 2F (+1) + A]
    b_1: Tensor  # [H]
    w_2: Tensor  # [H, H]
    b_2: Tensor  # [H]
    w_att: Tensor | None  # [1, H]
    b_att: Tensor | None  # [1]
    w_3: Tensor | None  # [H, H]
    b_3: Tensor | None  # [H]
    w_4: Tensor | None  # [1, H]
    w_n1: Tensor | None = None  # [H, F + H]: φ_h's first layer on [h, M]
    b_n1: Tensor | None = None  # [H]
    w_n2: Tensor | None = None  # [F_out, H]
    b_n2: Tensor | None = None  # [F_out]


def _columns(w_1: Tensor, features: int, distance: bool) -> tuple[Tensor, ...]:
    """``W_i, W_j, W_a`` ``[H, ·]`` (views) and ``w_d [H]`` (contiguous: broadcasting a strided
    column over ``[E, H]`` is several times slower; empty without ``distance``) of the first
    layer."""
    f, d = features, int(distance)
    w_d = w_1[:, 2 * f : 2 * f + d].contiguous().flatten()
    return w_1[:, :f], w_1[:, f : 2 * f], w_1[:, 2 * f + d :], w_d


class _FusedEdges(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        opts: EdgeOptions,
        src: Tensor,
        dst: Tensor,
        inv_deg: Tensor | None,
        h: Tensor,
        pos: Tensor | None,
        edge_attr: Tensor | None,
        *weights: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        w = Weights._make(weights)
        w_i, w_j, w_a, w_d = _columns(w.w_1, h.shape[1], opts.distance)
        hidden = w.w_1.shape[0]
        # the first layer on the nodes, before the gather: O(N) instead of O(E), P and Q in one
        # product [N, 2H]
        pq = _matmul(h, torch.cat([w_i, w_j]))
        p, q = pq[:, :hidden], pq[:, hidden:]
        p += w.b_1
        n, e = h.shape[0], src.numel()
        keep = any(ctx.needs_input_grad)  # nothing is saved in inference
        messages = h.new_zeros(n, hidden)
        coords = h.new_zeros(0) if pos is None or not opts.coords else pos.new_zeros(pos.shape)
        # per chunk, _SAVED_PER_CHUNK entries: z1, z2, z3, r, d, and the activations silu(z1),
        # silu(z2), silu(z3) when all edges fit in one chunk (at most a few MB then: recomputing
        # them would cost more time than they take memory); None where absent
        saved: list[Tensor | None] = []
        step = _chunk_size(hidden)
        activations = keep and e <= step
        z3 = u3 = r = d = None
        for start in range(0, e, step):
            i, j = dst[start : start + step], src[start : start + step]
            z1 = p.index_select(0, i).add_(q.index_select(0, j))
            if pos is not None:
                r = pos.index_select(0, i).sub_(pos.index_select(0, j))
                d = torch.linalg.vecdot(r, r)
                if opts.distance:
                    z1.addcmul_(d[:, None], w_d)
            if edge_attr is not None:
                z1.addmm_(edge_attr[start : start + step], w_a.t())
            u1 = F.silu(z1)
            z2 = _matmul(u1, w.w_2, w.b_2)
            m = m0 = F.silu(z2)
            if opts.attention:
                assert w.w_att is not None and w.b_att is not None
                m = m0 * torch.sigmoid(_matmul(m0, w.w_att, w.b_att))
            _scatter_rows(messages, i, m)
            if opts.coords:
                assert w.w_3 is not None and w.b_3 is not None and w.w_4 is not None
                assert r is not None and d is not None
                z3 = _matmul(m, w.w_3, w.b_3)
                u3 = F.silu(z3)
                s = u3 @ w.w_4[0]
                if opts.clamp is not None:
                    s = s.clamp_(-opts.clamp, opts.clamp)
                vec = _unit(r, d)[0] if opts.normalize else r
                _scatter_rows(coords, i, vec * s[:, None])
            if keep:
                saved += (z1, z2, z3, r, d)
                saved += (u1, m0, u3) if activations else (None, None, None)
        if inv_deg is not None:
            if opts.messages_mean:
                messages.mul_(inv_deg[:, None])
            if opts.coords and opts.coords_mean:
                coords.mul_(inv_deg[:, None].to(coords.dtype))
        ctx.opts = opts
        ctx.columns = (w_i, w_j, w_a, w_d)  # derived from w_1, which is saved too
        if opts.node:
            # φ_h in the same node: a separate autograd graph for it (cat, 2 linear layers, SiLU,
            # residual, x + T) costs more in per-node overhead than its arithmetic at N-body sizes
            assert w.w_n1 is not None and w.b_n1 is not None and w.w_n2 is not None
            node_in = torch.cat([h, messages], 1)
            z_n = _matmul(node_in, w.w_n1, w.b_n1)
            u_n = F.silu(z_n)
            h_out = _matmul(u_n, w.w_n2, w.b_n2, add=h if opts.residual else None)
            if opts.coords:
                assert pos is not None
                coords += pos
            saved += (node_in, z_n, u_n)
        if keep:
            ctx.save_for_backward(src, dst, inv_deg, h, pos, edge_attr, *weights, *saved)
        return (h_out if opts.node else messages), coords

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g_first: Tensor, g_coords: Tensor) -> tuple[Tensor | None, ...]:
        opts: EdgeOptions = ctx.opts
        src, dst, inv_deg, h, pos, edge_attr, *rest = ctx.saved_tensors
        w = Weights._make(rest[: len(Weights._fields)])
        saved_all = rest[len(Weights._fields) :]
        need = ctx.needs_input_grad
        g: dict[str, Tensor] = {}  # weight gradients, summed over the chunks
        g_h_node, g_messages = None, g_first  # g_first: the gradient of M, or of h' (node)
        if opts.node:  # back through φ_h: its input's gradient splits into h's and M's
            node_in, z_n, u_n = saved_all[-3:]
            saved_all = saved_all[:-3]
            assert w.w_n1 is not None and w.w_n2 is not None
            g_out = g_first
            g["w_n2"] = g_out.t() @ u_n
            g["b_n2"] = g_out.sum(0)
            g_z_n = _silu_backward(_matmul(g_out, w.w_n2.t()), z_n)
            g["w_n1"] = g_z_n.t() @ node_in
            g["b_n1"] = g_z_n.sum(0)
            g_in = _matmul(g_z_n, w.w_n1.t())
            features = h.shape[1]
            g_h_node = g_in[:, :features]
            if opts.residual:
                g_h_node = g_h_node + g_out
            g_messages = g_in[:, features:]
        saved = iter(saved_all)
        g_pos = None
        if pos is not None and need[5]:
            # x' = x + T: the incoming gradient of x' is also x's
            g_pos = g_coords.clone() if opts.node and opts.coords else torch.zeros_like(pos)
        if inv_deg is not None:
            if opts.messages_mean:
                g_messages = g_messages * inv_deg[:, None]
            if opts.coords and opts.coords_mean:
                g_coords = g_coords * inv_deg[:, None].to(g_coords.dtype)
        hidden = w.w_1.shape[0]
        w_i, w_j, w_a, w_d = ctx.columns
        # gradients of P and Q (two contiguous blocks: scatter_add_ into a strided one is slow)
        g_p, g_q = g_messages.new_zeros(2, h.shape[0], hidden)
        g_attr = torch.zeros_like(edge_attr) if edge_attr is not None and need[6] else None
        step = _chunk_size(hidden)
        for start in range(0, src.numel(), step):
            i, j = dst[start : start + step], src[start : start + step]
            z1, z2, z3, r, d, u1, m0, u3 = (next(saved) for _ in range(_SAVED_PER_CHUNK))
            if m0 is None:  # recomputed
                m0 = F.silu(z2)
            g_m = g_messages.index_select(0, i)
            if opts.attention:
                assert w.w_att is not None and w.b_att is not None
                alpha = torch.sigmoid(_matmul(m0, w.w_att, w.b_att))
                m = m0 * alpha
            else:
                m = m0
            g_r = None
            if opts.coords:
                assert w.w_3 is not None and w.w_4 is not None and z3 is not None
                assert r is not None and d is not None
                if u3 is None:
                    u3 = F.silu(z3)
                s = u3 @ w.w_4[0]
                g_t = g_coords.index_select(0, i)
                vec, rho = _unit(r, d) if opts.normalize else (r, d)
                g_s = torch.linalg.vecdot(g_t, vec)
                if opts.clamp is not None:
                    g_s = g_s * (s.abs() <= opts.clamp)  # torch.clamp's gradient mask
                    s = s.clamp_(-opts.clamp, opts.clamp)
                if g_pos is not None:
                    g_r = g_t * s[:, None]
                    if opts.normalize:  # d/dr [r/(ρ+1)] = I/(ρ+1) − r rᵀ/(ρ(ρ+1)²)
                        scale = 1 / (rho + 1)
                        radial = torch.linalg.vecdot(r, g_r) * scale * scale / rho.clamp_min(1e-30)
                        g_r = g_r * scale[:, None] - r * radial[:, None]
                _accumulate(g, "w_4", (g_s @ u3)[None])
                g_z3 = _silu_backward(g_s[:, None] * w.w_4, z3)
                _accumulate(g, "w_3", g_z3.t() @ m)
                _accumulate(g, "b_3", g_z3.sum(0))
                g_m = _matmul(g_z3, w.w_3.t(), add=g_m)
            if opts.attention:
                assert w.w_att is not None
                g_pre = torch.linalg.vecdot(g_m, m0)[:, None] * alpha * (1 - alpha)
                _accumulate(g, "w_att", g_pre.t() @ m0)
                _accumulate(g, "b_att", g_pre.sum(0))
                g_m = (g_m * alpha).addmm_(g_pre, w.w_att)
            g_z2 = _silu_backward(g_m, z2)
            _accumulate(g, "w_2", g_z2.t() @ (F.silu(z1) if u1 is None else u1))
            _accumulate(g, "b_2", g_z2.sum(0))
            g_z1 = _silu_backward(_matmul(g_z2, w.w_2.t()), z1)
            _scatter_rows(g_p, i, g_z1)
            _scatter_rows(g_q, j, g_z1)
            if opts.distance:
                assert r is not None and d is not None
                _accumulate(g, "w_d", d @ g_z1)
                if g_pos is not None:
                    radial = (g_z1 @ w_d).mul_(2.0)[:, None]
                    g_r = r * radial if g_r is None else g_r.addcmul_(r, radial)
            if edge_attr is not None:
                _accumulate(g, "w_a", g_z1.t() @ edge_attr[start : start + step])
                if g_attr is not None:
                    g_attr[start : start + step] = g_z1 @ w_a
            if g_pos is not None and g_r is not None:
                _scatter_rows(g_pos, i, g_r)
                _scatter_rows(g_pos, j, g_r.neg_())
        columns = [g_p.t() @ h, g_q.t() @ h]
        if opts.distance:
            columns.append(g["w_d"][:, None] if "w_d" in g else w_d.new_zeros(hidden, 1))
        if edge_attr is not None:
            columns.append(g["w_a"] if "w_a" in g else torch.zeros_like(w_a))
        g["w_1"] = torch.cat(columns, 1)
        g["b_1"] = g_p.sum(0)
        g_h = _matmul(g_q, w_j.t(), add=_matmul(g_p, w_i.t())) if need[4] else None
        if g_h is not None and g_h_node is not None:
            g_h += g_h_node
        weight_grads = [
            None if t is None else g[k] if k in g else torch.zeros_like(t)
            for k, t in zip(Weights._fields, w, strict=True)
        ]
        return (None, None, None, None, g_h, g_pos, g_attr, *weight_grads)


def _accumulate(grads: dict[str, Tensor], key: str, value: Tensor) -> None:
    """``grads[key] += value`` over the chunks (the first chunk's tensor is kept as is)."""
    if key in grads:
        grads[key] += value
    else:
        grads[key] = value


def fused_edges(
    opts: EdgeOptions,
    edge_index: Tensor,
    inv_deg: Tensor | None,
    h: Tensor,
    pos: Tensor | None,
    edge_attr: Tensor | None,
    weights: Weights,
) -> tuple[Tensor, Tensor]:
    """Run the pipeline on edges ``edge_index[0] → edge_index[1]``.

    Args:
        opts: what to compute.
        edge_index: ``[2, E]``.
        inv_deg: ``[N]`` inverse in-degrees (needed for the means).
        h: ``[N, F]`` node features.
        pos: ``[N, n]`` coordinates (with ``distance`` or ``coords``).
        edge_attr: ``[E, A]`` or None.
        weights: the parameters.

    Returns:
        ``(M [N, H], T [N, n])`` (``T`` is empty without ``coords``); with ``opts.node``
        ``(h' [N, F_out], x + T [N, n])``.
    """
    out: tuple[Tensor, Tensor] = _FusedEdges.apply(
        opts, edge_index[0], edge_index[1], inv_deg, h, pos, edge_attr, *weights
    )
    return out
