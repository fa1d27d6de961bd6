"""The fused edge pipeline shared by `EGNNConv` and `GNNConv`: gather, edge MLP, scatter.

Computed per edge ``(j → i)`` (``j = edge_index[0]``, ``i = edge_index[1]``)::

    z1 = P_i + Q_j + w_d·‖x_i − x_j‖² + W_a a_ij      (P = W_i h + b_1, Q = W_j h: node-level)
    m  = silu(W_2 silu(z1) + b_2)                      (the edge MLP φ_e, 2 layers, SiLU)
    m ← m · sigmoid(w_att·m + b_att)                   (optional attention)
    s  = clamp(w_4 · silu(W_3 m + b_3), ±c)            (optional coordinate MLP φ_x)
    M_i = Σ_j m_ij,   T_i = Σ_j (x_i − x_j)/(‖x_i − x_j‖ + 1)^[normalize] · s_ij   (or means)

Why a hand-written backward: autograd would keep every intermediate ``[E, H]`` tensor of this chain
alive for the backward pass (about 2.6 KB per edge at H = 64) and streams each one through memory
once per elementwise op. Here edges are processed in cache-sized chunks, only the three
pre-activations ``z1, z2, z3`` are kept (0.75 KB per edge at H = 64; nothing when no input needs a
gradient), and everything else is recomputed from them in the backward pass. The first layer of
the edge MLP is applied to node features before the gather (``W[h_i, h_j] = W_i h_i + W_j h_j``),
so it costs O(N) instead of O(E). Gradients are first order only (``once_differentiable``); the
tests compare them with autograd on a plain reference implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

# Edges per chunk are chosen so that one [chunk, H] float32 block is 512 KB: a chunk's working set
# (a handful of such blocks) stays in the L2 cache of one core.
_CHUNK_ELEMENTS = 1 << 17


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
    """

    distance: bool = True
    coords: bool = True
    attention: bool = False
    normalize: bool = False
    clamp: float | None = None
    messages_mean: bool = False
    coords_mean: bool = True


