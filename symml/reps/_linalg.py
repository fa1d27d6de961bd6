"""Matrix helpers for representations: block matrices of direct sums and tensor products,
and subgroup elements embedded in float64 for restrictions."""

from __future__ import annotations

import torch
from torch import Tensor

from symml.groups import Elements, Inclusion


def block_diag(blocks: list[Tensor]) -> Tensor:
    """Block-diagonal of batched matrices ``[B, d_i, d_i]`` → ``[B, Σd, Σd]``."""
    b = blocks[0].shape[0]
    d = sum(x.shape[-1] for x in blocks)
    out = blocks[0].new_zeros(b, d, d)
    i = 0
    for x in blocks:
        n = x.shape[-1]
        out[:, i : i + n, i : i + n] = x
        i += n
    return out


def kron(a: Tensor, b: Tensor) -> Tensor:
    """Batched Kronecker product ``[B, m, m] ⊗ [B, n, n] → [B, mn, mn]``."""
    return torch.einsum("bij,bkl->bikjl", a, b).reshape(a.shape[0], *(a.shape[1] * b.shape[1],) * 2)


def embed_float64(inc: Inclusion, data: Tensor) -> Tensor:
    """Raw elements of ``inc.sup`` for raw elements of ``inc.sub``, computed in float64: an
    embedding in float32 (e.g. about a tilted axis) would put ~1e-8 errors into ρ(g) even when
    ρ is evaluated in float64. (Integer C_N / D_N data already lands in float64.)"""
    return inc(Elements(inc.sub, data.double() if data.is_floating_point() else data)).data
