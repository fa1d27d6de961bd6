"""Shared checks for image-field layers: groups by name, fibres split into fields, input shapes."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from symml.groups import (
    O2,
    SO2,
    Cyclic,
    Dihedral,
    FiniteGroup,
    Group,
    SemidirectProduct,
    grid_exact,
    group_from_name,
)

# re-exported: the cnn layers and the image models import these checks from here
from symml.nn._checks import check_choice as check_choice
from symml.nn._checks import check_positive as check_positive
from symml.reps import DirectSum, GridRep, Rep, intertwiners, regular, trivial

PLANAR = (Cyclic, Dihedral, SO2, O2)


def point_group(group: Group | str, owner: str, *, finite: bool = True) -> Group:
    """The planar point group of ``group`` (``"p4"`` → ``Cyclic(4)``, ``"D8"`` → ``Dihedral(8)``).

    ``finite=True`` allows C_N and D_N (regular fields); ``False`` also SO(2) and O(2).
    """
    if isinstance(group, str):
        group = group_from_name(group)
    if isinstance(group, SemidirectProduct) and group.lattice:
        group = group.point
    allowed: tuple[type, ...] = (Cyclic, Dihedral) if finite else PLANAR
    if not isinstance(group, allowed):
        names = "Cyclic(N), Dihedral(N)" + ("" if finite else ", SO2(), O2()")
        extra = " (use SteerableConv2d for SO2()/O2())" if finite else ""
        raise ValueError(
            f"{owner}: expected a planar group {names}, p4 or p4m (got {group!r}){extra}"
        )
    return group


@functools.cache
def grid_exact_group(group: FiniteGroup) -> bool:
    """Whether every element of ``group`` permutes the pixels (C1, C2, C4, D1, D2, D4)."""
    return bool(grid_exact(group.elements()).all())


def regular_fields(group: FiniteGroup, channels: int, owner: str, argument: str) -> int:
    """Number of regular fields in ``channels`` channels; a clear error when it does not divide."""
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"{owner}: expected a positive integer {argument} (got {channels!r})")
    order = group.order
    if channels % order:
        lower = (channels // order) * order
        fix = f"{lower} or {lower + order}" if lower else f"{order}"
        raise ValueError(
            f"{owner}: {argument}={channels} is not a multiple of |{group!r}| = {order}; a "
            f"regular field of {group!r} has {order} channels (use {argument}={fix})"
        )
    return channels // order


def regular_grid(group: FiniteGroup, fields: int) -> GridRep:
    return GridRep(regular(group) * fields)


def trivial_grid(group: Group, channels: int) -> GridRep:
    return GridRep(trivial(group) * channels)


def fibre_of(rep: Rep | GridRep, owner: str) -> Rep:
    if isinstance(rep, GridRep):
        return rep.fibre
    if isinstance(rep, Rep):
        return rep
    raise TypeError(
        f"{owner}: expected the field type as a symml Rep or GridRep (got {type(rep).__name__})"
    )


def fields(rep: Rep) -> tuple[Rep, ...]:
    """The fields of a fibre: the summands of a direct sum (a single field otherwise)."""
    return tuple(rep.parts) if isinstance(rep, DirectSum) else (rep,)


def runs(rep: Rep) -> list[tuple[Rep, int, int]]:
    """Maximal runs of equal consecutive fields: ``[(field, copies, first channel), ...]``."""
    out: list[tuple[Rep, int, int]] = []
    start = 0
    for f in fields(rep):
        if out and out[-1][0] == f:
            field, copies, first = out[-1]
            out[-1] = (field, copies + 1, first)
        else:
            out.append((f, 1, start))
        start += f.dim
    return out


@functools.cache
def invariant_basis(field: Rep) -> Tensor:
    """Orthonormal columns ``[d, t]`` (float64) spanning the vectors ``field`` leaves fixed, each
    signed so that its first non-zero entry is positive (``1/√d`` everywhere for a regular
    field, so a bias β there shifts every channel by ``β/√d``)."""
    basis = intertwiners(trivial(field.group), field)[:, :, 0].T  # [d, t]
    first = (basis.abs() > 1e-9).to(torch.float64).argmax(0)
    signs = torch.sign(basis[first, torch.arange(basis.shape[1])])
    return (basis * signs).contiguous()


def check_images(x: Tensor, channels: int, owner: str) -> None:
    """The cheap forward check: a 4-D float tensor with the expected channel count."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{owner}: expected a tensor [B, {channels}, H, W] (got {type(x).__name__})"
        )
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{owner}: expected images of shape [B, {channels}, H, W] (got {list(x.shape)})"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{owner}: expected a floating-point tensor (got {x.dtype}); convert with x.float()"
        )