def _silu_backward(grad: Tensor, z: Tensor) -> Tensor:
    """``grad · silu'(z)`` in one fused kernel (the one autograd itself uses for SiLU)."""
    out: Tensor = torch.ops.aten.silu_backward(grad, z)
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
    hidden width H and A edge attributes. ``w_1`` is the first edge layer as published, on the
    concatenation ``[h_i, h_j, ‖x_i − x_j‖², a_ij]``: columns ``[W_i | W_j | w_d | W_a]`` (no
    ``w_d`` without ``distance``)."""

    w_1: Tensor  # [H, 2F (+1) + A]
    b_1: Tensor  # [H]
    w_2: Tensor  # [H, H]
    b_2: Tensor  # [H]
    w_att: Tensor | None  # [H]
    b_att: Tensor | None  # [1]
    w_3: Tensor | None  # [H, H]
    b_3: Tensor | None  # [H]
    w_4: Tensor | None  # [H]


def _columns(w_1: Tensor, features: int, distance: bool) -> tuple[Tensor, ...]:
    """Views ``W_i, W_j, w_d, W_a`` of the first layer (``w_d`` empty without ``distance``)."""
    f, d = features, int(distance)
    return w_1[:, :f], w_1[:, f : 2 * f], w_1[:, 2 * f : 2 * f + d], w_1[:, 2 * f + d :]


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
        w_i, w_j, w_d, w_a = _columns(w.w_1, h.shape[1], opts.distance)
        # the first layer on the nodes, before the gather: O(N) instead of O(E)
        p = torch.addmm(w.b_1, h, w_i.t())
        q = h @ w_j.t()
        n, hidden = p.shape
        e = src.numel()
        keep = any(ctx.needs_input_grad)  # nothing is saved in inference
        messages = p.new_zeros(n, hidden)
        coords = p.new_zeros(0)
        if opts.coords:
            assert pos is not None
            coords = pos.new_zeros(n, pos.shape[1])
        saved = [p.new_empty(e if keep else 0, hidden) for _ in range(3 if opts.coords else 2)]
        step = _chunk_size(hidden)
        for start in range(0, e, step):
            stop = min(start + step, e)
            i, j = dst[start:stop], src[start:stop]
            if keep:  # z1 is written straight into its slot of the saved block
                z1 = torch.index_select(p, 0, i, out=saved[0][start:stop])
            else:
                z1 = p.index_select(0, i)
            z1.add_(q.index_select(0, j))
            if opts.distance or opts.coords:
                assert pos is not None
                r = pos.index_select(0, i) - pos.index_select(0, j)
                d = torch.linalg.vecdot(r, r)
                if opts.distance:
                    z1.addr_(d, w_d[:, 0])
            if edge_attr is not None:
                z1.addmm_(edge_attr[start:stop], w_a.t())
            if keep:
                z2 = torch.addmm(w.b_2, F.silu(z1), w.w_2.t(), out=saved[1][start:stop])
            else:
                z2 = torch.addmm(w.b_2, F.silu(z1), w.w_2.t())
            m = F.silu(z2)
            if opts.attention:
                assert w.w_att is not None and w.b_att is not None
                m = m * torch.sigmoid(torch.addmv(w.b_att, m, w.w_att))[:, None]
            _scatter_rows(messages, i, m)
            if opts.coords:
                assert w.w_3 is not None and w.b_3 is not None and w.w_4 is not None
                if keep:
                    z3 = torch.addmm(w.b_3, m, w.w_3.t(), out=saved[2][start:stop])
                else:
                    z3 = torch.addmm(w.b_3, m, w.w_3.t())
                s = F.silu(z3) @ w.w_4
                if opts.clamp is not None:
                    s = s.clamp(-opts.clamp, opts.clamp)
                vec = _unit(r, d)[0] if opts.normalize else r
                _scatter_rows(coords, i, vec * s[:, None])
        if inv_deg is not None:
            if opts.messages_mean:
                messages.mul_(inv_deg[:, None])
            if opts.coords and opts.coords_mean:
                coords.mul_(inv_deg[:, None].to(coords.dtype))
        ctx.opts = opts
        if keep:
            ctx.save_for_backward(src, dst, inv_deg, h, pos, edge_attr, *weights, *saved)
        return messages, coords

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g_messages: Tensor, g_coords: Tensor) -> tuple[Tensor | None, ...]:
        opts: EdgeOptions = ctx.opts
        src, dst, inv_deg, h, pos, edge_attr, *rest = ctx.saved_tensors
        w = Weights._make(rest[: len(Weights._fields)])
        saved = rest[len(Weights._fields) :]
        need = ctx.needs_input_grad
        if inv_deg is not None:
            if opts.messages_mean:
                g_messages = g_messages * inv_deg[:, None]
            if opts.coords and opts.coords_mean:
                g_coords = g_coords * inv_deg[:, None].to(g_coords.dtype)
        hidden = w.w_1.shape[0]
        w_i, w_j, w_d, w_a = _columns(w.w_1, h.shape[1], opts.distance)
        g = {k: torch.zeros_like(t) for k, t in w._asdict().items() if t is not None}
        g_wi, g_wj, g_wd, g_wa = _columns(g["w_1"], h.shape[1], opts.distance)
        g_pq = g_messages.new_zeros(2, h.shape[0], hidden)  # gradients of P and Q
        use_pos = opts.distance or opts.coords
        g_pos = torch.zeros_like(pos) if use_pos and need[5] else None
        g_attr = torch.zeros_like(edge_attr) if edge_attr is not None and need[6] else None
        step = _chunk_size(hidden)
        for start in range(0, src.numel(), step):
            stop = min(start + step, src.numel())
            i, j = dst[start:stop], src[start:stop]
            z1, z2 = saved[0][start:stop], saved[1][start:stop]
            m0 = F.silu(z2)  # recomputed
            g_m = g_messages.index_select(0, i)
            if opts.attention:
                assert w.w_att is not None and w.b_att is not None
                alpha = torch.sigmoid(torch.addmv(w.b_att, m0, w.w_att))
                m = m0 * alpha[:, None]
            else:
                m = m0
            g_r = None
            if use_pos:
                r = pos.index_select(0, i) - pos.index_select(0, j)
                d = torch.linalg.vecdot(r, r)
                g_r = torch.zeros_like(r) if g_pos is not None else None
            if opts.coords:
                assert w.w_3 is not None and w.w_4 is not None
                z3 = saved[2][start:stop]
                u3 = F.silu(z3)
                s = u3 @ w.w_4
                g_t = g_coords.index_select(0, i)
                vec, rho = _unit(r, d) if opts.normalize else (r, d)
                g_s = torch.linalg.vecdot(g_t, vec)
                if opts.clamp is not None:
                    g_s = g_s * (s.abs() <= opts.clamp)  # torch.clamp's gradient mask
                    s = s.clamp(-opts.clamp, opts.clamp)
                if g_r is not None:
                    g_vec = g_t * s[:, None]
                    if opts.normalize:  # d/dr [r/(ρ+1)] = I/(ρ+1) − r rᵀ/(ρ(ρ+1)²)
                        scale = 1 / (rho + 1)
                        radial = (
                            torch.linalg.vecdot(r, g_vec) * scale * scale / rho.clamp_min(1e-30)
                        )
                        g_r += g_vec * scale[:, None] - r * radial[:, None]
                    else:
                        g_r += g_vec
                g["w_4"].addmv_(u3.t(), g_s)
                g_z3 = _silu_backward(torch.outer(g_s, w.w_4), z3)
                g["w_3"].addmm_(g_z3.t(), m)
                g["b_3"] += g_z3.sum(0)
                g_m.addmm_(g_z3, w.w_3)  # g_m is a fresh gather: updated in place
            if opts.attention:
                assert w.w_att is not None
                g_pre = torch.linalg.vecdot(g_m, m0) * alpha * (1 - alpha)
                g["w_att"].addmv_(m0.t(), g_pre)
                g["b_att"] += g_pre.sum()
                g_m = (g_m * alpha[:, None]).addr_(g_pre, w.w_att)
            g_z2 = _silu_backward(g_m, z2)
            g["w_2"].addmm_(g_z2.t(), F.silu(z1))
            g["b_2"] += g_z2.sum(0)
            g_z1 = _silu_backward(g_z2 @ w.w_2, z1)
            _scatter_rows(g_pq[0], i, g_z1)
            _scatter_rows(g_pq[1], j, g_z1)
            if opts.distance:
                g_wd[:, 0].addmv_(g_z1.t(), d)
                if g_r is not None:
                    g_r.addcmul_(r, (g_z1 @ w_d[:, 0])[:, None], value=2.0)
            if edge_attr is not None:
                g_wa.addmm_(g_z1.t(), edge_attr[start:stop])
                if g_attr is not None:
                    g_attr[start:stop] = g_z1 @ w_a
            if g_pos is not None and g_r is not None:
                _scatter_rows(g_pos, i, g_r)
                _scatter_rows(g_pos, j, g_r.neg_())
        g_wi.addmm_(g_pq[0].t(), h)
        g_wj.addmm_(g_pq[1].t(), h)
        g["b_1"] += g_pq[0].sum(0)
        g_h = (g_pq[0] @ w_i).addmm_(g_pq[1], w_j) if need[4] else None
        weight_grads = [g.get(k) for k in Weights._fields]
        return (None, None, None, None, g_h, g_pos, g_attr, *weight_grads)


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
        ``(M [N, H], T [N, n])`` (``T`` is empty without ``coords``).
    """
    out: tuple[Tensor, Tensor] = _FusedEdges.apply(
        opts, edge_index[0], edge_index[1], inv_deg, h, pos, edge_attr, *weights
    )
    return out
