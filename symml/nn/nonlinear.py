"""Equivariant nonlinearities on vector features and image fields: pointwise, norm and gated.

One family, one convention:

- **Layout.** A `Rep` types vector features ``[..., rep.dim]`` (features last); a `GridRep`
  types image fields ``[B, rep.channels, H, W]`` (channels at dim 1). The map is the same, taken
  along the feature axis; ``rep_in`` / ``rep_out`` have the kind of ``rep``.
- **Fields** are the direct-sum parts of the representation.
- **Activation** σ is named by a string from `ACTIVATIONS` (config-friendly, picklable, and
  exported as the torch module of that name).
- **Norm formula:** ``f ↦ f · σ(‖f‖ + b) / ‖f‖`` on every field (Weiler & Cesa's norm-ReLU for
  σ = relu), one learned bias ``b`` per field.
- **Gates come first:** `GatedNonlinearity` takes ``gated(rep) = F·trivial + rep``, gate ``i``
  for the ``i``-th non-scalar field; scalar fields go through σ. When ``rep``'s scalars come first
  (as `symml.models.emlp.uniform_rep` builds them), gates and scalars form one block of trivial
  coordinates, which the layers around use without copies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import overload

import torch
from torch import Tensor, nn

from symml.nn._checks import check_choice
from symml.nn._kernels.gate import GateLayout, fused_gate
from symml.nn._types import is_trivial, parts
from symml.nn.cnn._fields import check_images
from symml.nn.cnn.export import traced
from symml.reps import GridRep, Rep, trivial

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}
_NORM_EPS = 1e-6  # ‖f‖ below this divides as 1e-6: the direction of f is then undefined


def _activation(name: object, owner: str, argument: str = "activation") -> nn.Module:
    if not isinstance(name, str):
        raise TypeError(
            f"{owner}: expected {argument} as a name in {list(ACTIVATIONS)} (got "
            f"{type(name).__name__} {name!r}); pass the name, e.g. {argument}='relu'"
        )
    return ACTIVATIONS[check_choice(name, tuple(ACTIVATIONS), owner, argument)]()


def _fibre(rep: object, owner: str) -> tuple[Rep, int]:
    """The fibre of ``rep`` and the number of axes after its feature axis (0 vectors, 2 images)."""
    if isinstance(rep, GridRep):
        return rep.fibre, 2
    if isinstance(rep, Rep):
        return rep, 0
    raise TypeError(
        f"{owner}: expected rep to be a symml Rep (vector features), e.g. 2 * standard(O(3)), "
        f"or a GridRep (image fields) (got {type(rep).__name__} {rep!r})"
    )


def _typed(fibre: Rep, trail: int) -> Rep | GridRep:
    return GridRep(fibre) if trail else fibre


def _check_input(x: Tensor, rep: Rep | GridRep, owner: str) -> None:
    if isinstance(rep, GridRep):
        check_images(x, rep.channels, owner)
    elif not isinstance(x, Tensor) or x.dim() == 0 or x.shape[-1] != rep.dim:
        got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: expected inputs [..., {rep.dim}] for {rep} (got {got})")


@overload
def gated(rep: Rep) -> Rep: ...
@overload
def gated(rep: GridRep) -> GridRep: ...
def gated(rep: Rep | GridRep) -> Rep | GridRep:
    """The input type of ``GatedNonlinearity(rep)``: one trivial gate per non-scalar field of
    ``rep``, first, then ``rep`` (``rep`` itself when it has only scalars).

    Example:
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> gated(2 * standard(O(3)) + trivial(O(3))).dim  # 7 + one gate per vector
        9
    """
    fibre, trail = _fibre(rep, "gated")
    gates = sum(not is_trivial(p) for p in parts(fibre))
    return _typed(gates * trivial(fibre.group) + fibre, trail) if gates else rep


class _Nonlinearity(nn.Module):
    """What the family shares: the fibre, the layout, the activation σ and the input check."""

    rep_in: Rep | GridRep
    rep_out: Rep | GridRep

    def __init__(self, rep: Rep | GridRep, activation: str) -> None:
        super().__init__()
        self.fibre, self.trail = _fibre(rep, type(self).__name__)
        self.group = self.fibre.group
        self.rep_in = self.rep_out = _typed(self.fibre, self.trail)
        self.activation = activation
        self.function = _activation(activation, type(self).__name__)

    def extra_repr(self) -> str:
        return f"{self.rep_out}, activation={self.activation!r}"


class PointwiseNonlinearity(_Nonlinearity):
    """σ on every coordinate, for permutation fields (regular, quotient, trivial): permuting
    coordinates commutes with σ, so ``σ(ρ(g) f) = ρ(g) σ(f)``.

    Args:
        rep: the fields, a `Rep` (vectors) or `GridRep` (images) of permutation reps.
        activation: σ, a name in `ACTIVATIONS` (default ``"relu"``).

    Shapes:
        ``[..., rep.dim] → [..., rep.dim]`` (Rep); ``[B, C, H, W] → [B, C, H, W]`` (GridRep).

    Example:
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> PointwiseNonlinearity(regular(Cyclic(4)))(torch.tensor([[-1.0, 2.0, -3.0, 4.0]]))
        tensor([[0., 2., 0., 4.]])
    """

    def __init__(self, rep: Rep | GridRep, activation: str = "relu") -> None:
        super().__init__(rep, activation)
        bad = [p for p in parts(self.fibre) if not p.is_permutation]
        if bad:
            raise ValueError(
                f"PointwiseNonlinearity: expected permutation fields (regular, quotient, "
                f"trivial), with which an elementwise function commutes (got {bad[0]}); use "
                "NormNonlinearity or GatedNonlinearity for such fields"
            )

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.rep_in, "PointwiseNonlinearity")
        out: Tensor = self.function(x)
        return out

    def export(self) -> nn.Module:
        """The torch module of σ (same function)."""
        return ACTIVATIONS[self.activation]()


def _norm(
    x: Tensor, part_of: Tensor, fields: int, bias: Tensor | None, function: nn.Module, trail: int
) -> Tensor:
    """``f · σ(‖f‖ + b) / ‖f‖`` on each of the ``fields`` fields along the feature axis (torch
    operations only, so it traces for export)."""
    axis = -1 - trail
    # zeros shaped like x with one entry per field on the feature axis (F <= C), without reading
    # x.shape, which torch.fx cannot unpack
    squares = torch.zeros_like(x.narrow(axis, 0, fields)).index_add(axis, part_of, x * x)
    # ‖f‖ with a zero gradient at f = 0 (sqrt's is infinite there) in every dtype: the square
    # root only sees positive numbers, and the outer where routes no gradient to the inner one
    positive = squares > 0
    norm = torch.where(positive, torch.where(positive, squares, 1.0).sqrt(), 0.0)
    shifted = norm if bias is None else norm + bias.view(-1, *(1,) * trail)
    scale = function(shifted) / norm.clamp_min(_NORM_EPS)
    return x * scale.index_select(axis, part_of)


def _norm_layer(layer: NormNonlinearity | _NormExport, x: Tensor) -> Tensor:
    """`NormNonlinearity`'s map (shared with its export): the norm on every field, then, with
    ``scalars``, σ_s on the trivial fields' coordinates instead."""
    bias: Tensor | None = layer.bias
    if bias is not None and layer.scalar_function is not None:  # the scalar fields have none
        bias = bias.new_zeros(layer.fields).index_copy(0, layer.normed, bias)
    out = _norm(x, layer.part_of, layer.fields, bias, layer.function, layer.trail)
    if layer.scalar_function is None:
        return out
    mask = layer.scalar_coord.view(-1, *(1,) * layer.trail)
    return torch.where(mask, layer.scalar_function(x), out)


