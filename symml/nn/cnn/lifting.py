"""Lifting convolution: scalar images on Z² → regular fields of C_N / D_N (Cohen & Welling 2016)."""

from __future__ import annotations

from symml.groups import Group
from symml.nn.cnn._fields import regular_grid, trivial_grid
from symml.nn.cnn.geometry import ConvGeometry
from symml.nn.cnn.group_conv import _RegularConv


class LiftingConv2d(_RegularConv):
    """Lifting convolution ``Z² → Z² ⋊ G``: correlate the input with every transformed filter.

    ``out(x, h) = Σ_y (h·ψ)(y - x) f(y)``, one output channel per (field, group element), so
    ``conv(g·f) = g·conv(f)`` with scalars ``(g·f)(x) = f(g⁻¹x)`` on the input and regular fields
    on the output. Exact on the pixel grid for C1, C2, C4, D1, D2, D4 (p4, p4m); for other N the
    filters are rotated exactly in a steerable basis and the layer is approximately equivariant.
    The geometry (padding, stride, ...), bias and channel layout are as in `GroupConv2d`.

    Args:
        group: C_N, D_N, p4 or p4m (or a name).
        in_channels: input channels, each a scalar (trivial) field.
        out_channels: output channels, a multiple of |G|.
        kernel_size, padding, bias: as in `GroupConv2d` (``kernel_size`` may be a `ConvGeometry`).

    Attributes:
        rep_in: ``GridRep(trivial(G) * in_channels)``; rep_out: ``GridRep(regular(G) * fields)``.

    Shapes: ``[B, in_channels, H, W] -> [B, out_channels, H', W']``.

    Example:
        >>> import torch
        >>> from symml.testing import equivariance_error
        >>> lift = LiftingConv2d("p4m", 1, 16, kernel_size=3)
        >>> lift(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 16, 26, 26])
        >>> equivariance_error(lift)["output"] < 1e-5
        True
    """

    def __init__(
        self,
        group: Group | str,
        in_channels: int,
        out_channels: int,
        kernel_size: int | ConvGeometry,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        geometry = ConvGeometry.of(kernel_size, padding, "LiftingConv2d")
        super().__init__(group, in_channels, out_channels, geometry, lifting=True, bias=bias)
        self.rep_in = trivial_grid(self.group, in_channels)
        self.rep_out = regular_grid(self.group, self.out_fields)
