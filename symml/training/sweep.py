"""Sweeps: a grid over config keys, each run keyed by the hash of its resolved config.

Re-running a sweep skips finished runs (``result.json`` present), re-runs unfinished ones from
scratch, and never runs one config twice: runs are deduplicated by hash and each run directory is
claimed with an exclusive lock file while it trains, so two sweeps (or two workers) never write
the same files. Runs that diverged (``failed.json``) are reported, not retried, unless asked.

Launchers: ``local`` (worker processes on this machine; one worker trains in-process) and ``ray``
(each run is a task on an existing Ray cluster; the runs directory must be shared storage).

`sweep_and_report` is ``symml sweep``: the sweep of an experiment file, its runs and failures
printed, then its report; a caller raises `RunsFailed` when runs failed.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from symml.data import DataNotFoundError
from symml.training._report_console import runs_table
from symml.training.config import ConfigError, RunConfig, set_path, validate
from symml.training.config_files import LauncherConfig, SweepConfig, load, load_sweep, merge
from symml.training.loop import TrainingDiverged, recorded_result, train
from symml.training.report import write_report
from symml.training.run_result import RunResult
from symml.training.rundir import RunDir, claim, lock_holder, locked_message, write_json

# sections a `model` entry of the grid may carry beside name/options: that model's own settings
_PER_MODEL = ("trainer", "data", "tune")


def expand(raw: dict[str, Any], sweep: SweepConfig) -> list[RunConfig]:
    """Every combination of the grid's values applied to ``raw``, validated, duplicates removed
    (two combinations that resolve to one config are one run).

    A ``model`` entry's own ``trainer`` / ``data`` / ``tune`` sections are merged last, so a
    per-model setting wins over the experiment's and the grid's other axes.
    """
    keys = list(sweep.grid)
    configs: dict[str, RunConfig] = {}
    for values in itertools.product(*(sweep.grid[k] for k in keys)):
        point, own = raw, {}
        for key, value in zip(keys, values, strict=True):
            if key == "model" and isinstance(value, dict):
                own = {k: v for k, v in value.items() if k in _PER_MODEL}
                value = {k: v for k, v in value.items() if k not in _PER_MODEL}
            point = set_path(point, key, value)
        for section, settings in own.items():
            if not isinstance(settings, dict):
                raise ConfigError(
                    f"sweep.model: {section} of model {point['model'].get('name')!r} must be a "
                    f"mapping such as {{optimizer: {{lr: 1.0e-3}}}} (got {settings!r})"
                )
            if section == "tune":
                point = {**point, "tune": {**(point.get("tune") or {}), **settings}}
            else:
                point = merge(point, {section: settings})
        config = validate(point)
        configs.setdefault(config.run_id(), config)
    return list(configs.values())


@dataclass
class SweepOutcome:
    """What a sweep did: results of finished runs (new and earlier), and the runs that failed."""

    results: list[RunResult] = field(default_factory=list)
    skipped: int = 0
    ran: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def run_one(config_json: str, runs_root: str, threads: int | None = None) -> dict[str, Any]:
    """Train one run (in a worker process or a Ray task); ``{"result": ...}`` or
    ``{"error": message}`` — a failure is data, so that one bad run does not stop a sweep.

    Any exception of the run is caught here: it is recorded in the run's ``failed.json`` (the
    traceback is in its ``log.txt``) and returned as the error, and the sweep goes on.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    config = RunConfig.model_validate_json(config_json)
    run = RunDir(Path(runs_root) / config.experiment / config.run_id())
    run_id = config.run_id()
    with claim(run) as owned:
        if not owned:
            holder = lock_holder(run)
            reason = locked_message(run, holder) if holder else "being trained by another process"
            return {"run_id": run_id, "error": reason}
        quiet_trainer = config.trainer.model_copy(update={"progress": False})
        quiet = config.model_copy(update={"trainer": quiet_trainer})
        try:
            return {"run_id": run_id, "result": train(quiet, runs_root, Console(quiet=True))}
        except TrainingDiverged as err:  # failed.json is written where it happened
            return {"run_id": run_id, "error": str(err)}
        except DataNotFoundError:
            raise  # missing files fail every run alike: the sweep stops and says how to get them
        except Exception as err:  # noqa: BLE001 - one bad run must not stop the others
            reason = describe_failure(err)  # train() put the traceback in the run's log.txt
            write_json(run.failed, {"reason": reason, "kind": type(err).__name__})
            return {"run_id": run_id, "error": reason}


def describe_failure(err: BaseException) -> str:
    """One line for a failed run: a user-facing error's own message (it names the key and the
    fix), the exception type in front of anything else."""
    if isinstance(err, (ConfigError, ValueError, TypeError, OSError, ImportError)):
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{type(err).__name__}: {err}".splitlines()[0]


