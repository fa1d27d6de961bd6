"""Rotated MNIST regenerated from MNIST: seeded generation and its on-disk cache.

The original MNIST-rot (Larochelle et al. 2007) is not available offline, so symml draws its own
digits and angles (docs/published.md, "How to use this"): a regenerated variant with the same
sizes, not the identical benchmark.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from symml._cache import CorruptCacheError, cached_torch
from symml.data.paths import cache_dir
from symml.groups import O2, SO2, Elements, act_on_images

# bump when the generation changes, so old cache files are not reused
FORMAT_VERSION = 1
_CHUNK = 8192  # images per grid_sample call: large enough to be fast, small enough for memory


def rotate_digits(pixels: Tensor, elements: Elements) -> Tensor:
    """``pixels [N, H, W]`` uint8 moved by ``elements`` (one per image), bilinear with zero
    padding (`act_on_images` with ``interpolation=True``), rounded back to uint8.

    Rounding: the stored pixel is ``round(255 · bilinear(p / 255))``, so it differs from the float
    rotation by at most 0.5/255 (half a grey level) — far below the interpolation error itself.
    """
    out = torch.empty_like(pixels)
    for start in range(0, len(pixels), _CHUNK):
        part = slice(start, start + _CHUNK)
        images = pixels[part].to(torch.float32).div_(255.0).unsqueeze(1)
        moved = act_on_images(elements[part], images, interpolation=True)[:, 0]
        out[part] = moved.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return out


def generate_rotated_mnist(
    source_pixels: Tensor,
    source_labels: Tensor,
    *,
    n_train: int,
    n_test: int,
    seed: int,
    flips: bool,
) -> dict[str, Any]:
    """Draw ``n_train + n_test`` distinct source digits and rotate each by a uniform angle.

    Randomness, in order, from one ``torch.Generator`` seeded with ``seed``: a permutation of the
    sources (the first ``n_train`` become the training digits, the next ``n_test`` the test
    digits, so no source digit is in both), one angle per digit, uniform in [0, 2π) (float64),
    and with ``flips`` one reflection flag per digit (p = 1/2). A digit is mirrored
    (``(x, y) ↦ (x, -y)``) first and then rotated: the O(2) element ``r_θ f^s``.

    Returns:
        ``pixels`` uint8 ``[n, H, W]``, ``labels`` uint8 ``[n]``, ``angles`` float64 ``[n]``,
        ``flips`` bool ``[n]``, ``source_index`` long ``[n]`` (into ``source_pixels``).
    """
    total = n_train + n_test
    if n_train < 1 or n_test < 1 or total > len(source_pixels):
        raise ValueError(
            f"rotated MNIST: need 1 <= train and test sizes with train + test <= "
            f"{len(source_pixels)} source digits (got {n_train} + {n_test})"
        )
    gen = torch.Generator().manual_seed(seed)
    source_index = torch.randperm(len(source_pixels), generator=gen)[:total]
    angles = torch.rand(total, generator=gen, dtype=torch.float64) * (2 * math.pi)
    if flips:
        flags = torch.randint(2, (total,), generator=gen).bool()
        elements = O2().element(torch.stack([flags.double(), angles], -1))
    else:
        flags = torch.zeros(total, dtype=torch.bool)
        elements = SO2().element(angles)
    pixels = rotate_digits(source_pixels[source_index], elements)
    return {
        "pixels": pixels,
        "labels": source_labels[source_index].to(torch.uint8),
        "angles": angles,
        "flips": flags,
        "source_index": source_index,
    }


def cache_path(params: dict[str, Any]) -> Path:
    """``<cache dir>/rotated_mnist-<hash>.pt``: the file name is a hash of every parameter."""
    key = json.dumps({"format": FORMAT_VERSION, **params}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir() / f"rotated_mnist-{digest}.pt"


def cached(params: dict[str, Any], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The arrays for ``params``: loaded from the cache file, or made and written atomically
    (`symml._cache`), so concurrent runs and interrupted writes never leave a partial file under
    the final name. A damaged file (truncated, not a torch file, or not these arrays) is reported
    with one `RuntimeWarning` naming it, deleted and regenerated."""
    stored = {"format": FORMAT_VERSION, **params}
    return cached_torch(
        cache_path(params), lambda: {**make(), "params": stored}, lambda a: _check(a, stored)
    )


_ARRAYS = {  # name -> (dtype, dimensions)
    "pixels": (torch.uint8, 3),
    "labels": (torch.uint8, 1),
    "angles": (torch.float64, 1),
    "flips": (torch.bool, 1),
    "source_index": (torch.int64, 1),
}


def _check(arrays: object, stored: dict[str, Any]) -> None:
    """Raise `CorruptCacheError` unless ``arrays`` are `generate_rotated_mnist`'s for ``stored``."""
    if not isinstance(arrays, dict):
        raise CorruptCacheError(f"expected a dict of arrays, got {type(arrays).__name__}")
    if arrays.get("params") != stored:
        raise CorruptCacheError(f"made for parameters {arrays.get('params')}, not {stored}")
    count = stored["n_train"] + stored["n_test"]
    for name, (dtype, ndim) in _ARRAYS.items():
        value = arrays.get(name)
        if not (isinstance(value, Tensor) and value.dtype == dtype and value.ndim == ndim):
            raise CorruptCacheError(f"`{name}` is not a {ndim}-d {dtype} tensor")
        if len(value) != count:
            raise CorruptCacheError(f"`{name}` has {len(value)} rows, expected {count}")
