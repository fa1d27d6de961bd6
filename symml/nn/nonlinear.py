"""Equivariant nonlinearities for fields of any representation: gated, norm and pointwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from symml.nn._checks import check_rep
from symml.nn._types import is_trivial, parts
from symml.reps import Rep, trivial


def gated(rep: Rep, gates_after_scalars: bool = False) -> Rep:
    """``rep`` plus one trivial gate scalar per non-scalar part: the input representation of
    ``GatedNonlinearity(rep, gates_after_scalars)``. The gates are appended at the end, or, with
    ``gates_after_scalars`` (for a ``rep`` whose scalars come first), placed right after its
    scalars, so that all scalars are side by side (one field type, one block of coordinates).

    Example:
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> gated(2 * standard(O(3)) + trivial(O(3))).dim  # 7 + one gate per vector
        9
    """
    all_parts = parts(check_rep(rep, "gated"))
    gates = sum(not is_trivial(p) for p in all_parts)
    if not gates:
        return rep
    if not gates_after_scalars:
        return rep + gates * trivial(rep.group)
    k = _scalar_prefix(all_parts)
    if k < 0:
        raise ValueError(
            f"gated: gates_after_scalars needs a rep whose scalars all come first (got {rep}); "
            "reorder it, or append the gates at the end (the default)"
        )
    out = (k + gates) * trivial(rep.group)
    for p in all_parts[k:]:
        out = out + p
    return out


def scalars_first(rep: Rep) -> bool:
    """Whether every scalar (trivial) part of ``rep`` comes before its other parts."""
    return _scalar_prefix(parts(rep)) >= 0


def _scalar_prefix(all_parts: list[Rep]) -> int:
    """The number of scalar parts that come first, or -1 if a scalar comes after another part."""
    k = 0
    while k < len(all_parts) and is_trivial(all_parts[k]):
        k += 1
    return k if not any(is_trivial(p) for p in all_parts[k:]) else -1


def _coordinate_parts(rep: Rep) -> tuple[Tensor, Tensor]:
    """For each coordinate of ``rep``: the index of its part, and whether that part is scalar."""
    part_of, scalar = [], []
    for i, p in enumerate(parts(rep)):
        part_of += [i] * p.dim
        scalar += [is_trivial(p)] * p.dim
    return torch.tensor(part_of, dtype=torch.long), torch.tensor(scalar, dtype=torch.bool)


def _check_width(x: Tensor, rep: Rep, what: str) -> None:
    if x.shape[-1] != rep.dim:
        raise ValueError(
            f"{what}: expected inputs [..., {rep.dim}] for {rep} (got {list(x.shape)})"
        )


class GatedNonlinearity(nn.Module):
    """Gated nonlinearity (Weiler et al. 2018; emlp): scalars go through SiLU, every other part
    ``v`` of ``rep`` is scaled by ``sigmoid(gate)`` of its own gate scalar.

    Equivariant for any orthogonal rep: gates are invariant, so ``sigmoid(gate)·ρ(g)v =
    ρ(g)(sigmoid(gate)·v)``.

    Args:
        rep: the output representation; the input is ``gated(rep, gates_after_scalars)``
            (``rep`` + gates).
        gates_after_scalars: the gates sit right after ``rep``'s scalars instead of at the end.

    Shapes:
        ``[..., gated(rep).dim] → [..., rep.dim]``.

    Example:
        >>> from symml.groups import SO
        >>> from symml.reps import standard
        >>> act = GatedNonlinearity(3 * standard(SO(3)))
        >>> act(torch.randn(2, 12)).shape
        torch.Size([2, 9])
    """

    _scalar: Tensor
    _gate_of: Tensor

    def __init__(self, rep: Rep, gates_after_scalars: bool = False) -> None:
        super().__init__()
        check_rep(rep, "GatedNonlinearity")
        self.rep_in, self.rep_out = gated(rep, gates_after_scalars), rep
        self.group, self.gates_after_scalars = rep.group, gates_after_scalars
        part_of, scalar = _coordinate_parts(rep)
        # gate column of each coordinate: gates are numbered over the non-scalar parts in order
        gate_number = torch.cumsum(~torch.tensor([is_trivial(p) for p in parts(rep)]), 0) - 1
        self.register_buffer("_scalar", scalar, persistent=False)
        self.register_buffer("_gate_of", gate_number[part_of].clamp(min=0), persistent=False)
        self._gates = self.rep_in.dim - rep.dim
        # fast path for the usual layout (scalars first, as uniform_rep builds): no `where`, and
        # each run of equal-dimension parts is scaled by its gates broadcast over the part (an
        # index_select of gates has an index_add backward, several times slower)
        k = int(scalar.sum())
        self._scalar_prefix = k if bool(scalar[:k].all()) else -1
        self._runs: list[tuple[int, int]] = []  # (parts, dim) after the scalar prefix
        for p in parts(rep):
            if is_trivial(p):
                continue
            if self._runs and self._runs[-1][1] == p.dim:
                self._runs[-1] = (self._runs[-1][0] + 1, p.dim)
            else:
                self._runs.append((1, p.dim))
        self._rows = self._layout()

    def forward(self, x: Tensor) -> Tensor:
        _check_width(x, self.rep_in, "GatedNonlinearity")
        return self._gate(x, -1)

    def forward_t(self, xt: Tensor) -> Tensor:
        """The same map on feature-major inputs: ``[gated(rep).dim, B] → [rep.dim, B]``."""
        if self._gates and self._scalar_prefix >= 0:
            out: Tensor = _GateT.apply(self._gate_recorded, self._rows, xt.contiguous())
            return out
        return self._gate(xt, 0)

    def _layout(self) -> tuple[int, int, int, tuple[tuple[int, int, int, int, int], ...]]:
        """Rows of the feature-major input for `_GateT`: ``(k, first gate row, gates, runs)``
        with one ``(m, d, input row, output row, gate index)`` per run of equal parts."""
        k, gates = self._scalar_prefix, self._gates
        first_gate = k if self.gates_after_scalars else self.rep_out.dim
        row_in = k + gates if self.gates_after_scalars else k
        row_out, gate, runs = k, 0, []
        for m, d in self._runs:
            runs.append((m, d, row_in, row_out, gate))
            row_in, row_out, gate = row_in + m * d, row_out + m * d, gate + m
        return k, first_gate, gates, tuple(runs)

    def _gate_recorded(self, xt: Tensor) -> Tensor:
        return self._gate(xt, 0)

    def _gate(self, x: Tensor, dim: int) -> Tensor:
        """The gate along the feature dimension ``dim`` of x."""
        if self._gates == 0:
            return nn.functional.silu(x)
        # split, not slicing: each slice's backward would zero-fill a gradient of x's size
        k = self._scalar_prefix
        runs = [m * d for m, d in self._runs]
        if self.gates_after_scalars:
            scalars, gates, *rest = x.split([k, self._gates, *runs], dim)
        else:
            values, gates = x.split([self.rep_out.dim, self._gates], dim)
            if k < 0:  # scalars anywhere: gate every coordinate, then pick
                gated_values = values * torch.sigmoid(gates).index_select(dim, self._gate_of)
                scalar = self._scalar if dim == -1 else self._scalar[:, None]
                return torch.where(scalar, nn.functional.silu(values), gated_values)
            scalars, *rest = values.split([k, *runs], dim)
        run_gates = torch.sigmoid(gates).split([m for m, _ in self._runs], dim)
        out = [nn.functional.silu(scalars)]
        lead = x.shape[:-1] if dim == -1 else ()
        trail = () if dim == -1 else x.shape[1:]
        for (m, d), v, g in zip(self._runs, rest, run_gates, strict=True):
            if dim == -1:  # [..., m·d] as [..., m, d], gates [..., m, 1]
                scaled = v.reshape(*lead, m, d) * g.unsqueeze(-1)
            else:  # [m·d, ...] as [m, d, ...], gates [m, 1, ...]
                scaled = v.reshape(m, d, *trail) * g.unsqueeze(1)
            out.append(scaled.reshape(v.shape))
        return torch.cat(out, dim)

    def extra_repr(self) -> str:
        return f"rep={self.rep_out}"


class _GateT(torch.autograd.Function):
    """The gate on feature-major inputs with its scalars first, as one autograd node written
    straight into its output (the recorded version is a split, a product per run of parts and a
    concatenation, each with its own node). Double backward replays the recorded version."""

    @staticmethod
    def forward(
        ctx: Any,
        recorded: Callable[[Tensor], Tensor],
        layout: tuple[int, int, int, tuple[tuple[int, int, int, int, int], ...]],
        xt: Tensor,
    ) -> Tensor:
        k, first_gate, gates, runs = layout
        batch = xt.shape[1]
        out = xt.new_empty(k + sum(m * d for m, d, *_ in runs), batch)
        torch.ops.aten.silu.out(xt[:k], out=out[:k])
        sig = torch.sigmoid(xt[first_gate : first_gate + gates])
        for m, d, row_in, row_out, gate in runs:
            values = xt[row_in : row_in + m * d].view(m, d, batch)
            target = out[row_out : row_out + m * d].view(m, d, batch)
            torch.mul(values, sig[gate : gate + m, None], out=target)
        ctx.recorded, ctx.layout = recorded, layout
        ctx.save_for_backward(xt, sig)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        xt, sig = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: differentiate the recorded version
            with torch.enable_grad():
                (g,) = torch.autograd.grad(ctx.recorded(xt), xt, grad, create_graph=True)
            return None, None, g
        k, first_gate, gates, runs = ctx.layout
        batch = xt.shape[1]
        grad = grad.contiguous()
        gx = torch.empty_like(xt)
        gx[:k] = torch.ops.aten.silu_backward(grad[:k], xt[:k])
        g_sig = sig.new_empty(sig.shape)
        for m, d, row_in, row_out, gate in runs:
            values = xt[row_in : row_in + m * d].view(m, d, batch)
            g_out = grad[row_out : row_out + m * d].view(m, d, batch)
            torch.mul(
                g_out, sig[gate : gate + m, None], out=gx[row_in : row_in + m * d].view(m, d, batch)
            )
            torch.sum(g_out * values, 1, out=g_sig[gate : gate + m])
        gx[first_gate : first_gate + gates] = torch.ops.aten.sigmoid_backward(g_sig, sig)
        return None, None, gx


class NormNonlinearity(nn.Module):
    """Norm nonlinearity: each non-scalar part ``v`` becomes ``v · sigmoid(‖v‖ + β)`` with a
    learnable bias β per part; scalars go through SiLU.

    Equivariant for any orthogonal rep, since ‖ρ(g)v‖ = ‖v‖.

    Args:
        rep: the representation of inputs and outputs.

    Shapes:
        ``[..., rep.dim] → [..., rep.dim]``.

    Example:
        >>> from symml.groups import Dihedral
        >>> from symml.reps import regular
        >>> NormNonlinearity(2 * regular(Dihedral(4)))(torch.randn(3, 16)).shape
        torch.Size([3, 16])
    """

    _scalar: Tensor
    _part_of: Tensor

    def __init__(self, rep: Rep) -> None:
        super().__init__()
        self.rep_in = self.rep_out = check_rep(rep, "NormNonlinearity")
        self.group = rep.group
        part_of, scalar = _coordinate_parts(rep)
        self.register_buffer("_part_of", part_of, persistent=False)
        self.register_buffer("_scalar", scalar, persistent=False)
        self.bias = nn.Parameter(torch.zeros(len(parts(rep))))

    def forward(self, x: Tensor) -> Tensor:
        _check_width(x, self.rep_in, "NormNonlinearity")
        squares = x.new_zeros(*x.shape[:-1], len(self.bias)).index_add(-1, self._part_of, x * x)
        # the ε keeps the gradient of ‖v‖ finite at v = 0; ‖·‖ stays invariant
        norms = (squares + torch.finfo(x.dtype).tiny).sqrt()
        scale = torch.sigmoid(norms + self.bias).index_select(-1, self._part_of)
        return torch.where(self._scalar, nn.functional.silu(x), x * scale)

    def extra_repr(self) -> str:
        return f"rep={self.rep_out}"


class PointwiseNonlinearity(nn.Module):
    """An elementwise function, equivariant for permutation representations (regular, quotient,
    trivial and their sums): permuting coordinates commutes with acting on each coordinate.

    Args:
        rep: a permutation representation (``rep.is_permutation``).
        function: the elementwise function (default ReLU).

    Shapes:
        ``[..., rep.dim] → [..., rep.dim]``.

    Example:
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> PointwiseNonlinearity(regular(Cyclic(4)))(torch.tensor([[-1.0, 2.0, -3.0, 4.0]]))
        tensor([[0., 2., 0., 4.]])
    """

    def __init__(self, rep: Rep, function: Callable[[Tensor], Tensor] = torch.relu) -> None:
        super().__init__()
        check_rep(rep, "PointwiseNonlinearity")
        if not callable(function):
            raise TypeError(
                f"PointwiseNonlinearity: expected function to be callable, e.g. torch.relu (got "
                f"{type(function).__name__} {function!r})"
            )
        if not rep.is_permutation:
            raise ValueError(
                f"PointwiseNonlinearity: {rep} is not a permutation representation, so an "
                "elementwise function would break equivariance; use GatedNonlinearity or "
                "NormNonlinearity, or regular/quotient fields"
            )
        self.rep_in = self.rep_out = rep
        self.group = rep.group
        self.function = function

    def forward(self, x: Tensor) -> Tensor:
        _check_width(x, self.rep_in, "PointwiseNonlinearity")
        return self.function(x)
