"""Charged-particle N-body dynamics, the EGNN protocol (Satorras et al. 2021,
https://arxiv.org/abs/2102.09844, docs/published.md §4a): predict the positions of 5 charged
particles in 3-D 1,000 time steps ahead from their positions, velocities and charges.

The simulator lives in `symml.data._nbody_simulator` (re-exported here); this module holds the
dataset, its splits and the on-disk cache of generated trajectories.

Splits (``preset="small"``, EGNN's ``nbody_small``): train takes the first 3,000 of a pool of
10,000 trajectories, val and test all 2,000 of theirs; input frame 30 → target frame 40. With
``preset="sweep"`` (EGNN's ``nbody``, for data-efficiency curves) train draws up to 50,000
trajectories sampled every 500 steps, frame 6 → 8; val and test stay the ``small`` ones, as in EGNN.
Each split has its own random stream, and ``size=k`` gives the first k trajectories of it, so
smaller training sets are nested in larger ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data

from symml._cache import CorruptCacheError, load_torch, read, save_torch, store
from symml.data._nbody_simulator import (
    CHUNK_SIZE,
    DIM,
    SMALL,
    SWEEP,
    NBodyConfig,
    generate_trajectories,
    sample_initial_state,
    simulate,
)
from symml.data.dataset import SymmetricDataset
from symml.data.paths import cache_dir
from symml.groups import E, Group
from symml.reps import GraphRep, PointRep, RepLike

__all__ = [
    "PRESETS",
    "SMALL",
    "SPLITS",
    "SWEEP",
    "NBodyCharged",
    "NBodyConfig",
    "build_nbody_charged",
    "generate_trajectories",
    "sample_initial_state",
    "simulate",
]

PRESETS: dict[str, NBodyConfig] = {"small": SMALL, "sweep": SWEEP}
SPLITS = ("train", "val", "test")

# (preset, split) -> (trajectories in the pool, default split size); EGNN generates pools of
# 10k / 2k / 2k (``--num-train 10000``) and trains on the first 3,000 (``--max_training_samples``).
_SPLIT_SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("small", "train"): (10_000, 3_000),
    ("small", "val"): (2_000, 2_000),
    ("small", "test"): (2_000, 2_000),
    ("sweep", "train"): (50_000, 50_000),
}
_CACHE_FORMAT = 1
_KEYS = ("pos", "vel", "charge", "clipped")


class NBodyCharged(SymmetricDataset):
    """EGNN's charged 5-body system in 3-D, symmetric under E(3).

    Sample ``i`` is a torch-geometric ``Data`` with ``pos [5, 3]``, ``vel [5, 3]``,
    ``charge [5, 1]`` (±1) at the input frame, target ``y [5, 3]`` = positions at the target
    frame, the fully connected ``edge_index [2, 20]`` (no self loops, EGNN's order: i-major) and
    ``edge_attr [20, 1]`` = q_i q_j. Equivariance of the task: for g = (R, t) ∈ E(3),
    ``(R pos + t, R vel, charge) ↦ R y + t``, exact except where the source's per-component force
    clipping acted between the two frames (`clipped`: 18% of samples; 48% of trajectories clip
    somewhere in their 5,000 steps; measured on 10,000 ``small`` trajectories).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: number of trajectories (default: 3,000 / 2,000 / 2,000; 50,000 for the sweep's
            train); the first ``size`` of the split's pool, so sizes are nested.
        seed: base seed; each split draws from its own stream derived from it.
        preset: ``"small"`` (EGNN ``nbody_small``) or ``"sweep"`` (EGNN ``nbody``).
        cache: keep generated trajectories under `symml.data.cache_dir` and reuse them.
        dtype: float dtype of the samples (trajectories are simulated in float64).

    Attributes:
        config: the `NBodyConfig` of the split (frames, sampling, simulation constants).
        clipped: ``[size]`` bool, whether a force component was clipped between the input and
            the target frame: there the ground truth is not exactly E(3)-equivariant.

    Example:
        >>> ds = NBodyCharged("train", size=2, cache=False)
        >>> ds[0]
        Data(edge_index=[2, 20], edge_attr=[20, 1], y=[5, 3], pos=[5, 3], vel=[5, 3], charge=[5, 1])
        >>> ds.group, ds.config.step_of(40) - ds.config.step_of(30)
        (E(3), 1000)
    """

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        seed: int = 0,
        preset: str = "small",
        cache: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"nbody_charged: unknown split {split!r}; expected one of {SPLITS}")
        if preset not in PRESETS:
            raise ValueError(
                f"nbody_charged: unknown preset {preset!r}; expected one of {tuple(PRESETS)}"
            )
        if split != "train":
            preset = "small"  # EGNN validates and tests the sweep on nbody_small
        pool, default = _SPLIT_SIZES[(preset, split)]
        size = default if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= pool:
            raise ValueError(
                f"nbody_charged: expected an integer 1 <= size <= {pool} for the {preset} "
                f"{split} split (got {size!r})"
            )
        self.group: Group = E(DIM)
        self.split, self.preset, self.seed = split, preset, seed
        self.config = PRESETS[preset]
        traj = _trajectories(self.config, _split_seed(seed, split), size, cache)
        a, b = self.config.input_frame, self.config.target_frame
        self.pos = traj["pos"][:, a].to(dtype=dtype, copy=True)
        self.vel = traj["vel"][:, a].to(dtype=dtype, copy=True)
        self.target = traj["pos"][:, b].to(dtype=dtype, copy=True)
        self.charge = traj["charge"].to(dtype=dtype, copy=True)
        self.clipped = traj["clipped"][:, a + 1 : b + 1].any(1)
        n = self.config.n_particles
        rows, cols = (~torch.eye(n, dtype=torch.bool)).nonzero().T
        self.edge_index = torch.stack([rows, cols])
        self.edge_attr = (self.charge[:, rows] * self.charge[:, cols]).contiguous()

    def __len__(self) -> int:
        return len(self.pos)

    def subsets(self) -> dict[str, Tensor]:
        """``clipped`` / ``unclipped``: samples whose ground truth the simulator's force
        clipping touched between the two frames, and the rest (where the task is exactly
        E(3)-equivariant)."""
        return {"clipped": self.clipped.clone(), "unclipped": ~self.clipped}

    def __getitem__(self, index: int) -> Data:
        return Data(
            pos=self.pos[index],
            vel=self.vel[index],
            charge=self.charge[index],
            y=self.target[index],
            edge_index=self.edge_index,
            edge_attr=self.edge_attr[index],
        )

    def reps(self, group: Group | None = None) -> tuple[RepLike, RepLike]:
        """``(GraphRep(group, vectors=("vel",)), PointRep(group))`` for a group acting on R^3
        (E(3), SE(3), O(3), SO(3), translations): positions and targets move by g, velocities by
        its linear part, charges are invariant."""
        group = self.group if group is None else group
        if group.point_dim != DIM:
            raise ValueError(
                f"nbody_charged: the particles live in R^{DIM}, but {group!r} does not act on "
                f"R^{DIM} (point_dim {group.point_dim}); use E(3) or one of its subgroups"
            )
        return GraphRep(group, node=None, vectors=("vel",)), PointRep(group)

    def __repr__(self) -> str:
        return f"NBodyCharged(split={self.split!r}, size={len(self)}, preset={self.preset!r})"


def build_nbody_charged(
    split: str = "train",
    size: int | None = None,
    seed: int = 0,
    preset: str = "small",
    cache: bool = True,
) -> NBodyCharged:
    """The registry's builder: ``symml.data.build("nbody_charged", split, **options)``; see
    `NBodyCharged` for the options."""
    return NBodyCharged(split, size=size, seed=seed, preset=preset, cache=cache)


def _split_seed(seed: int, split: str) -> int:
    digest = hashlib.sha256(f"nbody_charged/{split}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# ----- cache: one file per (generation parameters, stream) and number of trajectories ----------
def _trajectories(config: NBodyConfig, seed: int, n: int, cache: bool) -> dict[str, Tensor]:
    """The first ``n`` trajectories of stream ``seed``, from the cache when it holds enough.

    Files are named ``nbody_charged-<hash of the generation parameters and stream>-n<count>.pt``
    and hold the first ``count`` trajectories (whole blocks of `CHUNK_SIZE`). A file with at
    least ``n`` is sliced; otherwise the largest smaller one is extended with the missing blocks.
    Unreadable files are reported with a `RuntimeWarning`, deleted and regenerated
    (`symml._cache.read`); files are written atomically (`symml._cache.store`).
    """
    if not cache:
        return generate_trajectories(config, n, seed)
    key = _cache_key(config, seed)
    folder = cache_dir()
    files = sorted(_cached_files(folder, key).items())  # [(count, path)] by count
    base: dict[str, Tensor] | None = None
    for count, path in [f for f in files if f[0] >= n] + [f for f in files if f[0] < n][::-1]:
        loaded = _load(path, config, count)
        if loaded is not None:
            if count >= n:
                return {k: v[:n] for k, v in loaded.items()}
            base = loaded
            break
    have = 0 if base is None else len(base["pos"])
    count = -(-n // CHUNK_SIZE) * CHUNK_SIZE
    new = generate_trajectories(config, count - have, seed, start=have)
    traj = new if base is None else {k: torch.cat([base[k], new[k]]) for k in _KEYS}
    saved = {**{k: traj[k].contiguous() for k in _KEYS}, "key": key}
    if store(folder / f"nbody_charged-{key}-n{count}.pt", lambda tmp: save_torch(saved, tmp)):
        for smaller, path in files:  # the new file holds them all
            if smaller < count:
                path.unlink(missing_ok=True)
    return {k: v[:n] for k, v in traj.items()}


def _cache_key(config: NBodyConfig, seed: int) -> str:
    params = {"format": _CACHE_FORMAT, "chunk": CHUNK_SIZE, "seed": seed}
    text = json.dumps({**params, **config.generation_params()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cached_files(folder: Path, key: str) -> dict[int, Path]:
    pattern = re.compile(rf"nbody_charged-{key}-n(\d+)\.pt")
    matches = (pattern.fullmatch(p.name) for p in folder.glob(f"nbody_charged-{key}-n*.pt"))
    return {int(m.group(1)): folder / m.group(0) for m in matches if m is not None}


def _load(path: Path, config: NBodyConfig, count: int) -> dict[str, Tensor] | None:
    """The trajectories in ``path``, or None if it is gone or damaged (then, after a warning
    naming it, deleted)."""
    stored = read(path, lambda p: load_torch(p, lambda v: _check_stored(v, config, count)))
    return None if stored is None else {k: stored[k] for k in _KEYS}


def _check_stored(stored: object, config: NBodyConfig, count: int) -> None:
    if not isinstance(stored, dict) or not set(_KEYS) <= set(stored):
        raise CorruptCacheError(f"expected a dict with keys {list(_KEYS)}")
    shape = (count, config.n_frames, config.n_particles, DIM)
    expected = {
        "pos": shape,
        "vel": shape,
        "charge": (count, config.n_particles, 1),
        "clipped": (count, config.n_frames),
    }
    for name, want in expected.items():
        value = stored[name]
        if not isinstance(value, Tensor) or tuple(value.shape) != want:
            got = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise CorruptCacheError(f"expected `{name}` of shape {list(want)} (got {got})")
