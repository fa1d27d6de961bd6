"""`EquivariantBilinear`: products of features, ``y = W(x) x`` with W(x) built from x (emlp)."""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from symml.nn import _gemm, _native
from symml.nn._expansion import runs, type_rows
from symml.nn._types import FieldType, field_types, is_trivial, same_matrices
from symml.nn.linear import check_reps
from symml.reps import Rep


def _broadcast(a: int, k: int, c: int, n: int) -> bool:
    """Contract by one broadcast product and sum rather than k multiply-adds (see `_contract`)."""
    return k > 8 and (a * k * c * n <= 1 << 17 or a * c * n <= 1 << 14)


def _contract(x: Tensor, y: Tensor) -> Tensor:
    """``out[a, c, n] = Σ_k x[a, k, n] · y[k, c, n]``: B small matmuls, batch dimension n last.

    With the batch innermost and contiguous every step is a vectorised elementwise op over it;
    batched matmul (bmm) of B tiny matrices is 10-50x slower on CPU, backward included. On the
    CPU a compiled kernel does the whole sum (`symml.nn._native`). The stock-op fallback: an
    unrolled multiply-add over k keeps the working set at the output's size; a long k with a
    small product ``[a, k, c, n]`` is cheaper as one broadcast product and sum (two kernels); a
    larger one is not materialised: alone, ``[32, 27, 3, 500]`` broadcast takes 115 µs against
    151 µs for 27 multiply-adds, but in a training step the megabytes it streams through the cache
    cost more than that (EMLP inertia step 16.2 ms against 15.6 ms, measured A/B interleaved).
    """
    out = x.new_empty(x.shape[0], y.shape[1], x.shape[2])
    _contract_into(out, x, y, accumulate=False)
    return out


