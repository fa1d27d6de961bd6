"""How long does symml take to generate its synthetic datasets?

- N-body: 10,000 charged-particle trajectories (docs/published.md §4a, 5,000 steps each), the
  size of EGNN's training pool. Goal: < 60 s on 2 cores.
- Rotated MNIST: the full regenerated MNIST-rot (12,000 + 50,000 digits, bilinear rotations,
  uint8 rounding) from the MNIST files in ``$SYMML_DATA_DIR``. Goal: < 30 s. Its baseline, timed
  interleaved round by round, is the straightforward way to do the core of that work: one
  batched `grid_sample` of all 62,000 digits at once (no sampling, rounding or bookkeeping).

Each figure is the median of several rounds (no cache: `cache=False` / direct generation).

Run: ``SYMML_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_data.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")  # before torch: OpenMP threads must not sleep

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _machine import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path

from symml.data import DataNotFoundError  # noqa: E402
from symml.data.mnist import load_mnist, rotated_mnist_arrays  # noqa: E402
from symml.data.nbody import SMALL, generate_trajectories  # noqa: E402

THREADS = 2
NBODY_TRAJECTORIES = 10_000
NBODY_ROUNDS = 3
MNIST_ROUNDS = 5
NBODY_GOAL_S = 60.0
MNIST_GOAL_S = 30.0


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _batched_grid_sample(pixels: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """The baseline: rotate every digit by its angle with one batched bilinear resampling."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(cos)
    affine = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
    images = pixels[:, None].float() / 255
    grid = F.affine_grid(affine.float(), list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", align_corners=True)


def main() -> None:
    torch.set_num_threads(THREADS)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu: {cpu_model()}")
    print(f"load average (1, 5, 15 min) at start: {load_average()}")
    figures: dict[str, float] = {}

    nbody = [
        _timed(lambda r=r: generate_trajectories(SMALL, NBODY_TRAJECTORIES, seed=r))
        for r in range(NBODY_ROUNDS)
    ]
    figures["nbody_10k_s"] = statistics.median(nbody)
    figures["nbody_10k_over_goal"] = figures["nbody_10k_s"] / NBODY_GOAL_S
    print(f"N-body, {NBODY_TRAJECTORIES} trajectories: rounds {[round(t, 2) for t in nbody]} s")

    try:
        pixels = torch.cat([load_mnist("train")[0], load_mnist("test")[0]])
    except DataNotFoundError as err:
        print(f"rotated MNIST skipped: {err}")
    else:
        angles = torch.rand(62_000, dtype=torch.float64) * (2 * math.pi)
        ours, floor = [], []
        for r in range(MNIST_ROUNDS):  # interleaved: both see the same machine load
            ours.append(_timed(lambda r=r: rotated_mnist_arrays(seed=r, cache=False)))
            floor.append(_timed(lambda: _batched_grid_sample(pixels[:62_000], angles)))
        figures["rotated_mnist_62k_s"] = statistics.median(ours)
        figures["rotated_mnist_over_goal"] = figures["rotated_mnist_62k_s"] / MNIST_GOAL_S
        figures["rotated_mnist_over_batched_grid_sample"] = statistics.median(
            o / f for o, f in zip(ours, floor, strict=True)
        )
        print(f"rotated MNIST, 62,000 digits: rounds {[round(t, 2) for t in ours]} s")
        print(f"one batched grid_sample:       rounds {[round(t, 2) for t in floor]} s")

    for name, value in figures.items():
        print(f"figure: {name} = {value:.4g}")


if __name__ == "__main__":
    main()
