"""`EquivariantBilinear`: products of features, ``y = W(x) x`` with W(x) built from x (emlp)."""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from symml.nn._expansion import runs
from symml.nn._types import FieldType, field_types, is_trivial, same_matrices
from symml.nn.linear import check_reps
from symml.reps import Rep


def _contract(x: Tensor, y: Tensor) -> Tensor:
    """``out[a, c, n] = Σ_k x[a, k, n] · y[k, c, n]``: B small matmuls, batch dimension n last.

    With the batch innermost and contiguous every step is a vectorised elementwise op over it;
    batched matmul (bmm) of B tiny matrices is 10-50x slower on CPU, backward included. An
    unrolled multiply-add over k keeps the working set at the output's size; a long k with a
    small product ``[a, k, c, n]`` is cheaper as one broadcast product and sum (fewer kernels),
    but a large product must not be materialised (fresh pages for megabytes cost more than the
    arithmetic).
    """
    a, k, c, n = x.shape[0], x.shape[1], y.shape[1], x.shape[2]
    if k > 8 and (a * k * c * n <= 1 << 17 or a * c * n <= 1 << 14):
        # contiguous operands: broadcasting the transposed ones from backward is 4x slower
        return (x.contiguous()[:, :, None] * y.contiguous()[None]).sum(1)
    xs = x.transpose(0, 1).unsqueeze(2).unbind(0)  # k × [a, 1, n]: one op, not k slicings
    ys = y.unsqueeze(1).unbind(0)  # k × [1, c, n]
    out = xs[0] * ys[0]
    for xi, yi in zip(xs[1:], ys[1:], strict=True):
        out = out.addcmul_(xi, yi)
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
    and m_b·n·d_b·d_a elementwise. An elementwise multiply-add costs ~4 GEMM ones here."""
    a, b = types_in[path.a], types_out[path.b]
    m_a, m_b, d_a, d_b, n = a.copies, b.copies, a.rep.dim, b.rep.dim, path.sources
    products_first = 4 * m_a * n * d_b * d_a + m_b * m_a * n * d_b
    theta_first = 4 * m_b * n * d_b * d_a + m_b * n * m_a * d_a
    return _Plan(path.a, path.source, path.b, n, d_a, d_b, theta_first < products_first)


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

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EquivariantBilinear: expected inputs [..., {self.rep_in.dim}] for rep_in "
                f"{self.rep_in} (got {list(x.shape)})"
            )
        flat = x.reshape(-1, x.shape[-1])
        return self.forward_t(flat.t()).t().reshape(*x.shape[:-1], self.rep_out.dim)

    def forward_t(self, xt: Tensor) -> Tensor:
        """The same map on feature-major inputs: ``[d_in, B] → [d_out, B]`` (no width check).

        Each path is a per-sample contraction (`_contract`, batch innermost) and one GEMM over
        the whole batch with θ; the order — products first, or θ first — is the cheaper one.
        """
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
        for plan, theta in zip(self._plans, self.weights, strict=True):
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
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, 0)

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in}, rep_out={self.rep_out}, paths={len(self._paths)}"
