"""One run: config → data and model from the registries → training within a budget with
validation-based model selection (and, with ``tune``, selection among candidate settings) →
test, transformed-test and equivariance metrics of the selected model → ``result.json``.

Single process by default; under ``torchrun`` (``WORLD_SIZE > 1``) it trains with
DistributedDataParallel (gloo on CPU, nccl on GPUs) and rank 0 writes the run directory.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress
from torch import nn

from symml import _cache
from symml import models as symml_models
from symml.training.budget import Budget
from symml.training.config import RunConfig
from symml.training.datasets import RunData, build_run_data
from symml.training.evaluation import METRIC_UNITS, equivariance, evaluate, forward_seconds
from symml.training.fit import (
    COLUMNS,
    Context,
    Fit,
    TrainingDiverged,
    build_model,
    fit_model,
    rank_and_world,
    resolve_device,
)
from symml.training.run_result import Candidate, RunResult
from symml.training.rundir import RunDir, manifest, write_atomic, write_json

__all__ = ["Fit", "TrainingDiverged", "build_model", "resolve_device", "train"]


@contextlib.contextmanager
def _determinism(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def train(config: RunConfig, runs_root: Path | str, console: Console | None = None) -> RunResult:
    """Train and evaluate one run in ``runs_root/<experiment>/<run_id>/``; returns its result,
    also written to the run's ``result.json``.

    A finished run (``result.json`` present) is not repeated: its result is returned. A run with
    a ``tune`` section trains every candidate value on the training split, selects the one with
    the best validation metric, and reads the test split once, for that one (`_tuned`).

    Raises:
        TrainingDiverged: the loss became NaN/inf (``failed.json`` and the metrics so far stay).
    """
    run = RunDir(Path(runs_root) / config.experiment / config.run_id())
    previous = recorded_result(run, console)
    if previous is not None:
        return previous
    rank, world = rank_and_world()
    device = resolve_device(config.trainer.device)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    dtype = torch.float64 if config.trainer.dtype == "float64" else torch.float32
    ctx = Context(device, dtype, console or Console(), world > 1, rank == 0)
    try:
        result = _train_and_test(config, run, ctx)
    except TrainingDiverged:
        raise
    except Exception:
        if ctx.writer:  # the traceback stays with the run; the CLI shows one line
            run.log_line(traceback.format_exc())
        raise
    if ctx.writer:
        result.write(run.result)
        run.log_line(f"finished: test {result.test:.5g} ({result.metric})")
    return result


@dataclass
class _Selected:
    """The config whose training is kept (the run's own, or its best tuning candidate), its
    fit, and what tuning tried (nothing when the run is not tuned)."""

    config: RunConfig
    fit: Fit
    tuned: dict[str, Any] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)


def _train_and_test(config: RunConfig, run: RunDir, ctx: Context) -> RunResult:
    with _determinism(config.trainer.deterministic):
        if ctx.writer:
            write_atomic(run.config, config.to_yaml())
            write_json(
                run.manifest, manifest(config.seed, ctx.device, config.trainer.deterministic)
            )
            run.log_line(f"run {config.run_id()} of {config.experiment}: {config.label}")
        data = build_run_data(config.data, config.seed)
        if config.tune:
            selected = _tuned(config, run, data, ctx)
            if selected.config.data != config.data:  # a tuned data key: evaluate on its data
                data = build_run_data(selected.config.data, selected.config.seed)
            # the candidates' models are gone: build the selected one for its weights
            torch.manual_seed(config.seed)
            model = build_model(selected.config, data).to(device=ctx.device, dtype=ctx.dtype)
        else:
            torch.manual_seed(config.seed)
            model = build_model(config, data).to(device=ctx.device, dtype=ctx.dtype)
            selected = _Selected(config, fit_model(config, run, data, model, ctx))
        model.load_state_dict(selected.fit.best_state)
        metrics = _test(selected.config, data, model, ctx)
        return _result(config, selected, data, model, metrics)


def recorded_result(run: RunDir, console: Console | None = None) -> RunResult | None:
    """The run's ``result.json`` when it holds a valid result, else None. An unreadable or
    invalid one (a torn copy, ``{}``) is set aside as ``result.json.corrupt`` with a warning,
    so the run is trained again instead of failing every later sweep."""
    if not run.result.exists():
        return None
    try:
        return RunResult.read(run.result)
    except (OSError, ValueError) as err:
        run.set_aside(run.result, str(err).splitlines()[0], console or Console(stderr=True))
        return None


def _tuned(config: RunConfig, run: RunDir, data: RunData, ctx: Context) -> _Selected:
    """Train every candidate of ``config.tune`` (each in ``candidates/<values>/``, kept so an
    interrupted run resumes), select the best validation metric. The test split is not read."""
    outcomes = [
        (values, *_candidate(config, values, run, data, ctx)) for values in config.candidates()
    ]
    fitted = [(values, fit) for values, fit, _ in outcomes if fit is not None]
    if not fitted:
        reasons = "; ".join(f"{values}: {error}" for values, _, error in outcomes)
        raise TrainingDiverged(f"every tuning candidate diverged ({reasons})")
    values, fit = min(fitted, key=lambda item: item[1].best_val)  # validation only
    if ctx.writer:
        shutil.copyfile(RunDir(run.path / "candidates" / _slug(values)).metrics, run.metrics)
        run.log_line(f"selected {values} (validation {fit.best_val:.5g})")
    candidates = [
        Candidate(
            values=tried,
            val=None if f is None else f.best_val,
            best_step=None if f is None else f.best_step,
            converged=None if f is None else f.converged,
            error=error,
        )
        for tried, f, error in outcomes
    ]
    return _Selected(config.with_values(values), fit, values, candidates)


def _candidate(
    config: RunConfig, values: dict[str, Any], run: RunDir, data: RunData, ctx: Context
) -> tuple[Fit | None, str | None]:
    """One tuning candidate's fit, or None and why it diverged; a candidate that finished
    before (its ``fit.json`` and checkpoint kept) is read back, not trained again."""
    candidate = config.with_values(values)
    folder = RunDir(run.path / "candidates" / _slug(values))
    saved = _finished_candidate(folder)
    if saved is not None:
        error = saved.get("error")
        return (None, error) if error else (_saved_fit(saved, folder), None)
    reuse_data = all(key.split(".")[0] != "data" for key in config.tune)
    candidate_data = data if reuse_data else build_run_data(candidate.data, candidate.seed)
    torch.manual_seed(config.seed)  # every candidate starts from the same weights
    model = build_model(candidate, candidate_data).to(device=ctx.device, dtype=ctx.dtype)
    if ctx.writer:
        run.log_line(f"candidate {values}")
    done = folder.path / "fit.json"
    try:
        fit = fit_model(candidate, folder, candidate_data, model, ctx)
    except TrainingDiverged as err:
        if ctx.writer:
            write_json(done, {"values": values, "error": str(err)})
        return None, str(err)
    if ctx.writer:
        write_json(done, {"values": values, **fit.summary()})
    return fit, None


def _slug(values: dict[str, Any]) -> str:
    """A folder name for a candidate: ``lr=0.001`` style (the whole dotted key when two tuned
    keys end alike), safe on every file system."""
    short = [key.rsplit(".", 1)[-1] for key in values]
    names = short if len(set(short)) == len(short) else list(values)
    text = ",".join(f"{name}={value}" for name, value in zip(names, values.values(), strict=True))
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text) or "default"


def _finished_candidate(folder: RunDir) -> dict[str, Any] | None:
    """A candidate's ``fit.json`` when it finished and its checkpoint loads, else None (it is
    then trained again: a killed run leaves neither, a damaged file is reported and removed)."""
    done = folder.path / "fit.json"
    try:
        saved = dict(json.loads(done.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        warnings.warn(f"{done}: unreadable ({err}); training that candidate again", stacklevel=2)
        done.unlink(missing_ok=True)
        return None
    if saved.get("error"):
        return saved
    if _cache.read(folder.checkpoint, _cache.load_torch) is None:
        done.unlink(missing_ok=True)
        return None
    return saved


def _saved_fit(saved: dict[str, Any], folder: RunDir) -> Fit:
    state = _cache.load_torch(folder.checkpoint)
    fields = {k: v for k, v in saved.items() if k in Fit.__dataclass_fields__}
    return Fit(**{**fields, "best_state": state, "budget": Budget(**saved["budget"])})


@dataclass
class _Metrics:
    """The selected model on the test split, the transformed test sets and the angle grids."""

    test: float
    transformed: dict[str, float]
    angle_curves: dict[str, list[list[float]]]
    equivariance_error: float | None
    forward: tuple[float, int]  # (median seconds of one forward pass, samples in its batch)
    seconds: float


def _test(config: RunConfig, data: RunData, model: nn.Module, ctx: Context) -> _Metrics:
    """Test, transformed-test and equivariance metrics of the selected model: the only place
    the test split is read."""
    batch_size = config.trainer.eval_batch_size
    sets: list[Any] = [data.test, *data.transformed.values()]
    sets += [ds for points in data.angle_curves.values() for _, ds in points]
    total = sum(len(ds) for ds in sets)  # samples to evaluate: the progress bar's length
    start = time.perf_counter()
    show = config.trainer.progress and ctx.writer
    with Progress(*COLUMNS, console=ctx.console, disable=not show, transient=True) as progress:
        bar = progress.add_task(f"{config.label} evaluating", total=total, status="test")

        def metric_on(name: str, ds: Any) -> float:
            progress.update(bar, status=name)
            return evaluate(
                model, ds, data, batch_size, ctx.device, ctx.dtype,
                advance=lambda n: progress.update(bar, advance=n),
            )  # fmt: skip

        test = metric_on("test", data.test)
        transformed = {name: metric_on(name, ds) for name, ds in data.transformed.items()}
        curves = {
            name: [
                [angle, metric_on(f"{name} {math.degrees(angle):.0f}°", ds)] for angle, ds in points
            ]
            for name, points in data.angle_curves.items()
        }
        progress.update(bar, status="equivariance")
        error = equivariance(model, data, config.trainer.equivariance_samples, ctx.dtype)
        progress.update(bar, status="forward time")
        forward = forward_seconds(
            model, data.test, data, config.trainer.batch_size, ctx.device, ctx.dtype
        )
    return _Metrics(test, transformed, curves, error, forward, time.perf_counter() - start)


def _result(
    config: RunConfig, selected: _Selected, data: RunData, model: nn.Module, metrics: _Metrics
) -> RunResult:
    """The run's record: ``config`` names it (its run id), ``selected`` is what was kept."""
    chosen, fit = selected.config, selected.fit
    sample_target = data.test_base[0].y if data.is_graph else data.test_base[0][1]
    info = symml_models.info(chosen.model.name)
    group = getattr(model, "group", None)
    metric = "mse" if sample_target.is_floating_point() else "error"
    return RunResult(
        run_id=config.run_id(),
        experiment=chosen.experiment,
        status="finished",
        model=chosen.model.name,
        model_group=repr(group) if group is not None and info.group != "none" else "none",
        baseline=info.baseline,
        dataset=chosen.data.name,
        train_size=data.train_size,
        seed=chosen.seed,
        augment=chosen.data.augment,
        label=chosen.label,
        metric=metric,
        metric_units=METRIC_UNITS[metric],
        test=metrics.test,
        val=fit.best_val,
        best_step=fit.best_step,
        steps=fit.steps,
        epochs=fit.epochs,
        early_stopped=fit.early_stopped,
        budget=fit.budget,
        converged=fit.converged,
        convergence=fit.convergence,
        tuned=selected.tuned,
        candidates=selected.candidates,
        transformed=metrics.transformed,
        transformed_size=data.transformed_size,
        angle_curves=metrics.angle_curves,
        equivariance_error=metrics.equivariance_error,
        forward_seconds=metrics.forward[0],
        forward_batch=metrics.forward[1],
        parameters=symml_models.parameter_count(model),
        wall_time_s=fit.train_seconds + fit.eval_seconds,
        train_seconds=fit.train_seconds,
        eval_seconds=fit.eval_seconds + metrics.seconds,
        throughput=fit.seen / fit.train_seconds if fit.train_seconds > 0 else None,
        published=chosen.published.get(chosen.label, {}).get(data.train_size),
    )
