"""`EquivariantBilinear`'s map ``y = W(x) x`` as one autograd node (`bilinear_t`).

Reference: ``EquivariantBilinear.reference_t``, path by path in einsums. Here each path is a GEMM
over the whole batch and a per-sample contraction in the cheaper order
(`symml.nn._kernels.bilinear_plan`); paths that share an operand share the GEMM, and all the
contractions of a stage run as one program (`symml.nn._kernels.contract`) that reads the sources
in place and writes straight into the output and gradient buffers. A stage is: forward, the
θ-first GEMMs, the contractions, the products-first GEMMs (which add to the output); backward,
the products-first GEMMs, the contractions, the θ-first GEMMs. No view, split or zero-filled
slice gradient goes through autograd. Double backward (``create_graph=True``) differentiates the
reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from symml.nn._kernels import gemm
from symml.nn._kernels._autograd import load, replay_backward, save
from symml.nn._kernels.bilinear_plan import BilinearPlan, Group
from symml.nn._kernels.contract import run
from symml.nn._kernels.layout import fields as _fields

Reference = Callable[[Tensor, Sequence[Tensor], bool], Tensor]


def bilinear_t(
    plan: BilinearPlan,
    reference: Reference,
    xt: Tensor,
    thetas: Sequence[Tensor],
    residual: bool,
) -> Tensor:
    """``reference(xt, thetas, residual)`` as one autograd node.

    Args:
        plan: the layer's `BilinearPlan`.
        reference: the same map in ordinary differentiable ops (differentiated for double
            backward).
        xt: feature-major inputs ``[d_in, B]`` in the layer's coordinate order.
        thetas: one ``[m_b, m_a, n]`` weight per path, in the plan's order.
        residual: return ``W(x) x + x`` (rep_in = rep_out).

    Returns:
        ``[d_out, B]``.
    """
    out: Tensor = _BilinearFunction.apply(plan, reference, residual, xt.contiguous(), *thetas)
    return out


class _Saved(NamedTuple):
    inputs: tuple[Tensor, ...]  # xt as passed in, then the θs
    mixed: tuple[Tensor, ...]  # per θ-first group: Θ x_a [Σ m_b·n, d_a·B]
    stacked_tf: tuple[Tensor, ...]  # per θ-first group: its stacked Θ
    products: tuple[Tensor, ...]  # per products-first group: P [Σ m_a·n, d_b·B]
    stacked_pf: tuple[Tensor, ...]  # per products-first group: its stacked Θ


def _stacked_theta(
    plan: BilinearPlan, group: Group, thetas: Sequence[Tensor], first: bool
) -> Tensor:
    """θ-first: rows ``(p, l)`` by columns q; products-first: rows p by columns ``(q, l)``."""
    parts = []
    for i in group.members:
        p, theta = plan.paths[i], thetas[i]
        parts.append(
            theta.transpose(1, 2).reshape(p.m_b * p.sources, p.m_a)
            if first
            else theta.view(p.m_b, -1)
        )
    return parts[0] if len(parts) == 1 else torch.cat(parts, 0 if first else 1)


def _rows(t: Tensor, batch: int) -> Tensor:
    """``[r, c·B]`` as the program's ``[r·c, B]`` rows."""
    return t.view(-1, batch)


def _forward(
    plan: BilinearPlan, xt: Tensor, thetas: Sequence[Tensor], residual: bool
) -> tuple[Tensor, _Saved]:
    """The output ``[d_out, B]`` of type-ordered ``xt`` and what the backward needs."""
    batch = xt.shape[1]
    fields = _fields(plan.rows_in, xt)
    stacked_tf = [_stacked_theta(plan, g, thetas, True) for g in plan.theta_first]
    mixed = [  # Θ x_a [Σ m_b·n, d_a·B]
        gemm.mm(theta, fields[g.key].view(fields[g.key].shape[0], -1))
        for g, theta in zip(plan.theta_first, stacked_tf, strict=True)
    ]
    products = [xt.new_empty(g.size * plan.rows_out[g.key].dim, batch) for g in plan.products_first]
    out = xt.new_empty(plan.d_out, batch)
    buffers = [xt, out, *(_rows(m, batch) for m in mixed), *products]
    run(plan.forward[residual], buffers)  # θ-first contractions into y, products P
    stacked_pf = [_stacked_theta(plan, g, thetas, False) for g in plan.products_first]
    outs = _fields(plan.rows_out, out)
    for g, theta, p in zip(plan.products_first, stacked_pf, products, strict=True):
        m_b, d_b, _ = outs[g.key].shape
        gemm.addmm_(outs[g.key].view(m_b, d_b * batch), theta, p.view(g.size, d_b * batch))
    saved = _Saved((), tuple(mixed), tuple(stacked_tf), tuple(products), tuple(stacked_pf))
    return out, saved