class _NormExport(nn.Module):
    """The exported form of `NormNonlinearity`: the same function, plain torch operations."""

    part_of: Tensor
    normed: Tensor
    scalar_coord: Tensor

    def __init__(self, layer: NormNonlinearity) -> None:
        super().__init__()
        for name in ("part_of", "normed", "scalar_coord"):
            self.register_buffer(name, getattr(layer, name).clone())
        self.fields = layer.fields
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone())
        self.function = ACTIVATIONS[layer.activation]()
        scalars = layer.scalar_activation
        self.scalar_function = None if scalars is None else ACTIVATIONS[scalars]()
        self.trail = layer.trail

    def forward(self, x: Tensor) -> Tensor:
        return _norm_layer(self, x)


class NormNonlinearity(_Nonlinearity):
    """Norm nonlinearity ``f ↦ f · σ(‖f‖ + b) / ‖f‖`` on every field ``f`` (scalars included),
    with one learned bias ``b`` per field (zero at start); σ = relu is the norm-ReLU of
    Weiler & Cesa 2019. With ``scalars``, the trivial fields go through that pointwise
    activation instead (and have no bias), as in Weiler & Cesa's SO(2) models (ELU on the
    frequency-0 fields, norm-ReLU on the others).

    Equivariant for any orthogonal rep: ``‖ρ(g)f‖ = ‖f‖``, so the scale is invariant; a trivial
    field is fixed by every g, so any pointwise σ_s on it is too.

    Args:
        rep: the fields, a `Rep` (vectors) or `GridRep` (images), any orthogonal reps.
        activation: σ, a name in `ACTIVATIONS` (default ``"relu"``).
        bias: learn ``b`` (otherwise ``b = 0``).
        scalars: σ_s for the trivial fields (a name in `ACTIVATIONS`), or None (the norm on
            every field).

    Shapes:
        ``[..., rep.dim] → [..., rep.dim]`` (Rep); ``[B, C, H, W] → [B, C, H, W]`` (GridRep).

    Example:
        >>> from symml.groups import SO2
        >>> from symml.reps import GridRep, irrep
        >>> act = NormNonlinearity(GridRep(irrep(SO2(), 1)))
        >>> with torch.no_grad():  # ‖f‖ = 5: relu(5 + 0) / 5 = 1
        ...     act(torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)).flatten()
        tensor([3., 4.])
    """

    part_of: Tensor
    normed: Tensor
    scalar_coord: Tensor

    def __init__(
        self,
        rep: Rep | GridRep,
        activation: str = "relu",
        bias: bool = True,
        scalars: str | None = None,
    ) -> None:
        super().__init__(rep, activation)
        fields = parts(self.fibre)
        part_of = torch.cat([torch.full((p.dim,), i) for i, p in enumerate(fields)])
        self.register_buffer("part_of", part_of, persistent=False)
        self.fields = len(fields)
        self.scalar_activation = scalars
        owner = type(self).__name__
        self.scalar_function = None if scalars is None else _activation(scalars, owner, "scalars")
        pointwise = torch.tensor([scalars is not None and is_trivial(p) for p in fields])
        self.register_buffer("scalar_coord", pointwise[part_of], persistent=False)
        self.register_buffer("normed", (~pointwise).nonzero().flatten(), persistent=False)
        self.bias = nn.Parameter(torch.zeros(len(self.normed))) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.rep_in, "NormNonlinearity")
        return _norm_layer(self, x)

    def extra_repr(self) -> str:
        scalars = "" if self.scalar_activation is None else f", scalars={self.scalar_activation!r}"
        return super().extra_repr() + scalars

    def export(self) -> nn.Module:
        """A `torch.fx.GraphModule` of torch operations computing the same function."""
        return traced(_NormExport(self))


