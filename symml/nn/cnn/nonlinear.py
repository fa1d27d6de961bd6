"""Equivariant nonlinearities for image fields.

- `PointwiseNonlinearity`: any elementwise function, on permutation fields (regular, quotient,
  trivial), where it commutes with the group's permutation of channels.
- `NormNonlinearity`: ``f ↦ f · σ(|f| + b) / |f|`` per field, for any orthogonal fibre.
- `GatedNonlinearity`: ``f ↦ f · sigmoid(s)``, one learned invariant gate ``s`` per field.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from symml.nn.cnn._fields import check_choice, check_images, fibre_of, fields, runs
from symml.nn.cnn.export import traced
from symml.reps import GridRep, Rep, trivial

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}
_NORM_EPS = 1e-6  # |f| below this is treated as zero (the direction of f is then undefined)


def _activation(name: str, owner: str) -> nn.Module:
    return _ACTIVATIONS[check_choice(name, tuple(_ACTIVATIONS), owner, "nonlinearity")]()


class PointwiseNonlinearity(nn.Module):
    """An elementwise function on permutation fields: ``σ(ρ(g) f) = ρ(g) σ(f)``.

    Args:
        rep: the fibre; every field must be a permutation rep (``regular(G)``, quotient,
            trivial). Use `NormNonlinearity` or `GatedNonlinearity` for other fields.
        nonlinearity: one of ``relu, elu, gelu, silu, sigmoid, tanh, softplus``.

    Shapes: ``[B, rep.dim, H, W] -> [B, rep.dim, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import Dihedral
        >>> from symml.reps import regular
        >>> act = PointwiseNonlinearity(regular(Dihedral(4)), "elu")
        >>> act(-torch.ones(1, 8, 2, 2)).min() > -1
        tensor(True)
    """

    def __init__(self, rep: Rep | GridRep, nonlinearity: str = "relu") -> None:
        super().__init__()
        owner = type(self).__name__
        fibre = fibre_of(rep, owner)
        bad = [f for f in fields(fibre) if not f.is_permutation]
        if bad:
            raise ValueError(
                f"{owner}: an elementwise function commutes only with permutation fields "
                f"(regular, quotient, trivial); got {bad[0]}. Use NormNonlinearity or "
                "GatedNonlinearity for such fields"
            )
        self.group = fibre.group
        self.rep_in = self.rep_out = GridRep(fibre)
        self.nonlinearity = nonlinearity
        self.function = _activation(nonlinearity, owner)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return self.function(x)

    def export(self) -> nn.Module:
        return _ACTIVATIONS[self.nonlinearity]()

    def extra_repr(self) -> str:
        return f"{self.rep_in.fibre}, {self.nonlinearity!r}"


def _norm_scale(
    x: Tensor, field_runs: list[tuple[int, int, int]], function: nn.Module, bias: Tensor | None
) -> Tensor:
    """``f · σ(|f| + b) / |f|`` per field (torch operations only, so it traces for export)."""
    outs, first = [], 0
    for dim, copies, start in field_runs:
        block = x[:, start : start + dim * copies].unflatten(1, (copies, dim))
        norm = torch.linalg.vector_norm(block, dim=2, keepdim=True)
        shifted = norm
        if bias is not None:
            shifted = norm + bias[first : first + copies].view(1, copies, 1, 1, 1)
        scale = function(shifted) / norm.clamp_min(_NORM_EPS)
        outs.append((block * scale).flatten(1, 2))
        first += copies
    return outs[0] if len(outs) == 1 else torch.cat(outs, 1)


class _NormScale(nn.Module):
    """The exported form of `NormNonlinearity`."""

    def __init__(self, field_runs: list[tuple[int, int, int]], function: nn.Module) -> None:
        super().__init__()
        self.field_runs = field_runs
        self.function = function
        self.bias: nn.Parameter | None = None

    def forward(self, x: Tensor) -> Tensor:
        return _norm_scale(x, self.field_runs, self.function, self.bias)


class NormNonlinearity(nn.Module):
    """Norm nonlinearity: ``f ↦ f · σ(|f| + b) / |f|`` on each field (any orthogonal fibre).

    The norm is invariant and the direction ``f/|f|`` equivariant, so the layer is equivariant
    for every orthogonal field; ``b`` is one learned bias per field (zero at start).

    Args:
        rep: the fibre; its summands are the fields.
        nonlinearity: σ, one of ``relu, elu, gelu, silu, sigmoid, tanh, softplus``.
        bias: learn the bias ``b``.

    Shapes: ``[B, rep.dim, H, W] -> [B, rep.dim, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import SO2
        >>> from symml.reps import irrep
        >>> act = NormNonlinearity(irrep(SO2(), 1))
        >>> with torch.no_grad():  # |f| = 5: relu(5 + 0) / 5 = 1
        ...     act(torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)).flatten()
        tensor([3., 4.])
    """

    def __init__(self, rep: Rep | GridRep, nonlinearity: str = "relu", bias: bool = True) -> None:
        super().__init__()
        owner = type(self).__name__
        fibre = fibre_of(rep, owner)
        self.group = fibre.group
        self.rep_in = self.rep_out = GridRep(fibre)
        self.nonlinearity = nonlinearity
        self.bias = nn.Parameter(torch.zeros(len(fields(fibre)))) if bias else None
        self.function = _activation(nonlinearity, owner)
        self._runs = [(f.dim, copies, start) for f, copies, start in runs(fibre)]

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return _norm_scale(x, self._runs, self.function, self.bias)

    def export(self) -> nn.Module:
        exported = _NormScale(self._runs, _ACTIVATIONS[self.nonlinearity]())
        if self.bias is not None:
            exported.bias = nn.Parameter(self.bias.detach().clone())
        return traced(exported)


class _Gate(nn.Module):
    field_of_channel: Tensor

    def __init__(self, n_gates: int, dims: Tensor) -> None:
        super().__init__()
        self.n_gates = n_gates
        self.register_buffer("field_of_channel", dims)

    def forward(self, x: Tensor) -> Tensor:
        gates = torch.sigmoid(x[:, : self.n_gates])
        return x[:, self.n_gates :] * gates.index_select(1, self.field_of_channel)


class GatedNonlinearity(nn.Module):
    """Gated nonlinearity (Weiler et al. 2018): ``f_i ↦ f_i · sigmoid(s_i)``.

    The input is ``F`` invariant gates followed by the ``F`` gated fields (``rep_in =
    F * trivial(G) + rep``); the output is the gated fields (``rep_out = rep``). Produce the
    input with a convolution whose output type is ``gated.rep_in``.

    Args:
        rep: the gated fields (any orthogonal fibre).

    Shapes: ``[B, F + rep.dim, H, W] -> [B, rep.dim, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import SO2
        >>> from symml.reps import irrep
        >>> gate = GatedNonlinearity(2 * irrep(SO2(), 1))
        >>> gate.rep_in.channels, gate(torch.randn(1, 6, 3, 3)).shape
        (6, torch.Size([1, 4, 3, 3]))
    """

    def __init__(self, rep: Rep | GridRep) -> None:
        super().__init__()
        fibre = fibre_of(rep, type(self).__name__)
        parts = fields(fibre)
        self.group = fibre.group
        self.rep_in = GridRep(trivial(fibre.group) * len(parts) + fibre)
        self.rep_out = GridRep(fibre)
        owner = torch.cat([torch.full((f.dim,), i) for i, f in enumerate(parts)])
        self.gate = _Gate(len(parts), owner)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return self.gate(x)

    def export(self) -> nn.Module:
        return traced(_Gate(self.gate.n_gates, self.gate.field_of_channel.clone()))
