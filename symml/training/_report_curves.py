"""Learning curves of finished runs, read from each run's ``metrics.jsonl`` for the report's
``learning_curves_<dataset>`` plot (`symml.training._report_plots`).

``metrics.jsonl`` has one JSON object per validation evaluation: ``step`` (optimizer steps so
far; older runs logged only ``epoch``), ``train_loss`` (mean training loss since the previous
evaluation) and ``val_metric``. For a tuned run it is the selected candidate's curve.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symml.training.run_result import RunResult

_REQUIRED = ("train_loss", "val_metric")


@dataclass(frozen=True)
class LearningCurve:
    """One run's validation evaluations; ``x``, ``train_loss`` and ``val`` have one entry per
    evaluation (shape ``(evaluations,)``), NaN where a value was not finite or not logged.

    Attributes:
        result: the run's ``result.json`` (dataset, label, train size, seed, metric).
        x: optimizer steps at each evaluation, or epochs when ``by_step`` is false (older runs).
        train_loss: mean training loss since the previous evaluation.
        val: the validation metric.
        best: index of the evaluation whose checkpoint was kept (the result's ``best_step``,
            else the first minimum of ``val``); None when no validation value is finite.
    """

    result: RunResult
    by_step: bool
    x: tuple[float, ...]
    train_loss: tuple[float, ...]
    val: tuple[float, ...]
    best: int | None


def _number(value: Any) -> float:
    # NaN (not None) for a missing value: matplotlib leaves a gap there
    return math.nan if value is None else float(value)


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fix = f"delete {path} to report the run without its curve, or re-run the run"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: corrupt metrics.jsonl line ({err}); {fix}") from err
        if not isinstance(row, dict) or "epoch" not in row:
            raise ValueError(f"{path}:{number}: expected an object with 'epoch'; {fix}")
        missing = [key for key in _REQUIRED if key not in row]
        if missing:
            raise ValueError(f"{path}:{number}: no {', '.join(map(repr, missing))}; {fix}")
        rows.append(row)
    return rows


def read_curve(run: Path, result: RunResult) -> LearningCurve | None:
    """The learning curve of the run in directory ``run``; None when it has no (or an empty)
    ``metrics.jsonl``.

    Raises:
        ValueError: a line of ``metrics.jsonl`` is not JSON or lacks a key (file and line named).
    """
    path = run / "metrics.jsonl"
    rows = _rows(path) if path.is_file() else []
    if not rows:
        return None
    by_step = all("step" in row for row in rows)
    x = tuple(_number(row["step" if by_step else "epoch"]) for row in rows)
    val = tuple(_number(row["val_metric"]) for row in rows)
    finite = [i for i, v in enumerate(val) if math.isfinite(v)]
    best = min(finite, key=lambda i: val[i]) if finite else None  # min keeps the first
    if by_step and result.best_step is not None and result.best_step in x:
        best = x.index(result.best_step)
    return LearningCurve(
        result=result,
        by_step=by_step,
        x=x,
        train_loss=tuple(_number(row["train_loss"]) for row in rows),
        val=val,
        best=best,
    )


def read_curves(runs: Iterable[tuple[Path, RunResult]]) -> list[LearningCurve]:
    """The learning curves of ``(run directory, its result)`` pairs, skipping runs
    without ``metrics.jsonl``, in (dataset, label, train size, seed) order — not the order of
    the run folders, whose names are config hashes — so a plot is drawn the same way wherever
    its records live.
    """
    curves = []
    for run, result in runs:
        curve = read_curve(run, result)
        if curve is not None:
            curves.append(curve)
    return sorted(
        curves, key=lambda c: (c.result.dataset, c.result.label, c.result.train_size, c.result.seed)
    )
