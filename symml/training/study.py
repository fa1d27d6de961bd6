"""Studies: ``experiments/<study>/study.yaml`` lists the sweeps that reproduce a set of results,
under named budgets, and keeps the records of the runs it finished.

::

    title: Quick start
    description: EGNN vs GNN on N-body, P4CNN vs CNN on upright MNIST
    sweeps: [nbody.yaml, mnist.yaml]   # experiment configs next to study.yaml
    budgets:
      cpu:                             # the default: what 2 CPU cores finish
        wall_time: about 8 minutes on 2 CPU cores
      paper:                           # the published protocol, for a GPU
        wall_time: about 2 GPU hours
        overrides: {trainer.device: auto, trainer.budget.steps: 20000, sweep.seed: [0, 1, 2]}

A budget's ``overrides`` (dotted keys, as on the command line; ``sweep.<axis>`` replaces a
grid axis) apply to every sweep of the study; its ``sweeps`` list, when given, replaces the
study's. Runs of budget B write to ``<runs>/<study>/<B>/<experiment>/<run_id>/``, and their
records (`RECORD_FILES`, no checkpoints) are kept in ``experiments/<study>/runs/<B>/`` so a study
continues on another machine: `restore_records` puts them back, and only missing runs train.

`reproduce` runs a study under a budget (``symml reproduce STUDY``): records restored, each
sweep run (one whose dataset files are missing is skipped with a note), records kept, one
report. Studies are found in ``experiments/`` (`find_studies`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console

from symml.data import DataNotFoundError, accepted_options
from symml.training.config import ConfigError, RunConfig, describe_errors, set_path, validate
from symml.training.config_files import load, load_sweep, read_yaml
from symml.training.report import write_report
from symml.training.run_result import RunResult
from symml.training.rundir import write_atomic
from symml.training.study_results import RESULTS_FILE, update_file
from symml.training.sweep import RunsFailed, expand, sweep_and_report

# what a record keeps of a finished run: enough to rebuild the report and to audit the run
RECORD_FILES = ("config.yaml", "manifest.json", "metrics.jsonl", "result.json")
DEFAULT_BUDGET = "cpu"


class _BudgetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wall_time: str = ""
    overrides: dict[str, Any] = {}
    sweeps: list[str] | None = None


class _StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    description: str = ""
    sweeps: list[str]
    budgets: dict[str, _BudgetFile] = {DEFAULT_BUDGET: _BudgetFile()}


@dataclass(frozen=True)
class StudyBudget:
    """A named budget: its sweep files, the overrides applied to each, its measured cost."""

    name: str
    sweeps: tuple[Path, ...]
    overrides: tuple[str, ...]
    wall_time: str


@dataclass(frozen=True)
class Study:
    """A study: its name (the folder), title, description, sweep files and budgets."""

    name: str
    title: str
    description: str
    sweeps: tuple[Path, ...]
    folder: Path
    budgets: dict[str, StudyBudget]

    def budget(self, name: str) -> StudyBudget:
        """The named budget, or a `ConfigError` listing the study's budgets."""
        if name not in self.budgets:
            raise ConfigError(
                f"study {self.name}: no budget {name!r}; its budgets: {', '.join(self.budgets)}"
            )
        return self.budgets[name]

    def records(self, budget: str) -> Path:
        """Where the run records of ``budget`` are kept: ``experiments/<study>/runs/<budget>``."""
        return self.folder / "runs" / budget


# one optimizer step on a handful of samples: enough to build every model, dataset, tuning
# candidate and test set of a sweep and to write a record, in seconds
DEBUG_OVERRIDES = (
    "trainer.max_steps=1",
    "trainer.device=cpu",
    "trainer.progress=false",
    "data.val_size=8",
    "data.test_size=8",
    "data.transformed_size=4",
)  # and at most 16 training samples (`_debug_sized`), set after the grid is expanded