def _previous_failure(run: RunDir, console: Console) -> str | None:
    """The reason recorded in ``failed.json``, or None when the file is unreadable (it is then
    set aside as ``failed.json.corrupt`` and the run is tried again)."""
    try:
        return str(json.loads(run.failed.read_text(encoding="utf-8"))["reason"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        run.set_aside(
            run.failed, f"{run.failed}: unreadable ({type(err).__name__}: {err})", console
        )
        return None


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


def _launcher(from_config: LauncherConfig, workers: int | None, name: str | None) -> LauncherConfig:
    """The config's launcher with the command line's ``--workers`` / ``--launcher`` on top,
    validated (``model_copy`` would not check them)."""
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ConfigError(f"--workers: expected at least 1 worker process (got {workers})")
    if name is not None and name not in ("local", "ray"):
        raise ConfigError(
            f"--launcher: unknown launcher {name!r}; expected local (processes on this machine) "
            "or ray (an existing Ray cluster)"
        )
    update = {k: v for k, v in (("workers", workers), ("name", name)) if v is not None}
    return LauncherConfig.model_validate({**from_config.model_dump(), **update})


def run_sweep(
    raw: dict[str, Any],
    runs_root: Path | str,
    *,
    workers: int | None = None,
    launcher: str | None = None,
    retry_failed: bool = False,
    console: Console | None = None,
    on_finished: Callable[[RunResult], None] | None = None,
) -> SweepOutcome:
    """Run every pending run of the sweep described by ``raw`` (an experiment config with a
    ``sweep`` grid and an optional ``launcher``); returns all finished results. ``on_finished``
    is called with each run's result as soon as that run finishes (a study records it then)."""
    console = console or Console()
    sweep = load_sweep(raw)
    settings = _launcher(sweep.launcher, workers, launcher)
    configs = expand(raw, sweep)
    root = Path(runs_root)
    outcome = SweepOutcome()
    pending: list[RunConfig] = []
    for config in configs:
        run = RunDir(root / config.experiment / config.run_id())
        previous = recorded_result(run, console)
        if previous is not None:
            outcome.results.append(previous)
            outcome.skipped += 1
            continue
        reason = _previous_failure(run, console) if run.failed.exists() else None
        if reason is not None and not retry_failed:
            outcome.failed[config.run_id()] = reason
            continue
        run.failed.unlink(missing_ok=True)
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
                last = f"{result.label} n={result.train_size}: {result.test:.4g}"
                if on_finished is not None:
                    on_finished(result)
            else:
                outcome.failed[outcome_of_run["run_id"]] = outcome_of_run["error"]
                last = "failed: " + outcome_of_run["error"][:60]
            progress.update(bar, advance=1, last=last)

        launch(pending, root, done)
    return outcome


class RunsFailed(Exception):
    """Some runs of a sweep or study failed; each was already reported with its reason.

    Attributes:
        failed: run id -> the one-line reason.
    """

    def __init__(self, failed: dict[str, str]) -> None:
        super().__init__(
            f"{len(failed)} run(s) failed (listed above; each folder keeps failed.json and "
            "log.txt); fix the cause, then rerun with --retry-failed"
        )
        self.failed = failed


def sweep_and_report(
    config: Path,
    overrides: list[str] | tuple[str, ...],
    runs_root: Path,
    console: Console,
    *,
    workers: int | None = None,
    launcher: str | None = None,
    retry_failed: bool = False,
    report: bool = True,
    on_finished: Callable[[RunResult], None] | None = None,
) -> dict[str, str]:
    """Run the sweep of the experiment file ``config`` (`run_sweep`) and print its runs, each
    failure with its folder, and the counts; then, with ``report``, write and print the report
    of ``runs_root/<experiment>``. Returns the failed runs (run id -> reason)."""
    raw, resolved = load(config, overrides)
    outcome = run_sweep(
        raw, runs_root, workers=workers, launcher=launcher, retry_failed=retry_failed,
        console=console, on_finished=on_finished,
    )  # fmt: skip
    if outcome.results:
        console.print(runs_table(outcome.results))
    for run_id, reason in outcome.failed.items():
        folder = runs_root / resolved.experiment / run_id
        console.print(f"[red]run {run_id} failed: {reason} ({folder})[/red]", soft_wrap=True)
    console.print(
        f"{outcome.ran} runs trained now, {outcome.skipped} kept from before, "
        f"{len(outcome.failed)} failed"
    )
    if report and outcome.results:
        write_report(runs_root / resolved.experiment, None, console)
    return dict(outcome.failed)