class _Contract(torch.autograd.Function):
    """`_contract` with a backward made of `_contract`s (autograd through the unrolled loop
    would materialise a zero-filled gradient per slice)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
        ctx.save_for_backward(x, y)
        return _contract(x, y)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, y = ctx.saved_tensors
        grad = grad.contiguous()
        gx = _Contract.apply(grad, y.transpose(0, 1)) if ctx.needs_input_grad[0] else None
        gy = _Contract.apply(x.transpose(0, 1), grad) if ctx.needs_input_grad[1] else None
        return gx, gy


def _contract_into(
    out: Tensor, x: Tensor, y: Tensor, accumulate: bool, init: Tensor | None = None
) -> None:
    """`_contract` written into ``out [a, c, n]`` (any strides, batch innermost), or added to it
    (``accumulate``), or added to ``init [a, c, n]``.

    On the CPU the compiled kernel (`symml.nn._native.contract_into`) does it; stock ops below
    are the fallback and the path for other devices and dtypes."""
    if _native.contract_into(out, x, y, accumulate, init):
        return
    if init is not None:
        out.copy_(init)
        accumulate = True
    a, k, c, n = x.shape[0], x.shape[1], y.shape[1], x.shape[2]
    if _broadcast(a, k, c, n):
        # contiguous operands: broadcasting the transposed ones from backward is 4x slower
        product = (x.contiguous()[:, :, None] * y.contiguous()[None]).sum(1)
        out.add_(product) if accumulate else out.copy_(product)
        return
    xs = x.transpose(0, 1).unsqueeze(2).unbind(0)  # k × [a, 1, n]: one op, not k slicings
    ys = y.unsqueeze(1).unbind(0)  # k × [1, c, n]
    if not accumulate:
        torch.mul(xs[0], ys[0], out=out)
        xs, ys = xs[1:], ys[1:]
    if not xs:
        return
    if out.device.type == "cpu":
        # the same multiply-adds in the same order, looped in C++ rather than Python: ~0.5 µs less
        # per term (10 % of the loop at batch 500). Only on the CPU, whose foreach kernels run
        # the list one by one; a GPU's fused ones would race on the repeated `out`.
        torch._foreach_addcmul_([out] * len(xs), list(xs), list(ys))
        return
    for xi, yi in zip(xs, ys, strict=True):
        out.addcmul_(xi, yi)


class Path(NamedTuple):
    """Products from input type ``a`` to output type ``b``, with W(x) blocks read from the first
    ``sources`` copies of input type ``source`` (indices into `field_types`)."""

    a: int
    b: int
    source: int
    sources: int


class _Plan(NamedTuple):
    """A path with the dimensions its forward needs and its contraction order."""

    a: int
    source: int
    b: int
    sources: int
    d_a: int
    d_b: int
    theta_first: bool


def _plan(path: Path, types_in: tuple[FieldType, ...], types_out: tuple[FieldType, ...]) -> _Plan:
    """Order by cost: per sample, products first takes m_a·n·d_b·d_a multiply-adds in small
    elementwise kernels and then m_b·m_a·n·d_b in a GEMM; θ first takes m_b·n·m_a·d_a in a GEMM
    and m_b·n·d_b·d_a elementwise. An elementwise multiply-add costs ~4 GEMM ones here. Ties
    (m_a = m_b, d_a = d_b, e.g. V → V from T(2) sources) go θ first: with the compiled
    contraction kernel that was 2-3 % faster for the O(3) inertia model (A/B in one process)."""
    a, b = types_in[path.a], types_out[path.b]
    m_a, m_b, d_a, d_b, n = a.copies, b.copies, a.rep.dim, b.rep.dim, path.sources
    products_first = 4 * m_a * n * d_b * d_a + m_b * m_a * n * d_b
    theta_first = 4 * m_b * n * d_b * d_a + m_b * n * m_a * d_a
    return _Plan(path.a, path.source, path.b, n, d_a, d_b, theta_first <= products_first)


class _Group(NamedTuple):
    """Paths that share one GEMM: θ-first paths from the same input type ``key`` (their θ
    stacked along rows: ``mixed = Θ x_a``), or products-first paths into the same output type
    ``key`` (θ stacked along columns: ``y_b += Θ P``). ``spans`` are each path's rows / columns
    of the stacked Θ, ``members`` indices into the plans."""

    key: int
    members: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    size: int


class _Fused(NamedTuple):
    """Everything `_BilinearFunction` needs, with both reps ordered type by type."""

    plans: tuple[_Plan, ...]
    theta_shapes: tuple[tuple[int, int, int], ...]
    offsets_in: tuple[int, ...]
    offsets_out: tuple[int, ...]
    copies_in: tuple[int, ...]
    copies_out: tuple[int, ...]
    d_out: int
    theta_first: tuple[_Group, ...]
    products_first: tuple[_Group, ...]


def _fused(
    plans: list[_Plan],
    shapes: list[tuple[int, int, int]],
    types_in: tuple[FieldType, ...],
    types_out: tuple[FieldType, ...],
) -> _Fused:
    def offsets(types: tuple[FieldType, ...]) -> tuple[int, ...]:
        return tuple(start for start, _ in type_rows(types)[0])

    def groups(first: bool) -> tuple[_Group, ...]:
        keyed: dict[int, list[int]] = {}
        for i, plan in enumerate(plans):
            if plan.theta_first == first:
                keyed.setdefault(plan.a if first else plan.b, []).append(i)
        out = []
        for key, members in keyed.items():
            spans, at = [], 0
            for i in members:
                m_b, m_a, n = shapes[i]
                width = m_b * n if first else m_a * n
                spans.append((at, at + width))
                at += width
            out.append(_Group(key, tuple(members), tuple(spans), at))
        return tuple(out)

    return _Fused(
        tuple(plans),
        tuple(shapes),
        offsets(types_in),
        offsets(types_out),
        tuple(t.copies for t in types_in),
        tuple(t.copies for t in types_out),
        sum(t.copies * t.rep.dim for t in types_out),
        groups(True),
        groups(False),
    )


def _stacked_theta(fused: _Fused, group: _Group, thetas: tuple[Tensor, ...], first: bool) -> Tensor:
    """θ-first: rows ``(p, l)`` by columns q; products-first: rows p by columns ``(q, l)``."""
    parts = []
    for i in group.members:
        m_b, m_a, n = fused.theta_shapes[i]
        theta = thetas[i]
        parts.append(theta.transpose(1, 2).reshape(m_b * n, m_a) if first else theta.view(m_b, -1))
    return parts[0] if len(parts) == 1 else torch.cat(parts, 0 if first else 1)


class _BilinearFunction(torch.autograd.Function):
    """The whole layer as one autograd node, on inputs ordered type by type ``[d_in, B]``.

    Paths that share an operand share a GEMM (`_Group`), contractions write straight into the
    output and gradient buffers, and no view, split or zero-filled slice gradient goes through
    autograd: forward + backward of the O(3) inertia model's bilinear layer (batch 500) takes
    3.5 ms against 4.8 ms for the same ops recorded one by one (`_forward_recorded`). Double
    backward (``create_graph=True``) replays the layer with recorded ops.
    """

    @staticmethod
    def forward(
        ctx: Any,
        fused: _Fused,
        module: EquivariantBilinear,
        residual: bool,
        xt: Tensor,
        *thetas: Tensor,
    ) -> Tensor:
        batch = xt.shape[1]
        fields = _fields(fused, xt)
        # each output type's first contribution starts from the residual input (or from zero)
        # instead of adding to a copy of it: one pass less over the output
        out = xt.new_empty(fused.d_out, batch)
        outs = _fields(fused, out, output=True)
        started: set[int] = set()
        mixed_all, products_all, stacked_tf, stacked_pf, rights = [], [], [], [], []
        for group in fused.theta_first:
            a = group.key
            theta = _stacked_theta(fused, group, thetas, True)
            m_a, d_a = fields[a].shape[0], fields[a].shape[1]
            mixed = _gemm.mm(theta, fields[a].view(m_a, d_a * batch))  # [Σ m_b·n, d_a·B]
            for i, (r0, r1) in zip(group.members, group.spans, strict=True):
                plan = fused.plans[i]
                m_b = fused.theta_shapes[i][0]
                right = _source_theta_first(fields, plan, batch)
                mixed_p = mixed[r0:r1].view(m_b, plan.sources * d_a, batch)
                if plan.b in started:
                    _contract_into(outs[plan.b], mixed_p, right, accumulate=True)
                else:
                    init = fields[plan.b] if residual else None
                    _contract_into(outs[plan.b], mixed_p, right, accumulate=False, init=init)
                    started.add(plan.b)
                rights.append(right)  # a copy unless d_b = 1: kept for the backward
            mixed_all.append(mixed)
            stacked_tf.append(theta)
        for group in fused.products_first:
            b = group.key
            m_b, d_b = outs[b].shape[0], outs[b].shape[1]
            products = xt.new_empty(group.size, d_b * batch)
            for i, (c0, c1) in zip(group.members, group.spans, strict=True):
                plan = fused.plans[i]
                m_a = fused.theta_shapes[i][1]
                target = products[c0:c1].view(m_a, plan.sources * d_b, batch)
                _contract_into(target, fields[plan.a], _source_products_first(fields, plan, batch),
                               accumulate=False)  # fmt: skip
            theta = _stacked_theta(fused, group, thetas, False)
            y_b = outs[b].view(m_b, d_b * batch)
            if b in started:
                _gemm.addmm_(y_b, theta, products)
            elif residual:
                torch.add(fields[b].view(m_b, d_b * batch), _gemm.mm(theta, products), out=y_b)
            else:
                y_b.copy_(_gemm.mm(theta, products))
            started.add(b)
            products_all.append(products)
            stacked_pf.append(theta)
        for b, y_b in enumerate(outs):  # types no path writes: the residual alone, or zero
            if b not in started:
                y_b.copy_(fields[b]) if residual else y_b.zero_()
        ctx.fused, ctx.module, ctx.residual = fused, module, residual
        ctx.save_for_backward(
            xt, *thetas, *mixed_all, *products_all, *stacked_tf, *stacked_pf, *rights
        )
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        fused: _Fused = ctx.fused
        n_tf, n_pf, n_theta = len(fused.theta_first), len(fused.products_first), len(fused.plans)
        saved = ctx.saved_tensors
        xt, thetas = saved[0], saved[1 : 1 + n_theta]
        rest = saved[1 + n_theta :]
        mixed_all, products_all = rest[:n_tf], rest[n_tf : n_tf + n_pf]
        stacked_tf = rest[n_tf + n_pf : 2 * n_tf + n_pf]
        stacked_pf = rest[2 * n_tf + n_pf : 2 * n_tf + 2 * n_pf]
        rights = iter(rest[2 * n_tf + 2 * n_pf :])  # θ-first paths' sources, in forward order
        if torch.is_grad_enabled():  # create_graph: replay with recorded ops, differentiably
            grads = _replay_backward(ctx.module, xt, thetas, grad, ctx.needs_input_grad[3:])
            if ctx.residual and grads[0] is not None:
                grads = (grads[0] + grad, *grads[1:])
            return (None, None, None, *grads)
        batch = xt.shape[1]
        grad = grad.contiguous()
        fields = _fields(fused, xt)
        grads_out = _fields(fused, grad, output=True)
        if not ctx.needs_input_grad[3]:
            gx = None
        else:
            gx = grad.clone() if ctx.residual else torch.zeros_like(xt)
        gfields = _fields(fused, gx) if gx is not None else None
        gthetas: list[Tensor | None] = [None] * n_theta
        for group, products, theta in zip(fused.products_first, products_all, stacked_pf,
                                          strict=True):  # fmt: skip
            b = group.key
            m_b, d_b = grads_out[b].shape[0], grads_out[b].shape[1]
            g_b = grads_out[b].view(m_b, d_b * batch)
            g_theta = _gemm.mm(g_b, products.t())  # [m_b, Σ m_a·n]
            g_products = _gemm.mm(theta.t(), g_b)  # [Σ m_a·n, d_b·B]
            for i, (c0, c1) in zip(group.members, group.spans, strict=True):
                plan = fused.plans[i]
                gthetas[i] = g_theta[:, c0:c1].reshape(fused.theta_shapes[i])
                if gfields is None:
                    continue
                m_a = fused.theta_shapes[i][1]
                g_p = g_products[c0:c1].view(m_a, plan.sources * d_b, batch)
                right = _source_products_first(fields, plan, batch)
                _contract_into(gfields[plan.a], g_p, right.transpose(0, 1), accumulate=True)
                g_right = _source_products_first(gfields, plan, batch)
                _contract_into(g_right, fields[plan.a].transpose(0, 1), g_p, accumulate=True)
        for group, mixed, theta in zip(fused.theta_first, mixed_all, stacked_tf, strict=True):
            a = group.key
            m_a, d_a = fields[a].shape[0], fields[a].shape[1]
            g_mixed = torch.empty_like(mixed)
            for i, (r0, r1) in zip(group.members, group.spans, strict=True):
                plan = fused.plans[i]
                m_b, n = fused.theta_shapes[i][0], plan.sources
                g_b = grads_out[plan.b]  # [m_b, d_b, B]
                right = next(rights)  # [n·d_a, d_b, B]
                g_mixed_p = g_mixed[r0:r1].view(m_b, n * d_a, batch)
                _contract_into(g_mixed_p, g_b, right.transpose(0, 1), accumulate=False)
                if gfields is not None:
                    mixed_p = mixed[r0:r1].view(m_b, n * d_a, batch)
                    source = gfields[plan.source][:n].view(n, plan.d_b, d_a, batch)
                    if d_a == 1:  # rows (l, j) of the source's gradient are rows l: add there
                        target = source.view(n, plan.d_b, batch)
                        _contract_into(target, mixed_p.transpose(0, 1), g_b, accumulate=True)
                    else:
                        g_right = torch.empty_like(right)
                        _contract_into(g_right, mixed_p.transpose(0, 1), g_b, accumulate=False)
                        source.transpose(1, 2).add_(g_right.view(n, d_a, plan.d_b, batch))
            x_a = fields[a].view(m_a, d_a * batch)
            g_theta = _gemm.mm(g_mixed, x_a.t())  # [Σ m_b·n, m_a]
            for i, (r0, r1) in zip(group.members, group.spans, strict=True):
                m_b, _, n = fused.theta_shapes[i]
                gthetas[i] = g_theta[r0:r1].view(m_b, n, m_a).transpose(1, 2)
            if gfields is not None:
                _gemm.addmm_(gfields[a].view(m_a, d_a * batch), theta.t(), g_mixed)
        return (None, None, None, gx, *gthetas)


def _fields(fused: _Fused, xt: Tensor, output: bool = False) -> list[Tensor]:
    """Views ``[m, d, B]`` of each type's rows of a type-ordered ``[d, B]`` tensor."""
    offsets = fused.offsets_out if output else fused.offsets_in
    copies = fused.copies_out if output else fused.copies_in
    ends = [*offsets[1:], xt.shape[0]]
    return [
        xt[start:end].view(m, (end - start) // m if m else 0, xt.shape[1])
        for start, end, m in zip(offsets, ends, copies, strict=True)
    ]


def _source_theta_first(fields: list[Tensor], plan: _Plan, batch: int) -> Tensor:
    """``R[(l, j), i] = S_l[i, j]`` ``[n·d_a, d_b, B]`` (a copy unless d_b = 1)."""
    source = fields[plan.source][: plan.sources].view(plan.sources, plan.d_b, plan.d_a, batch)
    return source.transpose(1, 2).reshape(plan.sources * plan.d_a, plan.d_b, batch)


def _source_products_first(fields: list[Tensor], plan: _Plan, batch: int) -> Tensor:
    """``R[j, (l, i)] = S_l[i, j]`` ``[d_a, n·d_b, B]`` (a view)."""
    source = fields[plan.source][: plan.sources].view(plan.sources, plan.d_b, plan.d_a, batch)
    return source.permute(2, 0, 1, 3).reshape(plan.d_a, plan.sources * plan.d_b, batch)


def _replay_backward(
    module: EquivariantBilinear,
    xt: Tensor,
    thetas: tuple[Tensor, ...],
    grad: Tensor,
    needs: tuple[bool, ...],
) -> tuple[Tensor | None, ...]:
    """Gradients for ``(xt, *thetas)`` (``needs`` says which), differentiable themselves."""
    inputs = [xt, *thetas]
    with torch.enable_grad():
        y = module._forward_recorded(xt, list(thetas), ordered=True)
        wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
        grads = iter(torch.autograd.grad(y, wanted, grad, create_graph=True, allow_unused=True))
    out = [next(grads) if need else None for need in needs]
    return tuple(torch.zeros_like(t) if g is None and need else g
                 for g, t, need in zip(out, inputs, needs, strict=True))  # fmt: skip


def _type_order(types: tuple[FieldType, ...]) -> Tensor | None:
    """The coordinates listed type by type (copies in order), or None if they already are."""
    order = type_rows(types)[1]
    return None if order is None else torch.tensor(order, dtype=torch.long)


@functools.cache
def bilinear_paths(rep_in: Rep, rep_out: Rep) -> tuple[Path, ...]:
    """The nonzero paths of ``EquivariantBilinear(rep_in, rep_out)`` (empty: the layer is zero)."""
    types_in, types_out = field_types(rep_in), field_types(rep_out)
    sources = [i for i, t in enumerate(types_in) if not is_trivial(t.rep)]
    paths = []
    for bi, b in enumerate(types_out):
        for ai, a in enumerate(types_in):
            block = b.rep.tensor(a.rep.dual())
            match = [s for s in sources if same_matrices(types_in[s].rep, block)]
            if match:
                source = types_in[match[0]]
                paths.append(Path(ai, bi, match[0], min(source.copies, source.rep.dim)))
    return tuple(paths)


class EquivariantBilinear(nn.Module):
    """Equivariant bilinear layer (Finzi et al. 2021, https://arxiv.org/abs/2104.09459):
    ``y = W(x) x`` where the matrix ``W(x) ∈ Hom(ρ_in, ρ_out)`` is itself a linear function of x.

    W(x) is assembled block by block: the block from a field of type a to a field of type b
    transforms as ``b ⊗ a*``; it is filled with a learned combination of the input fields whose
    representation *is* ``b ⊗ a*`` (same matrices, e.g. 2-tensors for the V → V blocks of O(n)).
    Then ``W(ρ_in(g)x) = ρ_out(g) W(x) ρ_in(g)⁻¹`` and so ``y(ρ_in(g)x) = ρ_out(g) y(x)``.
    Scalars are not used as sources (as in emlp) and at most ``d`` copies of a source type of
    dimension d are used, which keeps the layer as cheap as a linear one. Blocks with no source
    stay zero; a layer where every block is zero raises.

    Args:
        rep_in: representation of the inputs.
        rep_out: representation of the outputs (same group).

    Shapes:
        ``[..., d_in] → [..., d_out]``.

    Example:
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> V = standard(O(3))
        >>> rep = 4 * trivial(O(3)) + 2 * V + V.tensor(V)
        >>> EquivariantBilinear(rep, rep)(torch.randn(5, rep.dim)).shape
        torch.Size([5, 19])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        super().__init__()
        check_reps(rep_in, rep_out, "EquivariantBilinear")
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, rep_in.group
        types_in, types_out = field_types(rep_in), field_types(rep_out)
        self._paths = bilinear_paths(rep_in, rep_out)
        self.weights = nn.ParameterList()
        for path in self._paths:
            a, b = types_in[path.a], types_out[path.b]
            # Var(y) ≈ σ² · (copies of a) · n · d_a for unit inputs: aim at 1 per path
            std = 1.0 / math.sqrt(a.copies * path.sources * a.rep.dim)
            self.weights.append(nn.Parameter(std * torch.randn(b.copies, a.copies, path.sources)))
        if not self._paths:
            raise ValueError(
                f"EquivariantBilinear: no field of rep_in = {rep_in} transforms like a block "
                f"b ⊗ a* of Hom(rep_in, rep_out = {rep_out}), so every product is zero; include "
                "tensor-product fields (e.g. V.tensor(V) next to V) in rep_in"
            )
        self._types_in: tuple[FieldType, ...] = types_in
        self._types_out: tuple[FieldType, ...] = types_out
        # the input's runs of consecutive copies, and which runs make up each type (in order)
        in_runs = runs(types_in)
        self._in_widths = [(last - first) * types_in[t].rep.dim for t, first, last in in_runs]
        self._in_runs = [
            [r for r, run in enumerate(in_runs) if run[0] == i] for i in range(len(types_in))
        ]
        self._runs = runs(types_out)
        self._plans = [_plan(path, types_in, types_out) for path in self._paths]
        shapes = [(t.shape[0], t.shape[1], t.shape[2]) for t in self.weights]
        self._fused = _fused(self._plans, shapes, types_in, types_out)
        # `_BilinearFunction` wants each type's copies side by side: reorder if they are not
        order_in, order_out = _type_order(types_in), _type_order(types_out)
        self._order_in: Tensor | None
        self._unorder_out: Tensor | None
        self.register_buffer("_order_in", order_in, persistent=False)
        self.register_buffer(
            "_unorder_out",
            None if order_out is None else torch.argsort(order_out),
            persistent=False,
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EquivariantBilinear: expected inputs [..., {self.rep_in.dim}] for rep_in "
                f"{self.rep_in} (got {list(x.shape)})"
            )
        flat = x.reshape(-1, x.shape[-1])
        return self.forward_t(flat.t()).t().reshape(*x.shape[:-1], self.rep_out.dim)

    def forward_t(self, xt: Tensor, residual: bool = False) -> Tensor:
        """The same map on feature-major inputs: ``[d_in, B] → [d_out, B]`` (no width check);
        ``residual``: return ``B(x) + x`` (rep_in = rep_out), without a separate addition.

        Each path is a per-sample contraction (`_contract`, batch innermost) and a GEMM over the
        whole batch with θ; the order — products first, or θ first — is the cheaper one, and
        paths that share an operand share the GEMM (`_BilinearFunction`).
        """
        if residual and self.rep_in != self.rep_out:
            raise ValueError(
                f"EquivariantBilinear: residual needs rep_in = rep_out (got {self.rep_in} and "
                f"{self.rep_out})"
            )
        if self._order_in is not None:
            xt = xt.index_select(0, self._order_in)
        y = _BilinearFunction.apply(self._fused, self, residual, xt.contiguous(), *self.weights)
        return y if self._unorder_out is None else y.index_select(0, self._unorder_out)

    def _forward_recorded(self, xt: Tensor, thetas: list[Tensor], ordered: bool = False) -> Tensor:
        """`forward_t` as separately recorded autograd ops (the reference, and double backward);
        ``ordered``: ``xt`` and the result are ordered type by type, as `_BilinearFunction`'s."""
        if ordered and self._order_in is not None:
            xt = xt.index_select(0, torch.argsort(self._order_in))
        xt = xt.contiguous()
        batch = xt.shape[1]
        # split, not slicing: the backward of k slices is k zero-filled [d_in, B] gradients
        pieces = xt.split(self._in_widths)
        fields = []
        for t, run_ids in zip(self._types_in, self._in_runs, strict=True):
            field = (
                pieces[run_ids[0]] if len(run_ids) == 1 else torch.cat([pieces[r] for r in run_ids])
            )
            fields.append(field.view(t.copies, t.rep.dim, batch))
        outputs: dict[int, Tensor] = {}
        for plan, theta in zip(self._plans, thetas, strict=True):
            n, d_a, d_b = plan.sources, plan.d_a, plan.d_b
            m_b, m_a = theta.shape[0], theta.shape[1]
            x_a = fields[plan.a]  # [m_a, d_a, B]
            source = fields[plan.source][:n].reshape(n, d_b, d_a, batch)  # matrices [d_b, d_a]
            if plan.theta_first:
                # mixed[p, l, j] = Σ_q θ[p, q, l] x_a[q, j], then y[p, i] = Σ_{l,j} mixed · source
                mixed = theta.transpose(1, 2).reshape(m_b * n, m_a) @ x_a.reshape(m_a, -1)
                right = source.transpose(1, 2).reshape(n * d_a, d_b, batch)
                y = _Contract.apply(mixed.view(m_b, n * d_a, batch), right)
            else:
                # products[q, l, i] = Σ_j source[l, i, j] x_a[q, j], then one GEMM with θ
                right = source.permute(2, 0, 1, 3).reshape(d_a, n * d_b, batch)
                products = _Contract.apply(x_a, right)
                y = theta.reshape(m_b, m_a * n) @ products.view(m_a * n, d_b * batch)
            y = y.view(m_b * d_b, batch)
            outputs[plan.b] = outputs[plan.b] + y if plan.b in outputs else y
        pieces = []
        for bi, first, last in self._runs:  # runs of consecutive copies, in output order
            d = self._types_out[bi].rep.dim
            if bi in outputs:
                pieces.append(outputs[bi][first * d : last * d])
            else:
                pieces.append(xt.new_zeros((last - first) * d, batch))
        out = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 0)
        if ordered and self._unorder_out is not None:
            out = out.index_select(0, torch.argsort(self._unorder_out))
        return out

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in}, rep_out={self.rep_out}, paths={len(self._paths)}"
