"""Wigner D matrices of SO(3) in e3nn's real basis (for l = 1 that is x, y, z), in float64."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor


@lru_cache(maxsize=64)
def so3_generators(l: int) -> Tensor:  # noqa: E741 - l is the standard name of the degree
    """e3nn's real so(3) generators ``[3, 2l+1, 2l+1]`` (about x, y, z), in float64.

    e3nn builds them from integer tensors in torch's default dtype (float32 precision, ~1e-7);
    we run its code once per l with float64 as the default so the basis is exact to 1e-15.
    """
    if l == 0:  # the trivial rep: no need to import e3nn (1.5 s) for zeros
        return torch.zeros(3, 1, 1, dtype=torch.float64)
    from e3nn.o3 import so3_generators as e3nn_generators

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return e3nn_generators(l).to(torch.float64).contiguous()
    finally:
        torch.set_default_dtype(previous)


def wigner_d(l: int, rotations: Tensor) -> Tensor:  # noqa: E741
    """Wigner D matrices ``[B, 2l+1, 2l+1]`` of rotations ``[B, 3, 3]`` in e3nn's real basis,
    computed as ``exp(ω · X)`` from the rotation vector ω (axis × angle) of each matrix."""
    if l == 0:
        return torch.ones(rotations.shape[0], 1, 1, dtype=torch.float64, device=rotations.device)
    omega = rotation_vector(rotations)
    gens = so3_generators(l).to(rotations.device)
    return torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", omega, gens))


def rotation_vector(rotations: Tensor) -> Tensor:
    """Axis × angle ``[B, 3]`` of rotation matrices ``[B, 3, 3]`` (float64), through the unit
    quaternion by Shepperd's method: each matrix uses the largest of the four quaternion
    components as pivot, which stays accurate at every angle (acos of the trace does not)."""
    r = rotations.double()
    r00, r11, r22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    a, b, c = r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]
    p, q, u = r[:, 0, 1] + r[:, 1, 0], r[:, 0, 2] + r[:, 2, 0], r[:, 1, 2] + r[:, 2, 1]
    t = torch.stack(
        [1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], -1
    )
    # candidate quaternions (w, x, y, z), each scaled by 4·(its pivot component)
    cand = torch.stack(
        [
            torch.stack([t[:, 0], a, b, c], -1),
            torch.stack([a, t[:, 1], p, q], -1),
            torch.stack([b, p, t[:, 2], u], -1),
            torch.stack([c, q, u, t[:, 3]], -1),
        ],
        1,
    )
    pivot = t.argmax(-1)
    quat = cand[torch.arange(len(r)), pivot]
    quat = quat / quat.norm(dim=-1, keepdim=True)
    quat = quat * torch.where(quat[:, :1] < 0, -1.0, 1.0).to(quat)
    w, v = quat[:, 0], quat[:, 1:]
    norm = v.norm(dim=-1)
    angle = 2 * torch.atan2(norm, w)
    scale = torch.where(norm > 1e-300, angle / norm.clamp(min=1e-300), torch.full_like(norm, 2.0))
    return v * scale[:, None]