class _Gate(nn.Module):
    """The gate as plain torch operations along the feature axis (the reference, and the module
    that export traces)."""

    scalar: Tensor
    gate_of: Tensor

    def __init__(self, fibre: Rep, function: nn.Module, trail: int) -> None:
        super().__init__()
        fields = parts(fibre)
        scalar = [is_trivial(p) for p in fields]
        self.gates, self.width = len(scalar) - sum(scalar), fibre.dim
        self.function, self.trail = function, trail
        # per coordinate: whether its field is scalar, and the gate of its field (gates are
        # numbered over the non-scalar fields in order)
        number = torch.cumsum(~torch.tensor(scalar), 0) - 1
        owner = torch.cat([torch.full((p.dim,), i) for i, p in enumerate(fields)])
        self.register_buffer("scalar", torch.tensor(scalar)[owner], persistent=False)
        self.register_buffer("gate_of", number[owner].clamp(min=0), persistent=False)
        # scalars first (k of them), then runs of equal-dimension fields: each run is scaled by
        # its gates broadcast over the field, which avoids the index_select (whose backward is an
        # index_add, several times slower) and the where of the general layout
        k = next((i for i, s in enumerate(scalar) if not s), len(scalar))
        self.scalars = -1 if any(scalar[k:]) else k
        self.runs: list[tuple[int, int]] = []  # (fields, dimension) after the scalars
        for p in fields[k:] if self.scalars >= 0 else []:
            if self.runs and self.runs[-1][1] == p.dim:
                self.runs[-1] = (self.runs[-1][0] + 1, p.dim)
            else:
                self.runs.append((1, p.dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.along(x, self.trail)

    def along(self, x: Tensor, trail: int) -> Tensor:
        """The gate along the axis ``-1 - trail`` of ``x``."""
        if not self.gates:
            out: Tensor = self.function(x)
            return out
        axis = -1 - trail
        if self.scalars < 0:  # scalars anywhere: gate every coordinate, then pick
            gates, values = x.split([self.gates, self.width], axis)
            gated_values = values * torch.sigmoid(gates).index_select(axis, self.gate_of)
            scalar = self.scalar.view(-1, *(1,) * trail)
            return torch.where(scalar, self.function(values), gated_values)
        # split, not slicing: each slice's backward would zero-fill a gradient of x's size
        sizes = [self.gates, self.scalars, *(m * d for m, d in self.runs)]
        pieces = x.split(sizes, axis)
        run_gates = torch.sigmoid(pieces[0]).split([m for m, _ in self.runs], axis)
        out_pieces = [self.function(pieces[1])]
        for i, (m, d) in enumerate(self.runs):  # [..., m·d, *trail] as [..., m, d, *trail]
            scaled = pieces[2 + i].unflatten(axis, (m, d)) * run_gates[i].unsqueeze(axis)
            out_pieces.append(scaled.flatten(axis - 1, axis))
        return torch.cat(out_pieces, axis)


class GatedNonlinearity(_Nonlinearity):
    """Gated nonlinearity (Weiler et al. 2018; emlp): every non-scalar field ``f_i`` becomes
    ``f_i · sigmoid(s_i)`` with its own invariant gate ``s_i``; scalar fields go through σ.

    The gates come first: the input is ``gated(rep) = F·trivial + rep`` (``F`` non-scalar
    fields; ``rep`` when there are none), produced by a linear layer or convolution whose output
    type is ``gated(rep)``. Equivariant for any orthogonal rep: the gates are invariant, so
    ``sigmoid(s)·ρ(g)f = ρ(g)(sigmoid(s)·f)``.

    Args:
        rep: the output fields, a `Rep` (vectors) or `GridRep` (images), any orthogonal reps.
        activation: σ on the scalar fields, a name in `ACTIVATIONS` (default ``"silu"``).

    Shapes:
        ``[..., gated(rep).dim] → [..., rep.dim]`` (Rep); ``[B, F + C, H, W] → [B, C, H, W]``.

    Example:
        >>> from symml.groups import SO
        >>> from symml.reps import standard
        >>> act = GatedNonlinearity(3 * standard(SO(3)))
        >>> act(torch.randn(2, 12)).shape
        torch.Size([2, 9])
    """

    def __init__(self, rep: Rep | GridRep, activation: str = "silu") -> None:
        super().__init__(rep, activation)
        self.rep_in = gated(self.rep_out)
        self.gate = _Gate(self.fibre, self.function, self.trail)
        runs = tuple(self.gate.runs)
        fusable = bool(self.gate.gates) and self.gate.scalars >= 0 and activation == "silu"
        # the fused kernel's hand-written backward knows SiLU's derivative only
        self._layout: GateLayout | None = (
            GateLayout(self.gate.gates, self.gate.scalars, runs) if fusable else None
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.rep_in, "GatedNonlinearity")
        out: Tensor = self.gate(x)
        return out

    def forward_t(self, xt: Tensor) -> Tensor:
        """The same map on feature-major vectors: ``[gated(rep).dim, B] → [rep.dim, B]`` (one
        autograd node when ``rep``'s scalars come first and σ is SiLU: `EMLP`'s hot path)."""
        if self._layout is not None:
            return fused_gate(xt, self._layout, self.reference_t)
        return self.reference_t(xt)

    def reference_t(self, xt: Tensor) -> Tensor:
        """`forward_t` as recorded torch operations: the fused kernel's reference."""
        return self.gate.along(xt, 1)

    def export(self) -> nn.Module:
        """A `torch.fx.GraphModule` of torch operations computing the same function."""
        return traced(copy.deepcopy(self.gate))