def debug_configs(study: Study, budget: str) -> list[RunConfig]:
    """One run per (sweep, model label) of ``budget`` (its smallest training size, first
    seed), shrunk by `DEBUG_OVERRIDES` to one optimizer step on at most 16 samples: a check
    that every sweep of a study runs before hours are spent on it (the test suite trains
    each)."""
    chosen = study.budget(budget)
    picked: dict[tuple[str, str], RunConfig] = {}
    for sweep in chosen.sweeps:
        raw, _ = load(sweep, (*chosen.overrides, *DEBUG_OVERRIDES))
        for config in expand(raw, load_sweep(raw)):
            key = (sweep.name, config.label)
            smallest = picked.get(key)
            size = config.data.train_size or 0
            if smallest is None or size < (smallest.data.train_size or 0):
                picked[key] = config
    return [_debug_sized(config) for config in picked.values()]


def _debug_sized(config: RunConfig) -> RunConfig:
    """``config`` on at most 16 training samples; a dataset that generates its splits (one with
    a ``size`` option, like N-body) generates only 16 samples per split, not its whole pool.
    Every tuning candidate is validated, and the first one trains (through the tuning path)."""
    for values in config.candidates():
        config.with_values(values)
    raw = config.model_dump()
    if config.data.train_size is not None:
        raw = set_path(raw, "data.train_size", min(config.data.train_size, 16))
        budget = config.trainer.budget
        if budget is not None and budget.epochs_by_size is not None:  # no row for 16: one step
            raw = set_path(raw, "trainer.budget", {"steps": 1, "evaluations": 1})
    raw["tune"] = {key: values[:1] for key, values in config.tune.items()}
    if "size" in (accepted_options(config.data.name) or ()):
        raw = set_path(raw, "data.options.size", 16)
    return validate(raw)


def _override_text(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"  # JSON is YAML: parse_override reads it back


def load_study(path: Path) -> Study:
    """Read ``study.yaml``; sweep paths are relative to its folder and must exist."""
    try:
        spec = _StudyFile.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(f"{path}: {describe_errors(err)}") from err

    def files(names: list[str], where: str) -> tuple[Path, ...]:
        found = tuple(path.parent / s for s in names)
        for s in found:
            if not s.is_file():
                raise ConfigError(f"{path}: {where}: {s} does not exist")
        return found

    sweeps = files(spec.sweeps, "sweeps")
    budgets = {
        name: StudyBudget(
            name,
            files(b.sweeps, f"budgets.{name}.sweeps") if b.sweeps is not None else sweeps,
            tuple(_override_text(k, v) for k, v in b.overrides.items()),
            b.wall_time,
        )
        for name, b in spec.budgets.items()
    }
    return Study(path.parent.name, spec.title, spec.description, sweeps, path.parent, budgets)


def _copy_records(source: Path, target: Path) -> int:
    """Copy the record files (`RECORD_FILES`, ``result.json`` last so that a copy cut short is
    not taken for a finished run) of every finished run below ``source`` that ``target`` lacks,
    keeping the ``<experiment>/<run_id>`` layout. Returns how many runs were copied."""
    runs = sorted(p.parent for p in source.glob("**/result.json")) if source.is_dir() else []
    copied = 0
    for run in runs:
        into = target / run.relative_to(source)
        if (into / "result.json").is_file():
            continue
        for name in RECORD_FILES:
            if (run / name).is_file():
                write_atomic(into / name, (run / name).read_bytes())
        copied += 1
    return copied


def restore_records(records: Path, runs_root: Path) -> int:
    """Put the study's recorded runs (``records/<experiment>/<run_id>/``) that ``runs_root``
    lacks into it, so the sweeps count them as finished. Returns how many were restored."""
    return _copy_records(records, runs_root)


def keep_records(runs_root: Path, records: Path) -> int:
    """Record every finished run under ``runs_root`` that ``records`` lacks (checkpoints and the
    tuning candidates' weights stay behind). Returns how many were added."""
    return _copy_records(runs_root, records)


def experiments_dir() -> Path:
    """``$SYMML_EXPERIMENTS_DIR``, else the ``experiments/`` folder of the current directory
    or of the symml checkout."""
    env = os.environ.get("SYMML_EXPERIMENTS_DIR")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "experiments").is_dir():
            return base / "experiments"
    raise FileNotFoundError(
        "no experiments/ directory here or in the symml checkout; set SYMML_EXPERIMENTS_DIR"
    )


