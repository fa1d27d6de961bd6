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
from symml.training.evaluation import METRIC_UNITS, equivariance, evaluate
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
from symml.training.results import read_result
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


def train(
    config: RunConfig, runs_root: Path | str, console: Console | None = None
) -> dict[str, Any]:
    """Train and evaluate one run in ``runs_root/<experiment>/<run_id>/``; returns the result.

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
        write_json(run.result, result)
        run.log_line(f"finished: test {result['test']:.5g} ({result['metric']})")
    return result


def _train_and_test(config: RunConfig, run: RunDir, ctx: Context) -> dict[str, Any]:
    device, dtype = ctx.device, ctx.dtype
    with _determinism(config.trainer.deterministic):
        if ctx.writer:
            write_atomic(run.config, config.to_yaml())
            write_json(run.manifest, manifest(config.seed, device, config.trainer.deterministic))
            run.log_line(f"run {config.run_id()} of {config.experiment}: {config.label}")
        data = build_run_data(config.data, config.seed)
        extra: dict[str, Any] = {}
        if config.tune:
            selected, fit, extra = _tuned(config, run, data, ctx)
            if selected.data != config.data:  # a tuned data key: evaluate on the selected data
                data = build_run_data(selected.data, selected.seed)
        else:
            selected = config
            torch.manual_seed(config.seed)
            model = build_model(config, data).to(device=device, dtype=dtype)
            fit = fit_model(config, run, data, model, ctx)
        torch.manual_seed(config.seed)
        model = build_model(selected, data).to(device=device, dtype=dtype)
        model.load_state_dict(fit.best_state)
        result = _final_result(selected, data, model, fit, ctx)
        result.update(run_id=config.run_id(), **extra)
    return result


def recorded_result(run: RunDir, console: Console | None = None) -> dict[str, Any] | None:
    """The run's ``result.json`` when it holds a valid result, else None. An unreadable or
    invalid one (a torn copy, ``{}``) is set aside as ``result.json.corrupt`` with a warning,
    so the run is trained again instead of failing every later sweep."""
    if not run.result.exists():
        return None
    try:
        return read_result(run.result)
    except (OSError, ValueError) as err:
        run.set_aside(run.result, str(err).splitlines()[0], console or Console(stderr=True))
        return None


def _tuned(
    config: RunConfig, run: RunDir, data: RunData, ctx: Context
) -> tuple[RunConfig, Fit, dict[str, Any]]:
    """Train every candidate of ``config.tune`` (each in ``candidates/<values>/``, kept so an
    interrupted run resumes), select the best validation metric. The test split is not read."""
    reuse_data = all(key.split(".")[0] != "data" for key in config.tune)
    outcomes: list[tuple[dict[str, Any], RunConfig, Fit | None, str | None]] = []
    for values in config.candidates():
        candidate = config.with_values(values)
        folder = RunDir(run.path / "candidates" / _slug(values))
        done = folder.path / "fit.json"
        saved = _finished_candidate(folder)
        if saved is not None:
            fit = None if saved.get("error") else _saved_fit(saved, folder)
            outcomes.append((values, candidate, fit, saved.get("error")))
            continue
        candidate_data = data if reuse_data else build_run_data(candidate.data, candidate.seed)
        torch.manual_seed(config.seed)  # every candidate starts from the same weights
        model = build_model(candidate, candidate_data).to(device=ctx.device, dtype=ctx.dtype)
        if ctx.writer:
            run.log_line(f"candidate {values}")
        try:
            fit = fit_model(candidate, folder, candidate_data, model, ctx)
        except TrainingDiverged as err:
            if ctx.writer:
                write_json(done, {"values": values, "error": str(err)})
            outcomes.append((values, candidate, None, str(err)))
            continue
        if ctx.writer:
            write_json(done, {"values": values, **fit.summary()})
        outcomes.append((values, candidate, fit, None))
    fitted = [(v, c, f) for v, c, f, _ in outcomes if f is not None]
    if not fitted:
        reasons = "; ".join(f"{v}: {e}" for v, _, _, e in outcomes)
        raise TrainingDiverged(f"every tuning candidate diverged ({reasons})")
    values, selected, fit = min(fitted, key=lambda item: item[2].best_val)  # validation only
    chosen = RunDir(run.path / "candidates" / _slug(values))
    if ctx.writer:
        shutil.copyfile(chosen.metrics, run.metrics)
        run.log_line(f"selected {values} (validation {fit.best_val:.5g})")
    candidates = [
        {
            "values": v,
            "val": None if f is None else f.best_val,
            "best_step": None if f is None else f.best_step,
            "converged": None if f is None else f.converged,
            "error": e,
        }
        for v, _, f, e in outcomes
    ]
    return selected, fit, {"tuned": values, "candidates": candidates}


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


def _final_result(
    config: RunConfig, data: RunData, model: nn.Module, fit: Fit, ctx: Context
) -> dict[str, Any]:
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
        equivariance_error = equivariance(
            model, data, config.trainer.equivariance_samples, ctx.dtype
        )
    eval_seconds = time.perf_counter() - start
    sample_target = data.test_base[0].y if data.is_graph else data.test_base[0][1]
    info = symml_models.info(config.model.name)
    group = getattr(model, "group", None)
    metric = "mse" if sample_target.is_floating_point() else "error"
    wall = fit.train_seconds + fit.eval_seconds
    return {
        "run_id": config.run_id(),
        "experiment": config.experiment,
        "status": "finished",
        "model": config.model.name,
        "model_group": repr(group) if group is not None and info.group != "none" else "none",
        "baseline": info.baseline,
        "dataset": config.data.name,
        "train_size": data.train_size,
        "seed": config.seed,
        "augment": config.data.augment,
        "label": config.label,
        "metric": metric,
        "metric_units": METRIC_UNITS[metric],
        "test": test,
        "val": fit.best_val,
        "best_step": fit.best_step,
        "steps": fit.steps,
        "epochs": fit.epochs,
        "early_stopped": fit.early_stopped,
        "budget": fit.budget.as_dict(),
        "converged": fit.converged,
        "convergence": fit.convergence,
        "tuned": {},
        "candidates": [],
        "transformed": transformed,
        "transformed_size": data.transformed_size,
        "angle_curves": curves,
        "equivariance_error": equivariance_error,
        "parameters": symml_models.parameter_count(model),
        "wall_time_s": wall,
        "train_seconds": fit.train_seconds,
        "eval_seconds": fit.eval_seconds + eval_seconds,
        "throughput": fit.seen / fit.train_seconds if fit.train_seconds > 0 else None,
        "published": config.published.get(config.label, {}).get(data.train_size),
    }
