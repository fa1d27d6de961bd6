"""Steerable convolution between any fields of C_N, D_N, SO(2), O(2), on escnn's kernel bases
(Weiler & Cesa 2019, https://arxiv.org/abs/1911.08251)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symml.nn.cnn import _escnn, _escnn_cg
from symml.nn.cnn._bank_cache import CachedFilterBank
from symml.nn.cnn._fields import PLANAR, fibre_of
from symml.nn.cnn.geometry import ConvGeometry
from symml.reps import GridRep, Rep


class SteerableConv2d(CachedFilterBank):
    """G-steerable convolution ``K ⋆ f`` with ``K(gx) = ρ_out(g) K(x) ρ_in(g)ᵀ`` (escnn R2Conv).

    Equivariance: ``conv(g·f) = g·conv(f)`` for ``(g·f)(x) = ρ(g) f(g⁻¹x)``: exact on the pixel
    grid for rotations by multiples of 90° and the flip ``(x, y) ↦ (x, -y)`` (up to the
    discretisation of the kernel basis, ~1e-6 in float32), approximate for other angles.

    The fields are the summands of ``rep_in`` / ``rep_out`` (any symml reps of Cyclic(N),
    Dihedral(N), SO2() or O2(), converted with `symml.reps.to_escnn`). The kernel basis is
    escnn's (``R2Conv`` with its default rings, widths and frequency cut-off; for D_N and O(2) the
    gspace ``flipRot2dOnR2(N, axis=0)``, matching symml's flip), sampled once per pair of fields
    and kernel size and memoised; ``weight`` is laid out exactly as ``R2Conv.weights``, so
    copying it into an R2Conv built from the same field types gives the same function. Weights
    are initialised like ``escnn.nn.init.generalized_he_init`` (vectorised).

    Args:
        rep_in: input fibre (a `Rep` or `GridRep`).
        rep_out: output fibre.
        kernel_size: side of the square kernel, or a whole `ConvGeometry` (stride, dilation,
            padding mode).
        padding: zero padding on every side, with an integer ``kernel_size``.
        bias: learn a bias on each trivial irrep of the output.

    Raises:
        ImportError: escnn is missing (install ``symml[steerable]``).
        ValueError: a group escnn cannot do, or fields of different groups.

    Shapes: ``[B, rep_in.dim, H, W] -> [B, rep_out.dim, H', W']``.

    Example:
        >>> import torch
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular, trivial
        >>> from symml.testing import equivariance_error
        >>> G = Cyclic(8)
        >>> conv = SteerableConv2d(trivial(G), 2 * regular(G), kernel_size=5, padding=2)
        >>> conv(torch.randn(1, 1, 15, 15)).shape
        torch.Size([1, 16, 15, 15])
        >>> equivariance_error(conv)["output"] < 1e-4
        True
    """

    bias_basis: Tensor | None

    def __init__(
        self,
        rep_in: Rep | GridRep,
        rep_out: Rep | GridRep,
        kernel_size: int | ConvGeometry,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.geometry = g = ConvGeometry.of(kernel_size, padding, owner)
        fibre_in, fibre_out = fibre_of(rep_in, owner), fibre_of(rep_out, owner)
        if fibre_in.group != fibre_out.group:
            raise ValueError(
                f"{owner}: rep_in is a rep of {fibre_in.group!r} but rep_out of "
                f"{fibre_out.group!r}; expected one group"
            )
        if not isinstance(fibre_in.group, PLANAR):
            raise ValueError(
                f"{owner}: escnn's planar steerable kernels exist for Cyclic(N), Dihedral(N), "
                f"SO2() and O2() (got reps of {fibre_in.group!r})"
            )
        self.group = fibre_in.group
        self.rep_in, self.rep_out = GridRep(fibre_in), GridRep(fibre_out)
        self.in_channels, self.out_channels = fibre_in.dim, fibre_out.dim
        # CachedFilterBank's forward and export read the geometry as these attributes
        self.kernel_size, self.stride, self.padding = g.kernel_size, g.stride, g.padding
        self.dilation, self.padding_mode = g.dilation, g.padding_mode
        blocks = _escnn.layer_blocks(fibre_in, fibre_out, g.kernel_size, g.dilation)
        if not blocks:
            raise ValueError(
                f"{owner}: no equivariant kernel maps {fibre_in} to {fibre_out} at kernel size "
                f"{g.kernel_size}; use a larger kernel or other fields"
            )
        self._blocks = [(b.start, b.size, b.n_out, b.n_in) for b in blocks]
        for i, b in enumerate(blocks):
            # the sampled bases are shared by every layer with the same field pair (memoised);
            # buffers, so .to()/.double() move them, non-persistent: state_dict holds weights only
            self.register_buffer(f"basis_{i}", b.basis.sampled, persistent=False)
            self.register_buffer(f"in_index_{i}", b.in_channels, persistent=False)
            self.register_buffer(f"out_index_{i}", b.out_channels, persistent=False)
            self.register_buffer(f"he_std_{i}", b.std, persistent=False)
        self._single = len(blocks) == 1 and _covers(blocks[0], fibre_in, fibre_out)
        self.weight = nn.Parameter(torch.empty(blocks[-1].start + blocks[-1].size))
        basis = _escnn.bias_basis(fibre_out) if bias else None
        self.register_buffer(
            "bias_basis",
            None if basis is None else basis.to(torch.get_default_dtype()),
            persistent=False,
        )
        self.bias = None if basis is None else nn.Parameter(torch.zeros(basis.shape[1]))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """escnn's generalised He initialisation (same draws from the same random state); zero
        bias."""
        with torch.no_grad():
            # one draw for the whole vector, then scaled per basis element: escnn's order
            noise = torch.randn(self.weight.shape, generator=generator, dtype=self.weight.dtype)
            for i, (start, size, n_out, n_in) in enumerate(self._blocks):
                std: Tensor = getattr(self, f"he_std_{i}")
                noise[start : start + size].view(n_out * n_in, -1).mul_(std.to(noise))
            self.weight.copy_(noise)
            if self.bias is not None:
                self.bias.zero_()

    def _expand(self) -> tuple[Tensor, Tensor | None]:
        k = self.kernel_size
        pieces = []
        for i, (start, size, n_out, n_in) in enumerate(self._blocks):
            basis: Tensor = getattr(self, f"basis_{i}")
            coeffs = self.weight[start : start + size].reshape(n_out, n_in, -1)
            # [out fields, in fields, D] x [D, d_out, d_in, k*k] -> [out, d_out, in, d_in, k*k]
            piece = torch.einsum("abd,doip->aobip", coeffs, basis.to(self.weight.dtype))
            pieces.append(piece.reshape(n_out * basis.shape[1], n_in * basis.shape[2], k * k))
        if self._single:
            bank = pieces[0]
        else:
            bank = self.weight.new_zeros(self.out_channels, self.in_channels, k * k)
            for i, piece in enumerate(pieces):
                rows = getattr(self, f"out_index_{i}")[:, None]
                cols = getattr(self, f"in_index_{i}")[None, :]
                bank = bank.index_put((rows, cols), piece)
        bias = None
        if self.bias is not None and self.bias_basis is not None:
            bias = self.bias_basis.to(self.bias.dtype) @ self.bias
        return bank.reshape(self.out_channels, self.in_channels, k, k), bias

    def to_escnn(self) -> nn.Module:
        """An escnn ``R2Conv`` with this layer's field types and weights (same function)."""
        enn = _escnn.import_escnn(type(self).__name__)
        g = self.geometry
        with _escnn_cg.solvers():
            conv = enn.R2Conv(
                _escnn.field_type(self.rep_in.fibre),
                _escnn.field_type(self.rep_out.fibre),
                g.kernel_size,
                padding=g.padding,
                stride=g.stride,
                dilation=g.dilation,
                padding_mode=g.padding_mode,
                bias=self.bias is not None,
                initialize=False,
            )
        with torch.no_grad():
            conv.weights.copy_(self.weight)
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    def extra_repr(self) -> str:
        return (
            f"{self.rep_in.fibre} -> {self.rep_out.fibre}, {self.geometry.describe()}, "
            f"weights={self.weight.numel()}"
        )


def _covers(block: _escnn.Block, rep_in: Rep, rep_out: Rep) -> bool:
    """Whether one block fills the whole bank in order (every field of both sides is one type)."""
    return block.n_in * block.field_in.dim == rep_in.dim and (
        block.n_out * block.field_out.dim == rep_out.dim
    )