def _backward(
    plan: BilinearPlan, xt: Tensor, grad: Tensor, saved: _Saved, residual: bool, need_x: bool
) -> tuple[Tensor | None, list[Tensor | None]]:
    """Gradients of type-ordered ``xt`` (None unless ``need_x``) and of the θs."""
    batch = xt.shape[1]
    fields, grads_out = _fields(plan.rows_in, xt), _fields(plan.rows_out, grad)
    gthetas: list[Tensor | None] = [None] * len(plan.paths)
    g_products = []
    for g, products, theta in zip(
        plan.products_first, saved.products, saved.stacked_pf, strict=True
    ):
        m_b, d_b, _ = grads_out[g.key].shape
        g_b = grads_out[g.key].view(m_b, d_b * batch)
        g_theta = gemm.mm(g_b, products.view(g.size, d_b * batch).t())  # [m_b, Σ m_a·n]
        for i, (c0, c1) in zip(g.members, g.spans, strict=True):
            p = plan.paths[i]
            gthetas[i] = g_theta[:, c0:c1].reshape(p.m_b, p.m_a, p.sources)
        if need_x:
            g_products.append(gemm.mm(theta.t(), g_b).view(-1, batch))  # [Σ m_a·n·d_b, B]
    gx = xt.new_empty(xt.shape) if need_x else xt.new_empty(0, batch)
    g_mixed = [torch.empty_like(m) for m in saved.mixed]
    buffers = [xt, grad, gx, *(_rows(m, batch) for m in saved.mixed)]
    buffers += [*(_rows(m, batch) for m in g_mixed), *g_products]
    run(plan.backward[residual] if need_x else plan.backward_theta, buffers)
    gfields = _fields(plan.rows_in, gx) if need_x else None
    for g, theta, g_mix in zip(plan.theta_first, saved.stacked_tf, g_mixed, strict=True):
        m_a, d_a, _ = fields[g.key].shape
        g_theta = gemm.mm(g_mix, fields[g.key].view(m_a, d_a * batch).t())  # [Σ m_b·n, m_a]
        for i, (r0, r1) in zip(g.members, g.spans, strict=True):
            p = plan.paths[i]
            gthetas[i] = g_theta[r0:r1].view(p.m_b, p.sources, m_a).transpose(1, 2)
        if gfields is not None:
            gemm.addmm_(gfields[g.key].view(m_a, d_a * batch), theta.t(), g_mix)
    return (gx if need_x else None), gthetas


class _BilinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        plan: BilinearPlan,
        reference: Reference,
        residual: bool,
        xt: Tensor,
        *thetas: Tensor,
    ) -> Tensor:
        typed = xt if plan.order_in is None else plan.order_in.to_types(xt)
        y, saved = _forward(plan, typed, thetas, residual)
        ctx.plan, ctx.reference, ctx.residual = plan, reference, residual
        save(ctx, saved._replace(inputs=(xt, *thetas)))
        return y if plan.order_out is None else plan.order_out.from_types(y)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        plan: BilinearPlan = ctx.plan
        saved = load(ctx, _Saved)
        needs = ctx.needs_input_grad[3:]
        if torch.is_grad_enabled():  # create_graph: differentiate the reference
            grads = replay_backward(
                lambda x, *th: ctx.reference(x, th, ctx.residual), saved.inputs, [grad], needs
            )
            return (None, None, None, *grads)
        xt = saved.inputs[0]
        typed = xt if plan.order_in is None else plan.order_in.to_types(xt)
        grad = grad.contiguous() if plan.order_out is None else plan.order_out.to_types(grad)
        gx, gthetas = _backward(plan, typed, grad, saved, ctx.residual, needs[0])
        if gx is not None and plan.order_in is not None:
            gx = plan.order_in.from_types(gx)
        return (None, None, None, gx, *gthetas)
