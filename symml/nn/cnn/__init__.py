"""Equivariant convolutional layers on the pixel grid (layer L2, ``symml.nn.cnn``).

- Group convolutions on regular fields of C_N / D_N (p4 = Z² ⋊ C4, p4m = Z² ⋊ D4):
  `LiftingConv2d`, `GroupConv2d`, built on `FilterExpansion` (one gather per forward).
- `SteerableConv2d`: any fields of C_N, D_N, SO(2), O(2) on escnn's kernel bases (the
  ``symml[steerable]`` extra, imported only when such a layer is built).
- `ConvGeometry`: kernel size, stride, padding, dilation and padding mode of any of them.
- Building blocks: `GroupPool`, `NormPool`, `SpatialMaxPool2d`, `SpatialAvgPool2d`,
  `InvariantPool`, `EquivariantBatchNorm`; the nonlinearities are `symml.nn`'s, typed with a
  `GridRep`. Chain them in `symml.nn.EquivariantSequential`, which checks the types.
- `export`: the same function as plain torch layers (`is_plain` checks it).

Example:
    >>> import torch
    >>> from symml.nn import EquivariantSequential
    >>> from symml.nn.cnn import GroupConv2d, InvariantPool, LiftingConv2d
    >>> lift, conv = LiftingConv2d("p4", 1, 8, 3), GroupConv2d("p4", 8, 12, 3)
    >>> net = EquivariantSequential(lift, conv, InvariantPool(conv.rep_out))
    >>> net(torch.randn(2, 1, 9, 9)).shape  # 3 invariant features per image
    torch.Size([2, 3])
"""

from symml.nn.cnn.batchnorm import EquivariantBatchNorm
from symml.nn.cnn.expansion import FilterExpansion
from symml.nn.cnn.export import export, is_plain
from symml.nn.cnn.geometry import ConvGeometry
from symml.nn.cnn.group_conv import GroupConv2d
from symml.nn.cnn.lifting import LiftingConv2d
from symml.nn.cnn.pooling import (
    GroupPool,
    InvariantPool,
    NormPool,
    SpatialAvgPool2d,
    SpatialMaxPool2d,
)
from symml.nn.cnn.steerable import SteerableConv2d

__all__ = [
    "ConvGeometry",
    "EquivariantBatchNorm",
    "FilterExpansion",
    "GroupConv2d",
    "GroupPool",
    "InvariantPool",
    "LiftingConv2d",
    "NormPool",
    "SpatialAvgPool2d",
    "SpatialMaxPool2d",
    "SteerableConv2d",
    "export",
    "is_plain",
]
