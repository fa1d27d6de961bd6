"""Tensor helpers shared by the groups: batching, dtype promotion, float tolerances, angles."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def apply_batched(mats: Tensor, x: Tensor, batch: int) -> Tensor:
    """Apply ``mats [B, n, n]`` to ``x [B, ..., n]`` (or ``[..., n]`` when ``B == 1``)."""
    if batch == 1 and (x.dim() == 1 or x.shape[0] != 1):
        return x @ mats[0].transpose(-1, -2)
    if x.shape[0] != batch:
        raise ValueError(
            f"expected a leading batch dimension of {batch} (one per element) or a single "
            f"element (got points of shape {list(x.shape)})"
        )
    flat = x.reshape(batch, -1, x.shape[-1])
    return (flat @ mats.transpose(-1, -2)).reshape(x.shape)


def broadcast_pair(a: Tensor, b: Tensor, what: str) -> tuple[Tensor, Tensor]:
    na, nb = a.shape[0], b.shape[0]
    if na == nb:
        return a, b
    if na == 1:
        return a.expand(nb, *a.shape[1:]), b
    if nb == 1:
        return a, b.expand(na, *b.shape[1:])
    raise ValueError(f"{what}: batch sizes {na} and {nb} do not broadcast (expected equal or 1)")


def promote_pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Cast float element data to a common dtype (e.g. the float32 `identity` with float64
    samples), as the raw operations (matrix products) need one dtype."""
    if a.dtype != b.dtype and a.is_floating_point() and b.is_floating_point():
        dtype = torch.promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)
    return a, b


def as_device(device: torch.device | str | None) -> torch.device | None:
    return torch.device(device) if device is not None else None


def float_tolerance(dtype: torch.dtype) -> float:
    """Tolerance for comparing continuous group elements in ``dtype``."""
    return 1e-9 if dtype == torch.float64 else 1e-4


def wrap_angle(theta: Tensor) -> Tensor:
    """Angles reduced to [0, 2π)."""
    wrapped = torch.remainder(theta, 2 * math.pi)
    # a tiny negative angle rounds to exactly 2π: map it to 0 to stay in [0, 2π)
    return torch.where(wrapped >= 2 * math.pi, torch.zeros_like(wrapped), wrapped)
