"""The edge pipeline shared by `EGNNConv` and `GNNConv`: gather, edge MLP, scatter, node MLP.

Computed per edge ``(j → i)`` (``j = edge_index[0]``, ``i = edge_index[1]``)::

    m  = silu(W_2 silu(W_1 [h_i, h_j, ‖x_i − x_j‖², a_ij] + b_1) + b_2)   (edge MLP φ_e)
    m ← m · sigmoid(w_att·m + b_att)                   (optional attention)
    s  = clamp(w_4 · silu(W_3 m + b_3), ±c)            (optional coordinate MLP φ_x)
    M_i = Σ_j m_ij,   T_i = Σ_j (x_i − x_j)/(‖x_i − x_j‖ + 1)^[normalize] · s_ij   (or means)
    h'_i = [h_i +] W_n2 silu(W_n1 [h_i, M_i] + b_n1) + b_n2,   x'_i = x_i + T_i   (option node)

`reference_edges` is that, in ordinary differentiable ops; `fused_edges` runs the same map as one
autograd node over cache-sized chunks of edges (`symml.nn._kernels.edges`: the first layer applied
to the nodes before the gather, a memory-lean backward written out), which differentiates the
reference when asked for double backward.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from symml.nn import _kernels
from symml.nn._kernels import EdgeOptions, Weights


def reference_edges(
    opts: EdgeOptions,
    edge_index: Tensor,
    inv_deg: Tensor | None,
    h: Tensor,
    pos: Tensor | None,
    edge_attr: Tensor | None,
    w: Weights,
) -> tuple[Tensor, Tensor]:
    """The pipeline in ordinary ops (arguments and result as `fused_edges`)."""
    src, dst = edge_index
    parts, r, d = [h[dst], h[src]], None, None
    if pos is not None:
        r = pos[dst] - pos[src]
        d = (r * r).sum(1, keepdim=True)
        if opts.distance:
            parts.append(d)
    if edge_attr is not None:
        parts.append(edge_attr)
    m = F.silu(F.linear(F.silu(F.linear(torch.cat(parts, 1), w.w_1, w.b_1)), w.w_2, w.b_2))
    if opts.attention:
        assert w.w_att is not None and w.b_att is not None
        m = m * torch.sigmoid(F.linear(m, w.w_att, w.b_att))
    messages = h.new_zeros(h.shape[0], m.shape[1]).index_add(0, dst, m)
    coords = h.new_zeros(0)
    if opts.coords:
        assert w.w_3 is not None and w.b_3 is not None and w.w_4 is not None
        assert pos is not None and r is not None and d is not None
        s = F.linear(F.silu(F.linear(m, w.w_3, w.b_3)), w.w_4)  # [E, 1]
        if opts.clamp is not None:
            s = s.clamp(-opts.clamp, opts.clamp)
        vec = r / (d.sqrt() + 1) if opts.normalize else r
        coords = torch.zeros_like(pos).index_add(0, dst, vec * s)
    if inv_deg is not None:
        if opts.messages_mean:
            messages = messages * inv_deg[:, None]
        if opts.coords and opts.coords_mean:
            coords = coords * inv_deg[:, None].to(coords.dtype)
    if not opts.node:
        return messages, coords
    assert w.w_n1 is not None and w.b_n1 is not None and w.w_n2 is not None
    out = F.linear(F.silu(F.linear(torch.cat([h, messages], 1), w.w_n1, w.b_n1)), w.w_n2, w.b_n2)
    if opts.coords:
        assert pos is not None
        coords = pos + coords
    return (h + out if opts.residual else out), coords


def fused_edges(
    opts: EdgeOptions,
    edge_index: Tensor,
    inv_deg: Tensor | None,
    h: Tensor,
    pos: Tensor | None,
    edge_attr: Tensor | None,
    weights: Weights,
) -> tuple[Tensor, Tensor]:
    """Run the pipeline on edges ``edge_index[0] → edge_index[1]`` (`reference_edges` through
    the fused kernel).

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
    return _kernels.fused_edges(
        opts, edge_index, inv_deg, h, pos, edge_attr, weights, reference_edges
    )