def find_studies() -> dict[str, Path]:
    """Each study's name (its folder) -> its ``study.yaml``; empty without `experiments_dir`."""
    try:
        root = experiments_dir()
    except FileNotFoundError:
        return {}
    return {p.parent.name: p for p in sorted(root.glob("*/study.yaml"))}


def study_named(name: str) -> Study:
    """The study in ``experiments/<name>/``, or a `ValueError` listing the studies."""
    studies = find_studies()
    if name not in studies:
        raise ValueError(f"unknown study {name!r}; studies: {', '.join(studies) or 'none found'}")
    return load_study(studies[name])


def reproduce(
    study: Study,
    budget: str,
    runs_dir: Path,
    console: Console,
    *,
    overrides: tuple[str, ...] = (),
    workers: int | None = None,
    record: bool = False,
    reuse_records: bool = True,
) -> Path:
    """Run ``study`` under ``budget`` into ``runs_dir/<study>/<budget>/``, then one report.

    With ``reuse_records`` the study's records are restored first, so only missing runs train;
    with ``record`` the finished runs are kept as records and the report is rebuilt from the
    records alone, into ``experiments/<study>/results/<budget>/``. ``overrides`` go after the
    budget's. Returns the report folder.

    Raises:
        RunsFailed: after the report, when some runs failed (or, without a report, when every
            run did).
        ValueError: no sweep could run (each one's dataset files are missing).
    """
    chosen = study.budget(budget)
    console.rule(f"{study.title} — budget {chosen.name}")
    console.print(study.description.strip())
    if chosen.wall_time:
        console.print(f"measured cost of this budget: {chosen.wall_time}")
    root = runs_dir / study.name / chosen.name
    records = study.records(chosen.name)
    restored = restore_records(records, root) if reuse_records else 0
    if restored:
        console.print(f"reusing {restored} recorded runs from {records}")
    # with --record each run is recorded as soon as it finishes: a sitting cut short (a session
    # that ends, a killed process) keeps every run it finished
    recorded = [0]

    def keep(_: RunResult) -> None:
        recorded[0] += keep_records(root, records)

    failed = _run_sweeps(
        study.name, chosen, (*chosen.overrides, *overrides), root, workers, console,
        keep if record else None,
    )  # fmt: skip
    source, report_dir = root, root / "report"
    if record:
        recorded[0] += keep_records(root, records)
        console.print(f"recorded {recorded[0]} new runs in {records}")
        source, report_dir = records, study.folder / "results" / chosen.name
        root = study.folder.parent.parent  # experiments/<study> -> the repository
        for path, folder in [
            (study.folder / RESULTS_FILE, study.folder),
            (root / "README.md", root),
        ]:
            if update_file(path, folder):
                console.print(f"generated tables in {path} rebuilt from the records")
    try:
        write_report(source, report_dir, console)
    except ValueError:
        if failed:  # every run failed: no report to write; say why the study stopped
            raise RunsFailed(failed) from None
        raise
    console.print(f"[bold]The report is in {report_dir.resolve()}[/bold] (results.md, plots)")
    if failed:
        raise RunsFailed(failed)
    return report_dir


def _run_sweeps(
    name: str,
    budget: StudyBudget,
    overrides: tuple[str, ...],
    root: Path,
    workers: int | None,
    console: Console,
    on_finished: Callable[[RunResult], None] | None = None,
) -> dict[str, str]:
    """Each sweep of ``budget`` (one whose dataset files are missing is skipped with a note);
    the failed runs of all of them. ``on_finished`` sees each run as it finishes."""
    ran_any, failed = False, dict[str, str]()
    for sweep in budget.sweeps:
        console.rule(f"{name}: {sweep.name}")
        try:
            failed |= sweep_and_report(
                sweep, overrides, root, console, workers=workers, report=False,
                on_finished=on_finished,
            )  # fmt: skip
            ran_any = True
        except DataNotFoundError as err:
            console.print(f"[yellow]skipped {sweep.name}: {err}[/yellow]", soft_wrap=True)
    if not ran_any:
        raise ValueError(f"study {name}: no sweep could run (see the notes above)")
    return failed
