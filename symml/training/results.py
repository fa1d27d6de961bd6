"""Finished runs and their results, aggregated over seeds.

A run directory (``runs/<experiment>/<run_id>/``, see `symml.training.rundir`) holds
``result.json`` once the run finished. `collect` reads those files (`RunResult.read`),
`aggregate` groups them by (dataset, model label, training-set size) into `ReportRow` s with the
mean and sample standard deviation (``ddof=1``; 0 for one seed) over seeds, and what each row's
runs record about how they were trained: the budget rule, the tuned values and every candidate
tried, and the training loop's convergence verdict.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symml.training.budget import Budget
from symml.training.run_result import Candidate, RunResult

# files that make a directory a run (result.json: finished; failed.json: stopped on NaN/inf)
_RUN_MARKERS = frozenset({"result.json", "failed.json", "manifest.json", "metrics.jsonl"})
# metric -> (name, units when the run did not record them); both metrics: lower is better.
# Older runs recorded no units for MSE (it may have been on standardized targets): none shown.
_METRICS: dict[str, tuple[str, str | None]] = {
    "mse": ("MSE", None),
    "error": ("classification error", "%"),
}


def metric_name(metric: str, units: str | None = None) -> str:
    """Readable name of a result's ``metric`` with its units.

    Args:
        metric: ``"mse"`` or ``"error"`` (classification error in percent).
        units: the result's ``metric_units``; None for runs that did not record them.

    Example:
        >>> metric_name("mse", "raw target units"), metric_name("mse"), metric_name("error")
        ('MSE (raw target units)', 'MSE', 'classification error (%)')
    """
    name, default = _METRICS[metric]
    units = units or default
    return f"{name} ({units})" if units else name


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation of ``n`` values (one per seed)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        """Summarise one value per seed; ``std`` is 0 for a single value."""
        data = list(values)
        if not data:
            raise ValueError("Summary.of: expected at least one value (got none)")
        std = statistics.stdev(data) if len(data) > 1 else 0.0
        return cls(statistics.fmean(data), std, len(data))

    def __str__(self) -> str:
        return f"{self.mean:.3g} ± {self.std:.2g} (n={self.n})"


@dataclass(frozen=True)
class AngleCurve:
    """Metric vs angle: per angle (degrees), mean and std over ``n`` seeds."""

    degrees: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    n: int


@dataclass(frozen=True)
class ReportRow:
    """One model line at one training-set size: the runs of all its seeds aggregated."""

    dataset: str
    metric: str
    label: str
    model: str
    group: str
    baseline: str | None
    augment: bool
    train_size: int
    seeds: tuple[int, ...]
    parameters: int
    test: Summary
    val: Summary
    transformed: Mapping[str, Summary]
    angle_curves: Mapping[str, AngleCurve]
    equivariance_error: Summary | None
    published: float | None
    wall_time_s: Summary
    throughput: Summary | None
    metric_units: str | None = None
    budget: Budget | None = None  # the first seed's; the seeds of a row share its rule
    steps: Summary | None = None  # optimizer steps run, over the seeds that recorded them
    # per seed, in the order of ``seeds``:
    tuned: tuple[Mapping[str, Any], ...] = ()  # selected values ({} when not tuned)
    candidates: tuple[tuple[Candidate, ...], ...] = ()  # every combination tried
    converged: tuple[bool | None, ...] = ()
    convergence: tuple[str, ...] = ()
    train_seconds: Summary | None = None
    eval_seconds: Summary | None = None
    forward_seconds: Summary | None = None  # one forward pass on a batch of `forward_batch`
    forward_batch: int | None = None
    experiment: str = ""  # the runs' experiment name (a report may hold several per dataset)

    @property
    def metric_name(self) -> str:
        """The metric with its units, e.g. ``MSE (raw target units)``."""
        return metric_name(self.metric, self.metric_units)

    @property
    def not_converged(self) -> tuple[tuple[int, str], ...]:
        """(seed, the loop's note) of each seed whose run was flagged not converged."""
        flagged = zip(self.seeds, self.converged, self.convergence, strict=True)
        return tuple((seed, note) for seed, converged, note in flagged if converged is False)


def find_runs(runs_dir: Path) -> tuple[list[Path], list[Path]]:
    """Run directories below ``runs_dir``: (finished, unfinished), each sorted. A directory is a
    run when it holds ``result.json``, ``failed.json``, ``manifest.json`` or ``metrics.jsonl``
    (the ``candidates/`` folder of a tuned run is part of that run); it is finished when it
    holds ``result.json``."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise FileNotFoundError(
            f"runs_dir {runs_dir} does not exist; produce runs with `symml run CONFIG` or "
            "`symml sweep CONFIG` first"
        )
    if not runs_dir.is_dir():
        raise ValueError(
            f"runs_dir must be a directory of runs (runs/<experiment>/<run_id>/), got the file "
            f"{runs_dir}; pass its parent directory"
        )
    runs = []
    for folder, subfolders, files in os.walk(runs_dir):
        if not _RUN_MARKERS.isdisjoint(files):
            runs.append(Path(folder))
            # a tuned run keeps each candidate's training in candidates/<values>/: part of the
            # run, not runs of their own
            subfolders[:] = [name for name in subfolders if name != "candidates"]
    runs.sort()
    finished = [run for run in runs if (run / "result.json").is_file()]
    unfinished = [run for run in runs if not (run / "result.json").is_file()]
    return finished, unfinished


def collect(runs_dir: Path) -> list[RunResult]:
    """The results of every finished run below ``runs_dir`` (any depth), sorted by path.

    Runs without ``result.json`` (unfinished, or failed) are skipped; `find_runs` lists them.
    """
    finished, _ = find_runs(runs_dir)
    return [RunResult.read(run / "result.json") for run in finished]


# runs that recorded no units come from before MSE was always reported in raw target units
_MIXED_UNITS = (
    "runs that recorded no metric_units predate raw-unit metrics and cannot share a table with "
    "newer ones — delete those run directories and re-run the sweep"
)
_ONE_EXPERIMENT = (
    "they were trained from different configs (e.g. other key=value overrides) under one "
    "experiment name — compare their config.yaml files, then give each variant its own name "
    "(experiment=NAME) or report their folders separately"
)


def _same(
    results: list[RunResult],
    field: str,
    what: str,
    value: Callable[[RunResult], Any] | None = None,
    fix: str = _ONE_EXPERIMENT,
) -> Any:
    """The one value of ``field`` (or of ``value(result)``) that all ``results`` share."""
    values = {value(r) if value else getattr(r, field) for r in results}
    if len(values) > 1:
        ids = ", ".join(sorted(r.run_id for r in results))
        raise ValueError(
            f"runs {ids} ({what}) disagree on {field!r}: {sorted(map(str, values))}; {fix}"
        )
    return values.pop()


def _angle_curve(results: list[RunResult], name: str, what: str) -> AngleCurve:
    having = [r for r in results if name in r.angle_curves]
    curves = [r.angle_curves[name] for r in having]
    angles = [a for a, _ in curves[0]]
    for r, curve in zip(having[1:], curves[1:], strict=True):
        if len(curve) != len(angles) or any(
            not math.isclose(a, b, abs_tol=1e-9) for a, (b, _) in zip(angles, curve, strict=False)
        ):
            raise ValueError(
                f"angle curve {name!r} of runs {having[0].run_id} and {r.run_id} ({what}): "
                "different angle grids; the seeds of a model must use one grid (same steps)"
            )
    per_angle = [Summary.of(curve[i][1] for curve in curves) for i in range(len(angles))]
    return AngleCurve(
        degrees=tuple(math.degrees(a) for a in angles),
        mean=tuple(s.mean for s in per_angle),
        std=tuple(s.std for s in per_angle),
        n=len(curves),
    )


def _summary(values: list[float | None]) -> Summary | None:
    """Summary of the seeds that recorded a value; None when none did."""
    recorded = [v for v in values if v is not None]
    return Summary.of(recorded) if recorded else None


def _row(results: list[RunResult]) -> ReportRow:
    first = results[0]
    what = f"dataset={first.dataset}, label={first.label}, train_size={first.train_size}"
    seeds: dict[int, str] = {}
    for r in results:
        if r.seed in seeds:
            raise ValueError(
                f"runs {seeds[r.seed]} and {r.run_id} ({what}) both have seed {r.seed}; "
                + _ONE_EXPERIMENT
            )
        seeds[r.seed] = r.run_id
    for field in ("model", "model_group", "baseline", "augment", "parameters"):
        _same(results, field, what)
    # seeds trained under different budgets would make the mean ± std meaningless
    _same(results, "budget.rule", what, lambda r: r.budget.rule if r.budget else None)
    with_published = [r for r in results if r.published is not None]
    names = sorted({n for r in results for n in r.transformed})
    curves = sorted({n for r in results for n in r.angle_curves})
    return ReportRow(
        dataset=first.dataset,
        metric=first.metric,
        label=first.label,
        model=first.model,
        group=first.model_group,
        baseline=first.baseline,
        augment=first.augment,
        train_size=first.train_size,
        seeds=tuple(sorted(seeds)),
        parameters=first.parameters,
        test=Summary.of(r.test for r in results),
        val=Summary.of(r.val for r in results),
        transformed={
            n: Summary.of(r.transformed[n] for r in results if n in r.transformed) for n in names
        },
        angle_curves={n: _angle_curve(results, n, what) for n in curves},
        equivariance_error=_summary([r.equivariance_error for r in results]),
        published=_same(with_published, "published", what) if with_published else None,
        wall_time_s=Summary.of(r.wall_time_s for r in results),
        throughput=_summary([r.throughput for r in results]),
        metric_units=first.metric_units,
        budget=first.budget,
        steps=_summary([r.steps for r in results]),
        tuned=tuple(r.tuned for r in results),
        candidates=tuple(tuple(r.candidates) for r in results),
        converged=tuple(r.converged for r in results),
        convergence=tuple(r.convergence for r in results),
        train_seconds=_summary([r.train_seconds for r in results]),
        eval_seconds=_summary([r.eval_seconds for r in results]),
        forward_seconds=_summary([r.forward_seconds for r in results]),
        forward_batch=first.forward_batch,
        experiment=first.experiment,
    )


def aggregate(results: Iterable[RunResult]) -> list[ReportRow]:
    """Group run results by (dataset, experiment, label, train_size) and summarise over seeds.

    Args:
        results: finished runs (as returned by `collect`).

    Returns:
        One `ReportRow` per group, sorted by (dataset, experiment, label, train_size).

    Raises:
        ValueError: two runs of a group share a seed or disagree on the model or the budget
            rule; the runs of one dataset use different metrics or metric units.

    Example:
        >>> base = dict(run_id="r", experiment="demo", status="finished", model="emlp")
        >>> base |= dict(model_group="O(5)", dataset="o5", train_size=100, label="emlp")
        >>> base |= dict(metric="mse", val=0.1, parameters=1000, epochs=3, wall_time_s=1.0)
        >>> base |= dict(throughput=100.0)
        >>> runs = [{**base, "seed": s, "test": t} for s, t in [(0, 0.1), (1, 0.3)]]
        >>> rows = aggregate(RunResult.from_dict(run, "example") for run in runs)
        >>> print(rows[0].label, rows[0].train_size, rows[0].test)
        emlp 100 0.2 ± 0.14 (n=2)
    """
    groups: dict[tuple[str, str, str, int], list[RunResult]] = {}
    for result in results:
        key = (result.dataset, result.experiment, result.label, result.train_size)
        groups.setdefault(key, []).append(result)
    per_dataset: dict[str, list[RunResult]] = {}
    for (dataset, *_), members in groups.items():
        per_dataset.setdefault(dataset, []).extend(members)
    for dataset, members in per_dataset.items():
        _same(members, "metric", f"dataset={dataset}")
        _same(members, "metric_units", f"dataset={dataset}", fix=_MIXED_UNITS)
    return [_row(sorted(groups[key], key=lambda r: r.seed)) for key in sorted(groups)]


def largest_per_label(rows: list[ReportRow]) -> list[ReportRow]:
    """Per label, the row with the largest training set."""
    best: dict[str, ReportRow] = {}
    for row in rows:
        if row.label not in best or row.train_size > best[row.label].train_size:
            best[row.label] = row
    return [best[label] for label in sorted(best)]


def curves_of(group: list[ReportRow], curves: Iterable[Any]) -> list[Any]:
    """The learning curves (anything with a ``result`` `RunResult`) of the runs behind one
    `by_dataset` group: same dataset and experiment as one of its rows."""
    keys = {(r.dataset, r.experiment) for r in group}
    return [c for c in curves if (c.result.dataset, c.result.experiment) in keys]


def file_stem(dataset: str) -> str:
    """A dataset name made safe for file names (``data_efficiency_<stem>.png``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset)


def by_dataset(rows: Iterable[ReportRow]) -> dict[str, list[ReportRow]]:
    """Rows grouped by dataset, datasets sorted, each group in row order. A dataset that several
    experiments trained on gets one group per experiment, named ``"<dataset>, <experiment>"``:
    their protocols differ (e.g. Tetris on 8 shapes and its chiral holdout on 7), so their rows
    must not share a table or a line of a plot."""
    rows = list(rows)
    experiments: dict[str, set[str]] = {}
    for row in rows:
        experiments.setdefault(row.dataset, set()).add(row.experiment)
    grouped: dict[str, list[ReportRow]] = {}
    for row in rows:
        shared = len(experiments[row.dataset]) > 1
        name = f"{row.dataset}, {row.experiment}" if shared else row.dataset
        grouped.setdefault(name, []).append(row)
    return {name: grouped[name] for name in sorted(grouped)}
