"""Group convolution between regular fields of C_N / D_N on the pixel grid (Cohen & Welling 2016).

`GroupConv2d` maps regular fields to regular fields; `LiftingConv2d` (in ``lifting.py``) maps
scalar images to regular fields. Both are one ``conv2d`` with a filter bank built by
`FilterExpansion` (one gather), cached in eval mode.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from symml.groups import FiniteGroup, Group
from symml.nn.cnn._bank_cache import CachedFilterBank
from symml.nn.cnn._fields import check_positive, point_group, regular_fields, regular_grid
from symml.nn.cnn.expansion import FilterExpansion
from symml.nn.cnn.geometry import ConvGeometry
from symml.reps import GridRep


class _RegularConv(CachedFilterBank):
    """Shared machinery: parameters, expansion, padding, forward, export."""

    rep_in: GridRep
    rep_out: GridRep
    group: FiniteGroup

    def __init__(
        self,
        group: Group | str,
        in_channels: int,
        out_channels: int,
        geometry: ConvGeometry,
        *,
        lifting: bool,
        bias: bool,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        point = point_group(group, owner)
        assert isinstance(point, FiniteGroup)  # point_group(finite=True) returns C_N / D_N
        self.group = point
        if lifting:
            in_fields = check_positive(in_channels, owner, "in_channels")
        else:
            in_fields = regular_fields(point, in_channels, owner, "in_channels")
        out_fields = regular_fields(point, out_channels, owner, "out_channels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_fields, self.out_fields = in_fields, out_fields
        self.geometry = g = geometry
        # CachedFilterBank's forward and export read the geometry as these attributes
        self.kernel_size, self.stride, self.padding = g.kernel_size, g.stride, g.padding
        self.dilation, self.padding_mode = g.dilation, g.padding_mode
        self.expansion = FilterExpansion(point, in_fields, geometry.kernel_size, lifting=lifting)
        self.weight = nn.Parameter(torch.empty(out_fields, *self.expansion.weight_shape))
        self.bias = nn.Parameter(torch.empty(out_fields)) if bias else None
        self.reset_parameters()

    @property
    def exact(self) -> bool:
        """Whether the layer is exactly equivariant on the pixel grid (C1, C2, C4, D1, D2, D4)."""
        return self.expansion.exact

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Uniform ±1/√fan_in like `torch.nn.Conv2d`, with fan_in the free coefficients per
        output field."""
        bound = 1.0 / math.sqrt(self.expansion.fan_in)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound, generator=generator)

    def _expand(self) -> tuple[Tensor, Tensor | None]:
        bank = self.expansion(self.weight)
        bias = None if self.bias is None else self.bias.repeat_interleave(self.group.order)
        return bank, bias

    def extra_repr(self) -> str:
        s = f"{self.group!r}, {self.in_channels}, {self.out_channels}, {self.geometry.describe()}"
        if self.bias is None:
            s += ", bias=False"
        if not self.exact:
            s += ", approximate"
        return s


class GroupConv2d(_RegularConv):
    """Group convolution from regular fields to regular fields of a planar group G.

    Equivariance: ``conv(g·f) = g·conv(f)`` for ``g`` in ``Z² ⋊ G`` acting on regular fields by
    ``(g·f)(x, k) = f(g⁻¹x, g⁻¹k)``: exact for C1, C2, C4, D1, D2, D4 (p4 = Z² ⋊ C4,
    p4m = Z² ⋊ D4) — translations exactly with ``padding_mode="circular"`` (or away from the
    border), rotations of square inputs whose output grid is centred (``(H + 2p - d(k-1) - 1)``
    divisible by the stride). Other N are approximately equivariant: their filters live in a
    steerable basis and are rotated exactly, but rotating an image by such an angle interpolates.

    Channels are regular fields laid out field-major: channel ``i·|G| + k`` is field ``i`` at
    group element ``k`` (``G.elements()`` order), i.e. ``rep = regular(G) * fields``. The bias
    is one number per output field, shared over the group (the trivial part only).

    Args:
        group: C_N, D_N, p4 or p4m (or a name: ``"C4"``, ``"p4m"``, ...).
        in_channels: input channels, a multiple of |G|.
        out_channels: output channels, a multiple of |G|.
        kernel_size: side of the square kernel, or a whole `ConvGeometry` (stride, dilation,
            ``padding_mode="circular"``: the grid as a torus).
        padding: zero (or circular) padding on every side, with an integer ``kernel_size``.
        bias: learn one bias per output field.

    Attributes:
        rep_in, rep_out: ``GridRep(regular(G) * fields)``; group: the point group G.

    Shapes: ``[B, in_channels, H, W] -> [B, out_channels, H', W']``.

    Example:
        >>> import torch
        >>> from symml.testing import equivariance_error
        >>> conv = GroupConv2d("p4", 8, 12, kernel_size=3, padding=1)
        >>> conv(torch.randn(2, 8, 9, 9)).shape
        torch.Size([2, 12, 9, 9])
        >>> equivariance_error(conv)["output"] < 1e-5
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
        geometry = ConvGeometry.of(kernel_size, padding, "GroupConv2d")
        super().__init__(group, in_channels, out_channels, geometry, lifting=False, bias=bias)
        self.rep_in = regular_grid(self.group, self.in_fields)
        self.rep_out = regular_grid(self.group, self.out_fields)
