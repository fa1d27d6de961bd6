"""Pooling that keeps equivariance: over the group (→ invariants), over space, and to logits.

- `GroupPool`: max / mean over the channels of each permutation field (a regular field of C_N /
  D_N): ``[B, F·|G|, H, W] → [B, F, H, W]``, invariant fields.
- `NormPool`: the norm of each field (any orthogonal fibre): invariant fields.
- `SpatialMaxPool2d` (permutation fibres only: a max per channel commutes with permuting
  channels) and `SpatialAvgPool2d` (any fibre: averaging is linear and per channel). Both commute
  with 90° rotations and flips when the pooling windows tile the input symmetrically (e.g. a
  2×2 window with stride 2 on an even size).
- `InvariantPool`: group pooling (or norms), then a global spatial max / mean: ``[B, F]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symml.nn.cnn._fields import (
    check_choice,
    check_images,
    check_positive,
    fibre_of,
    fields,
    runs,
)
from symml.nn.cnn.export import traced
from symml.reps import GridRep, Rep, trivial

_GROUP_MODES = ("max", "mean")


def _window(
    kernel_size: object, stride: object, padding: object, owner: str
) -> tuple[int, int, int]:
    """``(kernel_size, stride, padding)`` checked as torch's pooling needs them (torch itself
    would only complain at the first forward, and about ``pad``)."""
    kernel = check_positive(kernel_size, owner, "kernel_size")
    step = kernel if stride is None else check_positive(stride, owner, "stride")
    pad = check_positive(padding, owner, "padding", minimum=0)
    if pad > kernel // 2:
        raise ValueError(
            f"{owner}: expected padding <= kernel_size // 2 = {kernel // 2} (got padding={pad}); "
            "pad the input beforehand or use a larger window"
        )
    return kernel, step, pad


def _require_permutation(fibre: Rep, owner: str, instead: str) -> None:
    bad = [f for f in fields(fibre) if not f.is_permutation]
    if bad:
        raise ValueError(
            f"{owner}: expected permutation fields (regular, quotient or trivial), on which "
            f"channel-wise maps commute with the group; got {bad[0]}. Use {instead} instead"
        )


class _FieldReduce(nn.Module):
    """``[B, C, H, W] → [B, F, H, W]``: one reduction over the channels of each field."""

    def __init__(self, fibre: Rep, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.runs = [(f.dim, copies, start) for f, copies, start in runs(fibre)]

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for dim, copies, start in self.runs:
            block = x[:, start : start + dim * copies].unflatten(1, (copies, dim))
            if self.mode == "max":
                outs.append(block.amax(2))
            elif self.mode == "mean":
                outs.append(block.mean(2))
            else:
                outs.append(torch.linalg.vector_norm(block, dim=2))
        return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    def export(self) -> nn.Module:
        if len(self.runs) == 1:  # one field size: plain 3-D pooling over the field axis
            dim, copies, _ = self.runs[0]
            pools: dict[str, nn.Module] = {
                "max": nn.MaxPool3d((dim, 1, 1)),
                "mean": nn.AvgPool3d((dim, 1, 1)),
                "norm": nn.LPPool3d(2, (dim, 1, 1)),
            }
            return nn.Sequential(nn.Unflatten(1, (copies, dim)), pools[self.mode], nn.Flatten(1, 2))
        return traced(self)


class GroupPool(nn.Module):
    """Max or mean over the group channels of each field: regular fields → invariant scalars.

    For a permutation field ρ (``regular(G)``, a quotient, or trivial) the max and the mean of its
    channels are invariant, so ``pool(g·f)(x) = pool(f)(g⁻¹x)``.

    Args:
        rep: the input fibre, e.g. ``conv.rep_out`` (a `Rep` or `GridRep`).
        mode: ``"max"`` or ``"mean"``.

    Attributes:
        rep_in: ``GridRep(rep)``; rep_out: ``GridRep(F * trivial(G))`` for ``F`` fields.

    Shapes: ``[B, rep.dim, H, W] -> [B, F, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> pool = GroupPool(3 * regular(Cyclic(4)))
        >>> pool(torch.randn(2, 12, 5, 5)).shape
        torch.Size([2, 3, 5, 5])
    """

    def __init__(self, rep: Rep | GridRep, mode: str = "max") -> None:
        super().__init__()
        owner = type(self).__name__
        fibre = fibre_of(rep, owner)
        _require_permutation(fibre, owner, "NormPool")
        self.mode = check_choice(mode, _GROUP_MODES, owner, "mode")
        self.group = fibre.group
        self.rep_in = GridRep(fibre)
        self.rep_out = GridRep(trivial(fibre.group) * len(fields(fibre)))
        self.reduce = _FieldReduce(fibre, self.mode)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return self.reduce(x)

    def export(self) -> nn.Module:
        return self.reduce.export()

    def extra_repr(self) -> str:
        return f"{self.rep_in.fibre}, mode={self.mode!r}"


class NormPool(nn.Module):
    """The Euclidean norm of each field: any orthogonal fibre → invariant scalars.

    Args:
        rep: the input fibre (a `Rep` or `GridRep`); its summands are the fields.

    Shapes: ``[B, rep.dim, H, W] -> [B, F, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import SO2
        >>> from symml.reps import irrep
        >>> pool = NormPool(2 * irrep(SO2(), 1))
        >>> pool(torch.ones(1, 4, 3, 3))[0, :, 0, 0]
        tensor([1.4142, 1.4142])
    """

    def __init__(self, rep: Rep | GridRep) -> None:
        super().__init__()
        fibre = fibre_of(rep, type(self).__name__)
        self.group = fibre.group
        self.rep_in = GridRep(fibre)
        self.rep_out = GridRep(trivial(fibre.group) * len(fields(fibre)))
        self.reduce = _FieldReduce(fibre, "norm")

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return self.reduce(x)

    def export(self) -> nn.Module:
        return self.reduce.export()


class _SpatialPool(nn.Module):
    pool: nn.MaxPool2d | nn.AvgPool2d

    def __init__(self, rep: Rep | GridRep) -> None:
        super().__init__()
        fibre = fibre_of(rep, type(self).__name__)
        self.group = fibre.group
        self.rep_in = self.rep_out = GridRep(fibre)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        return self.pool(x)

    def export(self) -> nn.Module:
        return type(self.pool)(
            self.pool.kernel_size,
            self.pool.stride,
            self.pool.padding,
            ceil_mode=self.pool.ceil_mode,
        )


class SpatialMaxPool2d(_SpatialPool):
    """Max pooling over space of permutation fields (regular / trivial), per channel.

    Args:
        rep: the fibre (unchanged by the layer).
        kernel_size, stride, padding: as in `torch.nn.MaxPool2d` (stride defaults to the kernel).

    Example:
        >>> import torch
        >>> from symml.groups import Dihedral
        >>> from symml.reps import regular
        >>> SpatialMaxPool2d(regular(Dihedral(4)), 2)(torch.randn(1, 8, 24, 24)).shape
        torch.Size([1, 8, 12, 12])
    """

    def __init__(
        self,
        rep: Rep | GridRep,
        kernel_size: int,
        stride: int | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__(rep)
        owner = type(self).__name__
        _require_permutation(self.rep_in.fibre, owner, "SpatialAvgPool2d")
        self.pool = nn.MaxPool2d(*_window(kernel_size, stride, padding, owner))


class SpatialAvgPool2d(_SpatialPool):
    """Average pooling over space, per channel (any fibre: it is linear and per channel).

    Args:
        rep: the fibre (unchanged by the layer).
        kernel_size, stride, padding: as in `torch.nn.AvgPool2d` (stride defaults to the kernel).

    Example:
        >>> import torch
        >>> from symml.groups import SO2
        >>> from symml.reps import irrep
        >>> SpatialAvgPool2d(irrep(SO2(), 1), 2)(torch.randn(1, 2, 8, 8)).shape
        torch.Size([1, 2, 4, 4])
    """

    def __init__(
        self,
        rep: Rep | GridRep,
        kernel_size: int,
        stride: int | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__(rep)
        self.pool = nn.AvgPool2d(*_window(kernel_size, stride, padding, type(self).__name__))


class InvariantPool(nn.Module):
    """Fields → invariant features ``[B, F]``: pool each field over the group, then over space.

    Args:
        rep: the input fibre (a `Rep` or `GridRep`).
        group_pool: ``"max"`` / ``"mean"`` over permutation fields, or ``"norm"`` (any fields).
        spatial: ``"max"`` or ``"mean"`` over all pixels.

    Attributes:
        rep_in: ``GridRep(rep)``; rep_out: ``F * trivial(G)``, a vector of invariants.

    Shapes: ``[B, rep.dim, H, W] -> [B, F]``.

    Example:
        >>> import torch
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> from symml.testing import equivariance_error
        >>> pool = InvariantPool(10 * regular(Cyclic(4)))
        >>> pool(torch.randn(2, 40, 6, 6)).shape
        torch.Size([2, 10])
        >>> equivariance_error(pool)["output"] < 1e-6
        True
    """

    def __init__(self, rep: Rep | GridRep, group_pool: str = "max", spatial: str = "max") -> None:
        super().__init__()
        owner = type(self).__name__
        fibre = fibre_of(rep, owner)
        check_choice(group_pool, ("max", "mean", "norm"), owner, "group_pool")
        self.spatial = check_choice(spatial, ("max", "mean"), owner, "spatial")
        pool: GroupPool | NormPool
        pool = NormPool(fibre) if group_pool == "norm" else GroupPool(fibre, group_pool)
        self.group_pool = pool
        self.group = fibre.group
        self.rep_in = GridRep(fibre)
        self.rep_out = trivial(fibre.group) * len(fields(fibre))

    def forward(self, x: Tensor) -> Tensor:
        y = self.group_pool(x)
        return y.amax((2, 3)) if self.spatial == "max" else y.mean((2, 3))

    def export(self) -> nn.Module:
        spatial = nn.AdaptiveMaxPool2d(1) if self.spatial == "max" else nn.AdaptiveAvgPool2d(1)
        return nn.Sequential(self.group_pool.export(), spatial, nn.Flatten(1))
