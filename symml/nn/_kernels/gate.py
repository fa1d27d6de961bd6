"""The gated nonlinearity on feature-major inputs as one autograd node (`EMLP`'s hot path).

Reference: ``GatedNonlinearity(rep).reference_t`` (a split, a product per run of fields and a
concatenation, each its own autograd node). The kernel writes SiLU of the scalars and every
gated run straight into one output tensor, and its backward writes the input gradient the same
way; double backward differentiates the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor


class GateLayout(NamedTuple):
    """The rows of a feature-major gate input ``[gates + scalars + Σ m·d, B]``: the gates first,
    then the scalars, then runs of ``m`` fields of dimension ``d`` (``(m, d)`` in ``runs``), each
    field scaled by the sigmoid of its own gate, in order. The output drops the gate rows."""

    gates: int
    scalars: int
    runs: tuple[tuple[int, int], ...]


def fused_gate(xt: Tensor, layout: GateLayout, reference: Callable[[Tensor], Tensor]) -> Tensor:
    """``reference(xt)`` (``[gates + rep.dim, B] → [rep.dim, B]``) as one autograd node.

    Args:
        xt: feature-major input laid out as ``layout`` says.
        layout: where the gates, scalars and runs of fields sit.
        reference: the same map recorded op by op, differentiated for double backward.
    """
    out: Tensor = _GateT.apply(reference, layout, xt.contiguous())
    return out


def _rows(layout: GateLayout) -> list[tuple[int, int, int, int, int]]:
    """``(m, d, input row, output row, first gate)`` of every run."""
    gates, k, runs = layout
    row_in, row_out, gate, out = gates + k, k, 0, []
    for m, d in runs:
        out.append((m, d, row_in, row_out, gate))
        row_in, row_out, gate = row_in + m * d, row_out + m * d, gate + m
    return out


class _GateT(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, reference: Callable[[Tensor], Tensor], layout: GateLayout, xt: Tensor
    ) -> Tensor:
        gates, k, runs = layout
        batch = xt.shape[1]
        out = xt.new_empty(k + sum(m * d for m, d in runs), batch)
        torch.ops.aten.silu.out(xt[gates : gates + k], out=out[:k])
        sig = torch.sigmoid(xt[:gates])
        for m, d, row_in, row_out, gate in _rows(layout):
            values = xt[row_in : row_in + m * d].view(m, d, batch)
            target = out[row_out : row_out + m * d].view(m, d, batch)
            torch.mul(values, sig[gate : gate + m, None], out=target)
        ctx.reference, ctx.layout = reference, layout
        ctx.save_for_backward(xt, sig)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        xt, sig = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: differentiate the reference
            with torch.enable_grad():
                (g,) = torch.autograd.grad(ctx.reference(xt), xt, grad, create_graph=True)
            return None, None, g
        gates, k, _ = ctx.layout
        batch = xt.shape[1]
        grad = grad.contiguous()
        gx = torch.empty_like(xt)
        gx[gates : gates + k] = torch.ops.aten.silu_backward(grad[:k], xt[gates : gates + k])
        g_sig = sig.new_empty(sig.shape)
        for m, d, row_in, row_out, gate in _rows(ctx.layout):
            values = xt[row_in : row_in + m * d].view(m, d, batch)
            g_out = grad[row_out : row_out + m * d].view(m, d, batch)
            g_values = gx[row_in : row_in + m * d].view(m, d, batch)
            torch.mul(g_out, sig[gate : gate + m, None], out=g_values)
            torch.sum(g_out * values, 1, out=g_sig[gate : gate + m])
        gx[:gates] = torch.ops.aten.sigmoid_backward(g_sig, sig)
        return None, None, gx
