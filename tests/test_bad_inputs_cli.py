"""Bad inputs and faults through the command line, replayed from a table: each gives one line
naming what was wrong, where and the fix, and a documented exit code (docs/experiments.md:
2 a usage or config mistake or missing data, 3 a run failed or diverged, 1 an internal error);
never a Python traceback. Faults a sweep can recover from (corrupt records) are recovered."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from symml.cli import app
from symml.training import RunConfig

from .training.conftest import TINY

SMALL = {**TINY, "data": {**TINY["data"], "train_size": 16}}


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def _sweep(tmp: Path, grid: dict[str, Any], **extra: Any) -> list[str]:
    return ["sweep", str(_write(tmp / "x.yaml", {**SMALL, **extra, "sweep": grid})),
            "--runs-dir", str(tmp / "runs")]  # fmt: skip


def _run(tmp: Path, *overrides: str, config: dict[str, Any] | None = None) -> list[str]:
    path = _write(tmp / "x.yaml", config or SMALL)
    return ["run", str(path), *overrides, "--runs-dir", str(tmp / "runs")]


def _run_dir(tmp: Path, config: dict[str, Any] | None = None) -> Path:
    resolved = RunConfig.model_validate(config or SMALL)
    return tmp / "runs" / resolved.experiment / resolved.run_id()


@dataclass
class Case:
    """One bad input: the command (built in a temporary folder), its exit code, the message."""

    name: str
    args: Callable[[Path], list[str]]
    code: int
    message: str
    check: Callable[[Path, str], None] = field(default=lambda tmp, out: None)


def _diverging(tmp: Path) -> list[str]:
    return _sweep(tmp, {"seed": [0, 1]}, trainer={**SMALL["trainer"], "optimizer": {"lr": 1e6}})


def _good_and_broken(tmp: Path) -> list[str]:
    models = [
        {"name": "emlp", "options": {"hidden": 16, "num_layers": 1}},
        {"name": "mlp", "options": {"hidden": ["abc", 16], "num_layers": 1}},
    ]
    return _sweep(tmp, {"model": models})


def _good_one_finished(tmp: Path, out: str) -> None:
    results = list((tmp / "runs" / "tiny").glob("*/result.json"))
    assert len(results) == 1 and json.loads(results[0].read_text())["model"] == "emlp"
    failed = list((tmp / "runs" / "tiny").glob("*/failed.json"))
    assert len(failed) == 1 and "model.options" in json.loads(failed[0].read_text())["reason"]


def _corrupt_result(content: str) -> Callable[[Path], list[str]]:
    def args(tmp: Path) -> list[str]:
        folder = _run_dir(tmp)
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(content)
        return _sweep(tmp, {"seed": [0]})

    return args


def _retrained(tmp: Path, out: str) -> None:
    folder = _run_dir(tmp)
    assert json.loads((folder / "result.json").read_text())["status"] == "finished"
    assert (folder / "result.json.corrupt").is_file()


def _corrupt_failed(tmp: Path) -> list[str]:
    folder = _run_dir(tmp)
    folder.mkdir(parents=True)
    (folder / "failed.json").write_text("{not json")
    return _sweep(tmp, {"seed": [0]})


def _lock(pid: int) -> Callable[[Path], list[str]]:
    def args(tmp: Path) -> list[str]:
        folder = _run_dir(tmp)
        folder.mkdir(parents=True)
        (folder / ".lock").write_text(str(pid))
        return _run(tmp)

    return args


def _lock_of_an_unrelated_process(tmp: Path) -> list[str]:
    sleeper = subprocess.Popen(["sleep", "30"])  # alive, but not a symml (python) process
    _CHILDREN.append(sleeper)
    return _lock(sleeper.pid)(tmp)


_CHILDREN: list[subprocess.Popen[bytes]] = []


def _config_file(text: str) -> Callable[[Path], list[str]]:
    def args(tmp: Path) -> list[str]:
        (tmp / "bad.yaml").write_text(text)
        return ["run", str(tmp / "bad.yaml"), "--runs-dir", str(tmp / "runs")]

    return args


def _mixed_report(tmp: Path) -> list[str]:
    runs = tmp / "runs"
    for epochs in (1, 2):  # one experiment name, two configs: same model, size and seed
        config = {**SMALL, "trainer": {**SMALL["trainer"], "epochs": epochs}}
        result = CliRunner().invoke(app, _run(tmp, config=config))
        assert result.exit_code == 0, result.output
    return ["report", str(runs / "tiny")]


def _first_epoch_divergence(tmp: Path, out: str) -> None:
    log = re.search(r"its log is (\S+log\.txt)", out.replace("\n", ""))
    assert log is not None and Path(log.group(1)).is_file()


def _records(tmp: Path) -> Path:
    result = CliRunner().invoke(app, _run(tmp))
    assert result.exit_code == 0, result.output
    return tmp / "runs"


def _cache_under_a_file(tmp: Path) -> list[str]:
    _write(tmp / "file", {})
    os.environ["SYMML_CACHE_DIR"] = str(tmp / "file" / "cache")  # restored by monkeypatch
    data = {"name": "nbody_charged", "options": {"size": 8}, "val_size": 4, "test_size": 4}
    config = {**SMALL, "data": data, "model": {"name": "gnn", "options": {"hidden": 8}}}
    return _run(tmp, config=config)


def _corrupt_run_result(tmp: Path) -> list[str]:
    folder = _run_dir(tmp)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    return _run(tmp)


def _no_training(tmp: Path, out: str) -> None:
    assert not list((tmp / "runs").glob("*/*/metrics.jsonl"))


def _internal_error(tmp: Path) -> list[str]:
    import symml.training.report as report

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    _PATCHES.append((report, "build_report", report.build_report))
    report.build_report = broken  # type: ignore[assignment]
    (tmp / "runs").mkdir()
    return ["report", str(tmp / "runs")]


_PATCHES: list[tuple[Any, str, Any]] = []


def _traceback_saved(tmp: Path, out: str) -> None:
    saved = re.search(r"the traceback is in (\S+\.log)", out.replace("\n", ""))
    assert saved is not None and "RuntimeError: boom" in Path(saved.group(1)).read_text()


CASES = [
    Case("sweep where every run diverges", _diverging, 3, r"2 run\(s\) failed"),
    Case(
        "sweep where every run is misconfigured",
        lambda t: _sweep(t, {"data.train_size": [100000]}),
        3,
        r"data.train_size: 100000 samples requested but the split has only",
    ),
    Case("empty sweep axis", lambda t: _sweep(t, {"seed": []}), 2, r"sweep.seed: an empty list"),
    Case(
        "one good run, one broken",
        _good_and_broken,
        3,
        r"model.options: cannot build 'mlp'",
        _good_one_finished,
    ),
    Case("result.json holding {}", _corrupt_result("{}"), 0, r"result.json.*set aside", _retrained),
    Case(
        "truncated result.json",
        _corrupt_result('{"run_id": "x", "stat'),
        0,
        r"result.json: corrupt result.json.*set aside as result.json.corrupt",
        _retrained,
    ),
    Case(
        "corrupt failed.json",
        _corrupt_failed,
        0,
        r"failed.json: unreadable .*set aside as failed.json.corrupt; the run is trained again",
    ),
    Case(
        "unknown launcher",
        lambda t: [*_sweep(t, {"seed": [0]}), "--launcher", "slurm"],
        2,
        r"--launcher: unknown launcher 'slurm'; expected local",
    ),
    Case(
        "no workers",
        lambda t: [*_sweep(t, {"seed": [0]}), "--workers", "0"],
        2,
        r"--workers: expected at least 1 worker process \(got 0\)",
    ),
    Case(
        "no devices", lambda t: [*_run(t), "--devices", "0"], 2, r"--devices: expected at least 1"
    ),
    Case(
        "boolean batch size",
        lambda t: _run(t, "trainer.batch_size=true"),
        2,
        r"trainer.batch_size: .*expected a number, not the boolean True",
    ),
    Case(
        "unknown device",
        lambda t: _run(t, "trainer.device=banana"),
        2,
        r"trainer.device: .*expected cpu, cuda, cuda:N, mps or auto.*\(got 'banana'\)",
    ),
    Case(
        "non-numeric model option",
        lambda t: _run(t, "model.options.hidden=abc"),
        2,
        r"model.options: cannot build 'emlp'",
    ),
    Case("a folder as the config", lambda t: ["run", str(t)], 2, r"is a folder; give a config"),
    Case(
        "runs folder under a file",
        lambda t: [*_run(t)[:-1], str(_write(t / "file", {}) / "runs")],
        2,
        r"Not a directory",
    ),
    Case(
        "transformed test by a group that does not act",
        lambda t: _run(
            t,
            config={
                **SMALL,
                "data": {
                    **SMALL["data"],
                    "name": "o5_synthetic",
                    "transformed_tests": [{"name": "r", "kind": "random", "group": "SO2"}],
                },
                "model": {"name": "mlp", "options": {"hidden": 8, "num_layers": 1}},
            },  # fmt: skip
        ),
        2,
        r"data.transformed_tests \(r\): .*choose a group that acts on this dataset",
        _no_training,
    ),
    Case(
        "run locked by a live symml process",
        _lock(os.getpid()),
        2,
        rf"being trained by process {os.getpid()} \(lock file .*\.lock\); wait for it",
    ),
    Case(
        "stale lock held by an unrelated process",
        _lock_of_an_unrelated_process,
        0,
        r"run directory:",
    ),
    Case("seed out of range", lambda t: _run(t, "seed=99999999999999999999"), 2, r"seed: .*less"),
    Case(
        "malformed YAML",
        _config_file("model: {name: emlp\ndata: [\n"),
        2,
        r"bad.yaml:\d+:\d+: not valid YAML: .*check the indentation",
    ),
    Case(
        "a python tag in YAML",
        _config_file("model: !!python/object/apply:os.system [ls]\n"),
        2,
        r"bad.yaml:1:\d+: could not determine a constructor.*without !! tags",
    ),
    Case(
        "preparing an unknown dataset",
        lambda t: ["data", "prepare", "UNKNOWN"],
        2,
        r"UNKNOWN: .*unknown dataset",
        lambda tmp, out: None if "Prepared datasets" not in out else pytest.fail("empty table"),
    ),
    Case(
        "divergence in the first epoch",
        lambda t: _run(t, "trainer.optimizer.lr=1.0e+6"),
        3,
        r"loss became .* its log is",
        _first_epoch_divergence,
    ),
    Case(
        "report of two configs under one name",
        _mixed_report,
        2,
        r"both have seed 0; .*experiment=NAME",
    ),
    Case(
        "a report folder under a file",
        lambda t: ["report", str(_records(t)), "--out", str(_write(t / "file", {}) / "report")],
        2,
        r"Not a directory|File exists",
    ),
    Case(
        "a cache folder under a file",
        _cache_under_a_file,
        2,
        r"cannot create symml's cache folder \(Not a directory\); set SYMML_CACHE_DIR",
    ),
    Case(
        "result.json holding {} under symml run", _corrupt_run_result, 0, r"set aside", _retrained
    ),
    Case(
        "a group name that is not one",
        lambda t: _run(t, "data.transformed_tests=[{name: r, group: O7x}]"),
        2,
        r"'O7x'",
    ),
    Case(
        "a model with no layers",
        lambda t: ["check", "egnn", "-s", "layers=-1"],
        2,
        r"error: egnn: .*layers >= 1 \(got -1\)",
    ),
    Case(
        "a representation too large to decompose",
        lambda t: ["decompose", "regular(Cyclic(300))"],
        2,
        r"symml decompose: .*MAX_",
    ),
    Case(
        "an internal error", _internal_error, 1, r"internal error, a bug in symml", _traceback_saved
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_line_and_its_exit_code(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    try:
        result = CliRunner().invoke(app, case.args(tmp_path))
    finally:
        for module, name, original in _PATCHES:
            setattr(module, name, original)
        _PATCHES.clear()
        for child in _CHILDREN:
            child.kill()
            child.wait()
        _CHILDREN.clear()
    out = result.output
    assert result.exit_code == case.code, out
    assert re.search(case.message, out.replace("\n", "")), out
    assert "Traceback" not in out and not isinstance(result.exception, AssertionError)
    if case.code:
        errors = [line for line in out.splitlines() if re.match(r"(error|stopped|internal)", line)]
        assert len(errors) <= 1, out  # the message is one line (long lines are not wrapped)
    case.check(tmp_path, out)


def test_a_sweep_of_good_runs_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _sweep(tmp_path, {"seed": [0, 1]}))
    assert result.exit_code == 0, result.output
    assert "2 runs trained now, 0 kept from before, 0 failed" in result.output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--debug", *_run(tmp_path, "trainer.device=banana")])
    assert result.exit_code == 1 and result.exception is not None  # raised, not a red line


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to tell symml from others")
def test_lock_holder_tells_a_live_symml_run_from_a_recycled_process_id(tmp_path: Path) -> None:
    from symml.training.rundir import RunDir, lock_holder

    run = RunDir(tmp_path)
    (tmp_path / ".lock").write_text(str(os.getpid()))
    assert lock_holder(run) == os.getpid()
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        (tmp_path / ".lock").write_text(str(sleeper.pid))
        assert lock_holder(run) is None
        sleeper.kill()
