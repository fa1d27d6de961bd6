"""Vectorised simulator of the charged-particle system of EGNN (Satorras et al. 2021,
https://arxiv.org/abs/2102.09844), a 3-D fork of NRI's ``ChargedParticlesSim`` (Kipf et al. 2018).

A batch of trajectories is integrated at once in float64 (the loop runs over time steps only).
Randomness enters only through the initial state; trajectory ``i`` is drawn from the random stream
of block ``i // CHUNK_SIZE``, seeded by ``(generation parameters, seed, block)``, so it is the same
whatever range of trajectories is asked for (small sets are prefixes of large ones).

Every step uses only element-wise ``+ - * /``, ``sqrt`` and ``clamp`` (no reductions, ``pow``,
fused multiply-adds or BLAS), all correctly rounded: a trajectory is bitwise the same whatever batch
it is simulated in, and the same as a scalar loop doing the same arithmetic. The square root is
numpy's, on a view of the torch buffer: torch's float64 ``sqrt`` on CPU is within 1 ulp but not
correctly rounded (about 1% of values differ from IEEE ``sqrt``; torch 2.13, AVX-512).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

DIM = 3
"""The particles move in R^3 (EGNN; NRI is 2-D)."""

CHUNK_SIZE = 100
"""Trajectory ``i`` takes its initial state from the random stream of block ``i // 100``."""

SIMULATION_BLOCK = 5000
"""`generate_trajectories` simulates at most this many trajectories at once, so the step's working
set (about 2 kB per trajectory) stays in the CPU's last-level cache. Measured on a 2-core AMD EPYC
(32 MB L3, shared, ±15%): 10,000 ``small`` trajectories in 6.6-7 s (7.2-7.8 s as one batch),
50,000 ``sweep`` trajectories in 32 s (51 s as one batch)."""


@dataclass(frozen=True)
class NBodyConfig:
    """Parameters of the simulation and of the prediction task; the defaults are EGNN's
    ``nbody_small`` (``generate_dataset.py --num-train 10000 --seed 43 --sufix small``).

    Args:
        n_particles: number of particles (``--n_balls 5``), masses 1.
        loc_std: initial positions ~ N(0, σ² I) with σ = loc_std · (n_particles / 5)^(1/3).
        speed: every initial velocity is a Gaussian direction rescaled to this norm.
        box_size: the *initial* state is reflected into [-box, box]^3; no walls afterwards.
        interaction: Coulomb strength c; charges are ±1 with probability 1/2 each.
        dt: time step.
        max_force: each force component is clipped to ±max_force (0.1 / dt in the source).
        length: number of steps simulated (trajectories of ``length // sample_freq - 1`` frames).
        sample_freq: frame ``k`` is the state after ``(k + 1) · sample_freq`` steps.
        input_frame: frame of the model's input (positions, velocities).
        target_frame: frame of the target positions.
    """

    n_particles: int = 5
    loc_std: float = 1.0
    speed: float = 0.5
    box_size: float = 5.0
    interaction: float = 1.0
    dt: float = 0.001
    max_force: float = 100.0
    length: int = 5000
    sample_freq: int = 100
    input_frame: int = 30
    target_frame: int = 40

    def __post_init__(self) -> None:
        if self.n_particles < 2:
            raise ValueError(f"NBodyConfig: expected n_particles >= 2 (got {self.n_particles})")
        if self.sample_freq < 1 or self.length % self.sample_freq:
            raise ValueError(
                f"NBodyConfig: expected length ({self.length}) to be a multiple of sample_freq "
                f"({self.sample_freq})"
            )
        if not 0 <= self.input_frame < self.target_frame < self.n_frames:
            raise ValueError(
                f"NBodyConfig: expected 0 <= input_frame < target_frame < {self.n_frames} frames "
                f"(got {self.input_frame}, {self.target_frame})"
            )

    @property
    def n_frames(self) -> int:
        """Frames per trajectory: ``length // sample_freq - 1`` (the source overwrites frame 0)."""
        return self.length // self.sample_freq - 1

    @property
    def position_std(self) -> float:
        return self.loc_std * (self.n_particles / 5) ** (1 / 3)

    def step_of(self, frame: int) -> int:
        """The simulation step recorded as ``frame``: ``(frame + 1) · sample_freq``."""
        return (frame + 1) * self.sample_freq

    def generation_params(self) -> dict[str, Any]:
        """The parameters that determine the trajectories (not the input/target frames)."""
        params = asdict(self)
        del params["input_frame"], params["target_frame"]
        return params


SMALL = NBodyConfig()
"""EGNN ``nbody_small``: 5,000 steps sampled every 100, input frame 30 → target frame 40."""

