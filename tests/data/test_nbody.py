"""The charged N-body dataset: simulator against a slow reference, conservation and symmetry laws
of the dynamics, seeding, nested sizes, the cache, and the dataset's schema and group action."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from symml.data import _nbody_simulator as simulator_module
from symml.data import build
from symml.data import nbody as nbody_module
from symml.data.nbody import (
    SMALL,
    SWEEP,
    NBodyCharged,
    NBodyConfig,
    build_nbody_charged,
    generate_trajectories,
    sample_initial_state,
    simulate,
)
from symml.groups import SE, SO2, SO3, E, Group, O, Permutations, Translations
from symml.reps import GraphRep, PointRep

E3 = E(3)


def reference_simulate(
    pos: Tensor, vel: Tensor, charge: Tensor, config: NBodyConfig
) -> dict[str, Tensor]:
    """One trajectory with explicit loops over particles, pairs and coordinates (Python floats):
    the EGNN/NRI update, written out term by term."""
    n, dt, limit = config.n_particles, config.dt, config.max_force
    x, v = pos.tolist(), vel.tolist()
    q = [c[0] for c in charge.tolist()]
    clipped_since_last_frame = False

    def forces() -> list[list[float]]:
        nonlocal clipped_since_last_frame
        out = []
        for i in range(n):
            f = [0.0, 0.0, 0.0]
            for j in range(n):
                if j != i:
                    d = [x[i][k] - x[j][k] for k in range(3)]
                    r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
                    r3 = r2 * math.sqrt(r2)  # |x_i - x_j|^3
                    coef = config.interaction * q[i] * q[j] / r3
                    for k in range(3):
                        f[k] += coef * d[k]
            if any(abs(fk) > limit for fk in f):
                clipped_since_last_frame = True
            out.append([min(max(fk, -limit), limit) for fk in f])
        return out

    def kick() -> None:
        f = forces()
        for i in range(n):
            for k in range(3):
                v[i][k] += dt * f[i][k]

    frames_x, frames_v, clipped = [], [], []
    kick()
    for step in range(1, config.length):
        for i in range(n):
            for k in range(3):
                x[i][k] += dt * v[i][k]
        if step % config.sample_freq == 0:
            frames_x.append([row[:] for row in x])
            frames_v.append([row[:] for row in v])
            clipped.append(clipped_since_last_frame)
            clipped_since_last_frame = False
        kick()
    f64 = torch.float64
    return {
        "pos": torch.tensor(frames_x, dtype=f64),
        "vel": torch.tensor(frames_v, dtype=f64),
        "clipped": torch.tensor(clipped),
    }


@pytest.fixture(scope="module")
def trajectories() -> dict[str, Tensor]:
    return generate_trajectories(SMALL, 32, seed=0)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    return tmp_path


# ----- the simulator --------------------------------------------------------------------------
@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("clipped", [False, True], ids=["unclipped", "clipped"])
def test_simulator_matches_reference(
    trajectories: dict[str, Tensor], clipped: bool, which: int
) -> None:
    """The ``which``-th trajectory with (or without) force clipping; in practice they agree
    bitwise (the same correctly rounded operations in the same order)."""
    index = int((trajectories["clipped"].any(1) == clipped).nonzero()[which, 0])
    initial = sample_initial_state(SMALL, 1, seed=0, start=index)
    expected = reference_simulate(initial["pos"][0], initial["vel"][0], initial["charge"][0], SMALL)
    for key in ("pos", "vel"):
        err = (trajectories[key][index] - expected[key]).abs().max().item()
        assert err < 1e-10, f"{key}: max deviation {err:.2e} from the reference"
    assert torch.equal(trajectories["clipped"][index], expected["clipped"])
    assert torch.equal(trajectories["charge"][index], initial["charge"][0])


def test_momentum_conserved_without_clipping(trajectories: dict[str, Tensor]) -> None:
    initial = sample_initial_state(SMALL, 32, seed=0)
    momentum = trajectories["vel"].sum(-2)  # [n, T, 3], masses 1
    drift = (momentum - initial["vel"].sum(-2)[:, None]).abs().amax((1, 2))
    clipped = trajectories["clipped"].any(1)
    assert 0 < int(clipped.sum()) < len(clipped)
    assert drift[~clipped].max() < 1e-10
    assert drift[clipped].max() > 1e-6  # clipping breaks Newton's third law: detection matters


def test_initial_state() -> None:
    state = sample_initial_state(SMALL, 200, seed=3)
    speed = state["vel"].norm(dim=-1)
    assert torch.allclose(speed, torch.full_like(speed, SMALL.speed), atol=1e-12)
    assert set(state["charge"].unique().tolist()) == {-1.0, 1.0}
    assert abs(state["pos"].std().item() - SMALL.position_std) < 0.1
    wide = NBodyConfig(loc_std=2.5)  # often outside the box: reflected back into it
    reflected = sample_initial_state(wide, 200, seed=3)
    assert reflected["pos"].abs().max() <= wide.box_size
    assert torch.allclose(reflected["vel"].norm(dim=-1), speed, atol=1e-12)


@pytest.mark.parametrize(
    ("config", "frames", "input_step"),
    [(SMALL, 49, 3100), (SWEEP, 9, 3500)],
    ids=["small", "sweep"],
)
def test_frames_and_horizon(config: NBodyConfig, frames: int, input_step: int) -> None:
    assert config.n_frames == frames
    assert config.step_of(config.input_frame) == input_step
    assert config.step_of(config.target_frame) - config.step_of(config.input_frame) == 1000
    traj = generate_trajectories(config, 2, seed=0)
    assert traj["pos"].shape == traj["vel"].shape == (2, frames, 5, 3)
    assert traj["charge"].shape == (2, 5, 1) and traj["clipped"].shape == (2, frames)
    assert traj["pos"].dtype == torch.float64 and traj["clipped"].dtype == torch.bool


def test_frame_k_is_step_k_plus_one_times_freq() -> None:
    every_step = NBodyConfig(length=1000, sample_freq=1, input_frame=0, target_frame=1)
    sampled = NBodyConfig(length=1000, sample_freq=100, input_frame=0, target_frame=1)
    initial = sample_initial_state(SMALL, 8, seed=0)
    fine = simulate(initial["pos"], initial["vel"], initial["charge"], every_step)
    coarse = simulate(initial["pos"], initial["vel"], initial["charge"], sampled)
    steps = [sampled.step_of(k) for k in range(sampled.n_frames)]  # frame j of `fine` = step j+1
    for key in ("pos", "vel"):
        assert torch.equal(coarse[key], fine[key][:, [s - 1 for s in steps]])
    # fine frame j covers the kick at step j; coarse frame k the kicks at steps 100k … 100k + 99
    assert torch.equal(coarse["clipped"], fine["clipped"][:, :900].reshape(8, 9, 100).any(-1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dynamics_commute_with_e3_without_clipping(seed: int) -> None:
    initial = sample_initial_state(SMALL, 24, seed=1)
    g = E3.sample(1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    rot = E3.matrices(g)[0]
    out = simulate(initial["pos"], initial["vel"], initial["charge"], SMALL)
    moved = simulate(
        E3.act_on_points(g, initial["pos"]), initial["vel"] @ rot.T, initial["charge"], SMALL
    )
    ok = ~out["clipped"].any(1) & ~moved["clipped"].any(1)
    assert int(ok.sum()) >= 5
    pos_err = (moved["pos"] - E3.act_on_points(g, out["pos"]))[ok].abs().max()
    vel_err = (moved["vel"] - out["vel"] @ rot.T)[ok].abs().max()
    assert pos_err < 1e-9 and vel_err < 1e-9


def test_simulate_checks_shapes() -> None:
    state = sample_initial_state(SMALL, 2, seed=0)
    with pytest.raises(
        ValueError, match=r"expected `charge` of shape \[2, 5, 1\] \(got \[2, 5\]\)"
    ):
        simulate(state["pos"], state["vel"], state["charge"][..., 0], SMALL)


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"length": 5050}, "multiple of sample_freq"), ({"target_frame": 49}, "target_frame < 49")],
)
def test_config_validation(changes: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NBodyConfig(**changes)


HORIZON = NBodyConfig(length=1100, sample_freq=100, input_frame=0, target_frame=9)
"""Continues a trajectory for 1,000 steps: frame 9 is step 1,000 after the restart."""


def test_target_is_the_input_simulated_1000_steps_on() -> None:
    ds = NBodyCharged("test", size=16, dtype=torch.float64, cache=False)
    out = simulate(ds.pos, ds.vel, ds.charge, HORIZON)
    assert torch.equal(out["pos"][:, 9], ds.target)
    assert torch.equal(out["clipped"].any(1), ds.clipped)


@pytest.mark.parametrize("seed", [0, 1])
def test_task_is_e3_equivariant_where_unclipped(seed: int) -> None:
    ds = NBodyCharged("test", size=32, dtype=torch.float64, cache=False)
    g = E3.sample(1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    moved = [ds.act(g, ds[i]) for i in range(len(ds))]
    pos, vel, y = (torch.stack([m[key] for m in moved]) for key in ("pos", "vel", "y"))
    out = simulate(pos, vel, ds.charge, HORIZON)
    err = (out["pos"][:, 9] - y).abs().amax((1, 2))
    exact = ~ds.clipped & ~out["clipped"].any(1)
    assert int(exact.sum()) >= 16 and err[exact].max() < 1e-9
    # docs/published.md §4a: the simulator clips force components in close encounters
    assert err[ds.clipped].max() > 1e-6, "clipping should break the symmetry"


# ----- seeding and nested sizes ---------------------------------------------------------------
def _tensors(ds: NBodyCharged) -> dict[str, Tensor]:
    return {
        "pos": ds.pos,
        "vel": ds.vel,
        "y": ds.target,
        "charge": ds.charge,
        "edge_attr": ds.edge_attr,
        "clipped": ds.clipped,
    }


def test_same_seed_same_data_and_splits_differ() -> None:
    first = _tensors(NBodyCharged("train", size=4, seed=5, cache=False))
    again = _tensors(NBodyCharged("train", size=4, seed=5, cache=False))
    assert all(torch.equal(first[k], again[k]) for k in first)
    other_seed = NBodyCharged("train", size=4, seed=6, cache=False)
    val = NBodyCharged("val", size=4, seed=5, cache=False)
    assert not torch.equal(first["pos"], other_seed.pos)
    assert not torch.equal(first["pos"], val.pos)


def test_simulation_blocks_do_not_change_trajectories(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = generate_trajectories(SMALL, 8, seed=0)
    monkeypatch.setattr(simulator_module, "SIMULATION_BLOCK", 3)  # blocks of 3, 3 and 2
    blocked = generate_trajectories(SMALL, 8, seed=0)
    assert all(torch.equal(whole[k], blocked[k]) for k in whole)


def test_smaller_sizes_are_prefixes() -> None:
    small = _tensors(NBodyCharged("train", size=8, cache=False))
    large = _tensors(NBodyCharged("train", size=16, cache=False))
    assert all(torch.equal(small[k], large[k][:8]) for k in small)
    shifted = generate_trajectories(SMALL, 5, seed=0, start=3)
    full = generate_trajectories(SMALL, 8, seed=0)
    assert all(torch.equal(shifted[k], full[k][3:]) for k in full)


# ----- the cache ------------------------------------------------------------------------------
def test_cache_key_covers_the_generation_parameters() -> None:
    key = nbody_module._cache_key
    assert key(SMALL, 0) == key(dataclasses.replace(SMALL, input_frame=10), 0)  # task, not data
    other_dt = NBodyConfig(dt=0.002, max_force=50.0)
    assert len({key(SMALL, 0), key(SMALL, 1), key(SWEEP, 0), key(other_dt, 0)}) == 4


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_cache_is_written_and_reused(_tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _tensors(NBodyCharged("train", size=8))
    (name,) = _cache_files(_tmp_cache)
    assert name.startswith("nbody_charged-") and name.endswith("-n100.pt")  # whole blocks

    def no_simulation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached trajectories should have been reused")

    with monkeypatch.context() as patch:
        patch.setattr(nbody_module, "generate_trajectories", no_simulation)
        for size in (8, 50):
            cached = _tensors(NBodyCharged("train", size=size))
            assert all(torch.equal(cached[k][:8], fresh[k]) for k in fresh)
    grown = _tensors(NBodyCharged("train", size=150))  # extends the file by one block
    assert [n.rsplit("-", 1)[1] for n in _cache_files(_tmp_cache)] == ["n200.pt"]
    assert all(torch.equal(grown[k][:8], fresh[k]) for k in fresh)
    assert all(
        torch.equal(grown[k], _tensors(NBodyCharged("train", size=150, cache=False))[k])
        for k in grown
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shapes"])
def test_corrupt_cache_is_regenerated(_tmp_cache: Path, damage: str) -> None:
    fresh = _tensors(NBodyCharged("test", size=4))
    (path,) = _tmp_cache.iterdir()
    if damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        torch.save({"pos": torch.zeros(2), "vel": 1, "charge": 2, "clipped": 3}, path)
    warning = re.escape(f"{path}: corrupt cache file (") + ".*; deleted, regenerating it"
    with pytest.warns(RuntimeWarning, match=warning) as record:
        again = _tensors(NBodyCharged("test", size=4))
    assert len(record) == 1
    assert all(torch.equal(again[k], fresh[k]) for k in fresh)
    NBodyCharged("test", size=4)  # the rewritten file loads without a warning


def test_failed_cache_write_keeps_the_trajectories_and_the_old_file(
    _tmp_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    NBodyCharged("train", size=8)
    (small,) = _cache_files(_tmp_cache)

    def disk_full(value: object, tmp: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nbody_module, "save_torch", disk_full)
    warning = r"-n200\.pt: could not write the cache file .*No space"
    with pytest.warns(RuntimeWarning, match=warning):
        grown = _tensors(NBodyCharged("train", size=150))
    fresh = _tensors(NBodyCharged("train", size=150, cache=False))
    assert all(torch.equal(grown[k], fresh[k]) for k in fresh)
    assert _cache_files(_tmp_cache) == [small]  # the smaller file is kept, nothing partial


# ----- the dataset ------------------------------------------------------------------------------
def test_sample_schema() -> None:
    ds = NBodyCharged("train", size=4, cache=False)
    traj = generate_trajectories(SMALL, 4, seed=nbody_module._split_seed(0, "train"))
    assert len(ds) == 4 and ds.group == E3
    sample = ds[2]
    assert sample.pos.shape == sample.vel.shape == sample.y.shape == (5, 3)
    assert sample.charge.shape == (5, 1) and sample.edge_attr.shape == (20, 1)
    assert sample.pos.dtype == torch.float32
    assert torch.equal(sample.pos, traj["pos"][2, 30].float())
    assert torch.equal(sample.vel, traj["vel"][2, 30].float())
    assert torch.equal(sample.y, traj["pos"][2, 40].float())
    rows, cols = sample.edge_index.tolist()
    assert sorted(zip(rows, cols, strict=True)) == [
        (i, j) for i in range(5) for j in range(5) if i != j
    ]
    q = sample.charge[:, 0]
    assert torch.equal(sample.edge_attr[:, 0], q[sample.edge_index[0]] * q[sample.edge_index[1]])
    assert torch.equal(ds.clipped, traj["clipped"][:, 31:41].any(1))  # kicks of frames 30 → 40


def test_sweep_preset() -> None:
    ds = NBodyCharged("train", size=2, preset="sweep", cache=False)
    traj = generate_trajectories(SWEEP, 2, seed=nbody_module._split_seed(0, "train"))
    assert (ds.config.sample_freq, ds.config.input_frame, ds.config.target_frame) == (500, 6, 8)
    assert torch.equal(ds.pos, traj["pos"][:, 6].float())
    assert torch.equal(ds.target, traj["pos"][:, 8].float())
    small_val = NBodyCharged("val", size=2, cache=False)  # EGNN validates the sweep on nbody_small
    assert torch.equal(NBodyCharged("val", size=2, preset="sweep", cache=False).pos, small_val.pos)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_act_moves_pos_vel_and_target(dtype: torch.dtype) -> None:
    ds = NBodyCharged("test", size=2, cache=False, dtype=dtype)
    g = E3.sample(1, generator=torch.Generator().manual_seed(0), dtype=dtype)
    rot, shift = E3.matrices(g)[0], E3.split(g)[1][0]
    sample = ds[1]
    moved = ds.act(g, sample)
    atol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(moved.pos, sample.pos @ rot.T + shift, rtol=0, atol=atol)
    torch.testing.assert_close(moved.vel, sample.vel @ rot.T, rtol=0, atol=atol)
    torch.testing.assert_close(moved.y, sample.y @ rot.T + shift, rtol=0, atol=atol)
    assert torch.equal(moved.charge, sample.charge)
    assert torch.equal(moved.edge_attr, sample.edge_attr)
    assert torch.equal(moved.edge_index, sample.edge_index)


@pytest.mark.parametrize("group", [E(3), SE(3), O(3), SO3(), Translations(3)], ids=repr)
def test_reps(group: Group) -> None:
    ds = NBodyCharged("test", size=1, cache=False)
    assert ds.reps(group) == (GraphRep(group, node=None, vectors=("vel",)), PointRep(group))
    assert ds.reps() == (GraphRep(E3, vectors=("vel",)), PointRep(E3))


@pytest.mark.parametrize("group", [SO2(), E(2), Permutations(5)], ids=repr)
def test_reps_rejects_groups_not_acting_on_r3(group: Group) -> None:
    ds = NBodyCharged("test", size=1, cache=False)
    with pytest.raises(ValueError, match=r"does not act on R\^3"):
        ds.reps(group)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"split": "valid"}, r"unknown split 'valid'; expected one of \('train', 'val', 'test'\)"),
        ({"preset": "big"}, r"unknown preset 'big'; expected one of \('small', 'sweep'\)"),
        ({"size": 0}, r"expected an integer 1 <= size <= 10000"),
        ({"split": "val", "size": 2001}, r"expected an integer 1 <= size <= 2000"),
        ({"size": 2.5}, r"expected an integer 1 <= size <= 10000 .* \(got 2\.5\)"),
    ],
)
def test_invalid_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_nbody_charged(**options, cache=False)


def test_registry_builds_it() -> None:
    ds = build("nbody_charged", "val", size=3, cache=False)
    assert isinstance(ds, NBodyCharged) and len(ds) == 3 and ds.split == "val"
