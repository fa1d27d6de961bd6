"""Sweeps: grid expansion, resume after SIGKILL, parallel workers, Ray, DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from symml.training import RunConfig, expand, run_sweep, train
from symml.training.config_files import load_sweep

from .conftest import TINY, write_experiment

SIX = {**TINY, "sweep": {"model.options.hidden": [8, 16], "seed": [0, 1, 2]}}


def _finished(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob("*/*/result.json")}


def test_grid_expansion_deduplicates() -> None:
    raw = {**TINY, "sweep": {"seed": [0, 1, 0], "model.name": ["emlp"]}}
    configs = expand(raw, load_sweep(raw))
    assert [c.seed for c in configs] == [0, 1]
    assert len({c.run_id() for c in configs}) == 2


def test_sweep_keys_are_validated() -> None:
    from symml.training import ConfigError

    raw = {**TINY, "sweep": {"trainer.epochz": [1, 2]}}
    with pytest.raises(ConfigError, match=r"trainer\.epochz: unknown key"):
        expand(raw, load_sweep(raw))


def test_sigkill_midway_then_resume_runs_everything_exactly_once(tmp_path: Path) -> None:
    slow = {**SIX, "trainer": {**TINY["trainer"], "epochs": 40}}
    path = write_experiment(tmp_path / "six.yaml", slow)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "symml.cli", "sweep", str(path), "--runs-dir", str(runs),
               "--no-report"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while len(_finished(runs)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(runs)
    assert 2 <= len(before) < 6, "the sweep was not interrupted midway"
    stamps = {k: (runs / "tiny" / k / "result.json").stat().st_mtime_ns for k in before}
    outcome = run_sweep({**slow}, runs)
    after = _finished(runs)
    assert len(after) == 6 and outcome.skipped == len(before) and outcome.ran == 6 - len(before)
    for k, stamp in stamps.items():  # finished runs were kept, not redone
        assert (runs / "tiny" / k / "result.json").stat().st_mtime_ns == stamp
    for run_id, result in after.items():
        assert result["run_id"] == run_id
        lines = (runs / "tiny" / run_id / "metrics.jsonl").read_text().splitlines()
        rows = [json.loads(x) for x in lines]
        assert [r["epoch"] for r in rows] == list(range(1, 41))  # each epoch once
    assert not list(runs.glob("*/*/.lock")) and not list(runs.glob("*/*/.*.tmp"))


def test_claim_removes_a_killed_writers_temp_files_but_not_a_live_ones(tmp_path: Path) -> None:
    from symml.training.rundir import RunDir
    from symml.training.sweep import claim

    run = RunDir(tmp_path / "exp" / "abc")
    run.path.mkdir(parents=True)
    stale = run.path / ".checkpoint.pt.x1y2.tmp"
    stale.write_bytes(b"half a checkpoint")
    (run.path / ".lock").write_text(str(os.getpid()))  # a live holder: leave its files alone
    with claim(run) as owned:
        assert not owned and stale.exists()
    (run.path / ".lock").write_text("999999999")  # a dead holder's lock is taken over
    with claim(run) as owned:
        assert owned and not stale.exists()
    assert not (run.path / ".lock").exists()


def test_two_local_workers(tmp_path: Path) -> None:
    outcome = run_sweep(SIX, tmp_path, workers=2)
    results = _finished(tmp_path)
    assert outcome.ran == 6 and len(results) == 6 and not outcome.failed
    for run_id, result in results.items():
        saved = yaml.safe_load((tmp_path / "tiny" / run_id / "config.yaml").read_text())
        config = RunConfig.model_validate(saved)
        assert config.run_id() == run_id == result["run_id"]


def test_ray_launcher_runs_a_four_run_sweep(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'symml[ray]')")
    raw = {**TINY, "sweep": {"seed": [0, 1, 2, 3]}, "launcher": {"name": "ray"}}
    outcome = run_sweep(raw, tmp_path)
    assert outcome.ran == 4 and len(_finished(tmp_path)) == 4 and not outcome.failed


def test_ddp_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    # full-batch steps: the same global batch, so the averaged gradient is the same
    experiment = {**TINY, "trainer": {**TINY["trainer"], "epochs": 3, "batch_size": 32}}
    config = RunConfig.model_validate(experiment)
    single = train(config, tmp_path / "single")
    path = write_experiment(tmp_path / "ddp.yaml", experiment)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "symml.cli", "run", str(path), "--devices", "2",
               "--runs-dir", str(tmp_path / "ddp")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    ddp = json.loads((tmp_path / "ddp" / "tiny" / config.run_id() / "result.json").read_text())
    assert ddp["test"] == pytest.approx(single.test, rel=1e-4)
    assert ddp["val"] == pytest.approx(single.val, rel=1e-4)
