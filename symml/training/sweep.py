"""Sweeps: a grid over config keys, each run keyed by the hash of its resolved config.

Re-running a sweep skips finished runs (``result.json`` present), re-runs unfinished ones from
scratch, and never runs one config twice: runs are deduplicated by hash and each run directory is
claimed with an exclusive lock file while it trains, so two sweeps (or two workers) never write
the same files. Runs that diverged (``failed.json``) are reported, not retried, unless asked.

Launchers: ``local`` (worker processes on this machine; one worker trains in-process) and ``ray``
(each run is a task on an existing Ray cluster; the runs directory must be shared storage).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from symml.training.config import RunConfig, SweepConfig, load_sweep, set_path, validate
from symml.training.loop import TrainingDiverged, train
from symml.training.rundir import RunDir


def expand(raw: dict[str, Any], sweep: SweepConfig) -> list[RunConfig]:
    """Every combination of the grid's values applied to ``raw``, validated, duplicates removed
    (two combinations that resolve to one config are one run)."""
    keys = list(sweep.grid)
    configs: dict[str, RunConfig] = {}
    for values in itertools.product(*(sweep.grid[k] for k in keys)):
        point = raw
        for key, value in zip(keys, values, strict=True):
            point = set_path(point, key, value)
        config = validate(point)
        configs.setdefault(config.run_id(), config)
    return list(configs.values())


@dataclass
class SweepOutcome:
    """What a sweep did: results of finished runs (new and earlier), and the runs that failed."""

    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    ran: int = 0
    failed: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def claim(run: RunDir) -> Iterator[bool]:
    """Hold ``run``'s lock file while training; yields False when another live process holds it."""
    run.path.mkdir(parents=True, exist_ok=True)
    lock = run.path / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if _holder_alive(lock):
                yield False
                return
            lock.unlink(missing_ok=True)  # left by a killed process: take it over
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        try:
            # a process killed mid-write (SIGKILL, power loss) leaves its temp file; we hold
            # the lock now, so no live writer can own one
            run.remove_stale_temporaries()
            yield True
        finally:
            lock.unlink(missing_ok=True)
        return
    yield False


def _holder_alive(lock: Path) -> bool:
    try:
        pid = int(lock.read_text() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_one(config_json: str, runs_root: str, threads: int | None = None) -> dict[str, Any]:
    """Train one run (in a worker process or a Ray task); ``{"result": ...}`` or
    ``{"error": message}`` — a failure is data, so that one bad run does not stop a sweep."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    config = RunConfig.model_validate_json(config_json)
    run = RunDir(Path(runs_root) / config.experiment / config.run_id())
    run_id = config.run_id()
    with claim(run) as owned:
        if not owned:
            return {"run_id": run_id, "error": "being trained by another process"}
        quiet_trainer = config.trainer.model_copy(update={"progress": False})
        quiet = config.model_copy(update={"trainer": quiet_trainer})
        try:
            return {"run_id": run_id, "result": train(quiet, runs_root, Console(quiet=True))}
        except (TrainingDiverged, ValueError, RuntimeError) as err:
            return {"run_id": run_id, "error": str(err)}


Launch = Callable[[list[RunConfig], Path, Callable[[dict[str, Any]], None]], None]


def _local(workers: int) -> Launch:
    def launch(
        configs: list[RunConfig], root: Path, done: Callable[[dict[str, Any]], None]
    ) -> None:
        if workers == 1:
            for c in configs:
                done(run_one(c.model_dump_json(), str(root)))
            return
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch state
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(run_one, c.model_dump_json(), str(root), threads) for c in configs
            ]
            for future in concurrent.futures.as_completed(futures):
                done(future.result())

    return launch


def _ray(address: str | None) -> Launch:
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "launcher.name=ray needs Ray: pip install 'symml[ray]' (or use launcher.name=local)"
        ) from err

    def launch(
        configs: list[RunConfig], root: Path, done: Callable[[dict[str, Any]], None]
    ) -> None:
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        try:
            task = ray.remote(num_cpus=1)(run_one)
            pending = [task.remote(c.model_dump_json(), str(root), 1) for c in configs]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done(ray.get(ready[0]))
        finally:
            if started_here:
                ray.shutdown()

    return launch


def run_sweep(
    raw: dict[str, Any],
    runs_root: Path | str,
    *,
    workers: int | None = None,
    launcher: str | None = None,
    retry_failed: bool = False,
    console: Console | None = None,
) -> SweepOutcome:
    """Run every pending run of the sweep described by ``raw`` (an experiment config with a
    ``sweep`` grid and an optional ``launcher``); returns all finished results."""
    console = console or Console()
    sweep = load_sweep(raw)
    settings = sweep.launcher.model_copy(
        update={k: v for k, v in (("workers", workers), ("name", launcher)) if v is not None}
    )
    configs = expand(raw, sweep)
    root = Path(runs_root)
    outcome = SweepOutcome()
    pending: list[RunConfig] = []
    for config in configs:
        run = RunDir(root / config.experiment / config.run_id())
        if run.finished():
            outcome.results.append(json.loads(run.result.read_text()))
            outcome.skipped += 1
        elif run.failed.exists() and not retry_failed:
            outcome.failed[config.run_id()] = json.loads(run.failed.read_text())["reason"]
        else:
            if run.failed.exists():
                run.failed.unlink()
            pending.append(config)
    console.print(
        f"sweep: {len(configs)} runs — {outcome.skipped} finished before, {len(pending)} to run, "
        f"{len(outcome.failed)} failed before; launcher {settings.name}"
        + (f" with {settings.workers} workers" if settings.name == "local" else "")
    )
    launch = _local(settings.workers) if settings.name == "local" else _ray(settings.address)
    columns = (
        TextColumn("sweep"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("sweep", total=len(pending), last="")

        def done(outcome_of_run: dict[str, Any]) -> None:
            if "result" in outcome_of_run:
                result = outcome_of_run["result"]
                outcome.results.append(result)
                outcome.ran += 1
                last = f"{result['label']} n={result['train_size']}: {result['test']:.4g}"
            else:
                outcome.failed[outcome_of_run["run_id"]] = outcome_of_run["error"]
                last = "failed: " + outcome_of_run["error"][:60]
            progress.update(bar, advance=1, last=last)

        launch(pending, root, done)
    return outcome