SWEEP = NBodyConfig(sample_freq=500, input_frame=6, target_frame=8)
"""EGNN ``nbody`` (data-efficiency sweep): sampled every 500, frame 6 → 8 (also 1,000 steps)."""


def sample_initial_state(
    config: NBodyConfig, n: int, seed: int, *, start: int = 0
) -> dict[str, Tensor]:
    """Initial states of trajectories ``start, …, start + n - 1`` of the stream ``seed``.

    Charges ±1 (p = 1/2 each), positions ~ N(0, σ² I₃), velocities of norm ``config.speed`` in
    uniformly random directions; coordinates beyond ±box are reflected back (the source's
    ``_clamp``, applied to the initial state only; with σ = 1 it almost never acts).

    Returns:
        ``{"pos": [n, N, 3], "vel": [n, N, 3], "charge": [n, N, 1]}``, float64.
    """
    if n < 0 or start < 0:
        raise ValueError(f"sample_initial_state: expected n, start >= 0 (got {n}, {start})")
    first = start // CHUNK_SIZE
    stop = max(-(-(start + n) // CHUNK_SIZE), first + 1)  # one block even for n = 0: the shapes
    chunks = [_sample_chunk(config, _chunk_seed(config, seed, c)) for c in range(first, stop)]
    offset = start - first * CHUNK_SIZE
    return {
        key: torch.cat([c[key] for c in chunks])[offset : offset + n]
        for key in ("pos", "vel", "charge")
    }


def _chunk_seed(config: NBodyConfig, seed: int, chunk: int) -> int:
    params = {"params": config.generation_params(), "seed": seed, "chunk": chunk}
    text = json.dumps(params, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def _sample_chunk(config: NBodyConfig, seed: int) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shape = (CHUNK_SIZE, config.n_particles)
    f64 = torch.float64
    charge = torch.randint(0, 2, (*shape, 1), generator=gen).to(f64) * 2 - 1
    pos = torch.randn(*shape, DIM, generator=gen, dtype=f64) * config.position_std
    vel = torch.randn(*shape, DIM, generator=gen, dtype=f64)
    vel = vel * config.speed / vel.norm(dim=-1, keepdim=True)
    box = config.box_size
    over, under = pos > box, pos < -box
    pos = torch.where(over, 2 * box - pos, torch.where(under, -2 * box - pos, pos))
    vel = torch.where(over, -vel.abs(), torch.where(under, vel.abs(), vel))
    return {"pos": pos, "vel": vel, "charge": charge}


def _check_state(pos: Tensor, vel: Tensor, charge: Tensor, config: NBodyConfig) -> None:
    """One-line errors for initial states of the wrong shape."""
    batch, n = pos.shape[0], config.n_particles
    for name, value, width in (("pos", pos, DIM), ("vel", vel, DIM), ("charge", charge, 1)):
        if value.shape != (batch, n, width):
            raise ValueError(
                f"simulate: expected `{name}` of shape [{batch}, {n}, {width}] "
                f"(got {list(value.shape)})"
            )


def simulate(pos: Tensor, vel: Tensor, charge: Tensor, config: NBodyConfig) -> dict[str, Tensor]:
    r"""Integrate a batch of trajectories from their initial states (float64).

    With masses 1, charges q_i and ``c = config.interaction``, the force on particle i is

    .. math::
        F_i(x) = \operatorname{clip}\Big(\sum_{j \ne i} c\, q_i q_j
                 \frac{x_i - x_j}{\lVert x_i - x_j \rVert^3},\ \pm F_{max}\Big)

    clipped per component (like charges repel). The source's semi-implicit Euler scheme:
    ``v ← v₀ + Δt F(x₀)``; then for steps s = 1, …, length - 1: ``x ← x + Δt v``; if
    ``sample_freq`` divides s, record (x, v) as frame ``s / sample_freq - 1``; ``v ← v + Δt F(x)``.
    The recorded velocity is the one that moved x to the recorded position.

    Without clipping the dynamics commute with E(3) and conserve Σ_i v_i; the per-component clip
    breaks both, so ``clipped`` records where it acted.

    Args:
        pos, vel: initial positions and velocities ``[B, N, 3]``.
        charge: charges ``[B, N, 1]``.
        config: the simulation parameters.

    Returns:
        ``{"pos": [B, T, N, 3], "vel": [B, T, N, 3], "clipped": [B, T] bool}`` with
        ``T = config.n_frames``; ``clipped[b, k]``: a force component was clipped in a step
        between frame k - 1 and frame k (for k = 0: since the start). The state at frame k
        determines the rest of the trajectory (restarting `simulate` from it continues it
        exactly), so the map frame j → frame k is E(3)-equivariant where ``clipped[b, j+1 : k+1]``
        is all False.
    """
    # One function on purpose: the buffers below are allocated once and `kick` closes over them,
    # so the 5,000-step loop allocates nothing; half of its length is the docstring.
    _check_state(pos, vel, charge, config)
    batch, n = pos.shape[0], config.n_particles
    f64 = torch.float64
    dt, max_force = config.dt, config.max_force
    # component-major [3, B, N] state and preallocated buffers: no allocation inside the loop
    cpu = torch.device("cpu")
    x = pos.to(cpu, f64).permute(2, 0, 1).contiguous()
    v = vel.to(cpu, f64).permute(2, 0, 1).contiguous()
    q = charge.to(cpu, f64)[:, :, 0]
    coupling = config.interaction * q[:, :, None] * q[:, None, :]  # [B, N, N]
    eye = torch.eye(n, dtype=f64)  # adds 1 to |x_i - x_i|² = 0: no 0/0; d_ii = 0 kills the term
    frames = torch.empty(config.n_frames, 2, DIM, batch, n, dtype=f64)
    clipped = torch.empty(config.n_frames, batch, dtype=torch.bool)
    diff = torch.empty(DIM, batch, n, n, dtype=f64)
    square = torch.empty_like(diff)
    r2, r3, scale = (torch.empty(batch, n, n, dtype=f64) for _ in range(3))
    force, step = torch.empty(DIM, batch, n, dtype=f64), torch.empty(DIM, batch, n, dtype=f64)
    peak = torch.zeros(DIM, batch, n, dtype=f64)
    r2_np, r3_np = r2.numpy(), r3.numpy()  # views of the same memory

    def kick() -> None:  # v ← v + Δt clip(F(x))
        torch.sub(x[:, :, :, None], x[:, :, None, :], out=diff)
        torch.mul(diff, diff, out=square)
        torch.add(square[0], square[1], out=r2)
        r2.add_(square[2]).add_(eye)
        np.sqrt(r2_np, out=r3_np)  # see the module docstring: torch.sqrt is not exact
        r3.mul_(r2)
        torch.div(coupling, r3, out=scale)
        diff.mul_(scale)
        force.copy_(diff[..., 0])
        for j in range(1, n):  # Σ_j in a fixed order (a reduction kernel might reassociate)
            force.add_(diff[..., j])
        torch.maximum(peak, torch.abs(force, out=step), out=peak)
        force.clamp_(-max_force, max_force).mul_(dt)
        v.add_(force)

    kick()
    for s in range(1, config.length):
        x.add_(torch.mul(v, dt, out=step))
        if s % config.sample_freq == 0:
            k = s // config.sample_freq - 1
            frames[k, 0].copy_(x)
            frames[k, 1].copy_(v)
            clipped[k] = (peak > max_force).any(0).any(-1)
            peak.zero_()
        kick()
    out = frames.permute(1, 3, 0, 4, 2).contiguous()  # [2, B, T, N, 3]
    return {"pos": out[0], "vel": out[1], "clipped": clipped.T.contiguous()}


def generate_trajectories(
    config: NBodyConfig, n: int, seed: int, *, start: int = 0
) -> dict[str, Tensor]:
    """Sample and simulate trajectories ``start, …, start + n - 1`` of the stream ``seed``.

    Example:
        >>> traj = generate_trajectories(SMALL, 2, seed=0)
        >>> traj["pos"].shape, traj["charge"].shape, traj["clipped"].shape
        (torch.Size([2, 49, 5, 3]), torch.Size([2, 5, 1]), torch.Size([2, 49]))

    Returns:
        ``{"pos": [n, T, N, 3], "vel": [n, T, N, 3], "charge": [n, N, 1], "clipped": [n, T]}``
        (float64, ``clipped`` bool), see `simulate`.
    """
    initial = sample_initial_state(config, n, seed, start=start)
    # blocks only bound the working set: a trajectory is bitwise the same in any batch
    n_blocks = max(-(-n // SIMULATION_BLOCK), 1)
    block = max(-(-n // n_blocks), 1)  # equal blocks of at most SIMULATION_BLOCK
    pos, vel, charge = initial["pos"], initial["vel"], initial["charge"]
    blocks = [
        simulate(pos[i : i + block], vel[i : i + block], charge[i : i + block], config)
        for i in range(0, max(n, 1), block)
    ]
    out = {key: torch.cat([b[key] for b in blocks]) for key in blocks[0]}
    return {**out, "charge": charge}
