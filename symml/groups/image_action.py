"""How planar groups act on images ``[..., C, H, W]`` (the spatial part of the grid action).

Pixel ``(i, j)`` sits at ``x = j - (W-1)/2``, ``y = (H-1)/2 - i`` (x right, y up), so the action
``(g·f)(x) = f(g⁻¹x)`` is the same rotation as `Group.act_on_points`. Rotations by multiples of 90°,
the reflection ``(x, y) ↦ (x, -y)`` and pixel translations (circular, the grid seen as a torus) are
exact permutations of pixels; other angles resample bilinearly and are only approximate.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from symml.groups.group import Elements
from symml.groups.inclusions import _PLANAR, _to_o2
from symml.groups.planar import rotation_matrices
from symml.groups.semidirect import SemidirectProduct
from symml.groups.translations import Translations

_QUARTER = math.pi / 2
_EXACT_TOL = 1e-6


def _planar_parts(g: Elements) -> tuple[Tensor, Tensor, Tensor]:
    """``(s [B], θ [B], t [B, 2])``: reflection flag, angle (float64) and pixel shift (long)."""
    group, data = g.group, g.data
    zeros_t = torch.zeros(len(g), 2, dtype=torch.long, device=data.device)
    if isinstance(group, _PLANAR):
        o2 = _to_o2(group, data)
        return o2[:, 0].long(), o2[:, 1], zeros_t
    if isinstance(group, Translations) and group.lattice and group.d == 2:
        zeros = torch.zeros(len(g), dtype=torch.float64, device=data.device)
        return zeros.long(), zeros, data
    if isinstance(group, SemidirectProduct) and group.lattice:
        h, t = group.split(g)
        s, theta, _ = _planar_parts(h)
        return s, theta, t
    raise TypeError(
        f"act_on_images: {group!r} does not act on 2-D images (expected a planar group, "
        "Translations(2, lattice=True), p4, p4m or another lattice SemidirectProduct)"
    )


def _quarter_turns(theta: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest number of quarter turns and whether θ is (numerically) one."""
    q = theta / _QUARTER
    k = torch.round(q)
    return k.long() % 4, (q - k).abs() < _EXACT_TOL


def grid_exact(g: Elements) -> Tensor:
    """``[B]`` bool: whether each element acts exactly on the pixel grid (permutes pixels)."""
    _, theta, _ = _planar_parts(g)
    return _quarter_turns(theta)[1]


def act_on_images(g: Elements, images: Tensor, *, interpolation: bool = False) -> Tensor:
    """Transform images by group elements: ``out(x) = images(g⁻¹x)``.

    Args:
        g: one element (applied to every image) or ``B`` elements (one per image).
        images: ``[B, C, H, W]`` (or ``[C, H, W]`` / ``[B, ..., H, W]`` with one element), square
            whenever an element rotates or reflects.
        interpolation: allow elements that are not exact on the grid (bilinear resampling,
            zero padding). Without it such elements raise a ValueError.

    Shapes: returns the shape of ``images``.
    """
    if images.dim() < 2:
        raise ValueError(
            f"act_on_images: expected images [..., H, W] (got shape {list(images.shape)})"
        )
    if len(g) != 1 and (images.dim() < 3 or images.shape[0] != len(g)):
        raise ValueError(
            f"act_on_images: got {len(g)} elements for images of shape {list(images.shape)}; "
            "expected one element, or one per image along dim 0"
        )
    s, theta, t = _planar_parts(g)
    turns, exact = _quarter_turns(theta)
    h, w = images.shape[-2:]
    if h != w and bool(((turns != 0) | (s != 0) | ~exact).any()):
        raise ValueError(
            f"act_on_images: rotations and reflections need square images (got {h}x{w})"
        )
    if not bool(exact.all()):
        if not interpolation:
            bad = int((~exact).nonzero()[0, 0])
            degrees = math.degrees(float(theta[bad]))
            raise ValueError(
                f"act_on_images: element {g[bad]!r} rotates by {degrees:.4g}°, "
                "not a multiple of 90°, so its grid action interpolates and is not exact; pass "
                "interpolation=True to accept an approximate action"
            )
        # only rotation groups without a lattice get here, so there is no pixel shift
        return _resample(images, s, theta)
    if len(g) == 1:
        return _exact(images, int(s[0]), int(turns[0]), t[0].tolist())
    out = torch.empty_like(images)
    # at most 8 (s, turns) pairs times distinct shifts: loop over unique ones, not per image
    keys = torch.cat([s[:, None], turns[:, None], t.to(s.device)], 1)
    uniq, inverse = torch.unique(keys, dim=0, return_inverse=True)
    for u, key in enumerate(uniq.tolist()):
        mask = inverse == u
        out[mask] = _exact(images[mask], key[0], key[1], key[2:])
    return out


def _exact(x: Tensor, s: int, turns: int, shift: list[int]) -> Tensor:
    if s:
        x = torch.flip(x, dims=(-2,))
    if turns:
        x = torch.rot90(x, turns, dims=(-2, -1))
    if shift[0] or shift[1]:
        x = torch.roll(x, shifts=(-shift[1], shift[0]), dims=(-2, -1))
    return x


def _resample(images: Tensor, s: Tensor, theta: Tensor) -> Tensor:
    shape = images.shape
    batch = shape[0] if len(s) > 1 else 1
    x = images.reshape(batch, -1, *shape[-2:])
    # g⁻¹ in (x, y-up) coordinates: F^s R_{-θ}; grid_sample's y points down, so conjugate by
    # S = diag(1, -1); with align_corners=True pixel centres sit at ±1 for every square size
    s_mat = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64, device=theta.device))
    flip = torch.ones(len(s), 2, dtype=torch.float64, device=theta.device)
    flip[:, 1] = 1 - 2 * s.double()
    inv = flip[:, :, None] * rotation_matrices(-theta)
    lin = s_mat @ inv @ s_mat
    offset = torch.zeros(len(s), 2, 1, dtype=torch.float64, device=theta.device)
    affine = torch.cat([lin, offset], 2).to(images.dtype).expand(batch, 2, 3)
    grid = F.affine_grid(affine, list(x.shape), align_corners=True)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.reshape(shape)
