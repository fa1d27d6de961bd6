"""One run: config → data and model from the registries → training with validation-based model
selection → test, transformed-test and equivariance metrics → ``result.json``.

Single process by default; under ``torchrun`` (``WORLD_SIZE > 1``) it trains with
DistributedDataParallel (gloo on CPU, nccl on GPUs) and rank 0 writes the run directory.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor, nn

from symml import models as symml_models
from symml.reps import Rep
from symml.training.config import DATA_FILLED_OPTIONS, RunConfig, TrainerConfig
from symml.training.datasets import RunData, build_run_data, loader
from symml.training.rundir import RunDir, manifest, save_checkpoint, write_atomic, write_json


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its log."""


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"trainer.device: {name!r} requested, but torch sees no CUDA device")
    return device


def build_model(config: RunConfig, data: RunData) -> nn.Module:
    """The registered model with its options; vector models get ``rep_in`` / ``rep_out`` /
    ``group`` from the dataset when the config leaves them out."""
    options = dict(config.model.options)
    info = symml_models.info(config.model.name)
    builder = symml_models.registry._builder(config.model.name)
    params = inspect.signature(builder).parameters
    rep_in, rep_out = data.train_base.reps()
    if info.kind == "vector" and isinstance(rep_in, Rep) and isinstance(rep_out, Rep):
        filled = {"rep_in": rep_in, "rep_out": rep_out, "group": rep_in.group}
        for key in DATA_FILLED_OPTIONS:
            if key in params and key not in options:
                options[key] = filled[key]
    return symml_models.build(config.model.name, **options)


def _optimizer(model: nn.Module, trainer: TrainerConfig) -> torch.optim.Optimizer:
    opt = trainer.optimizer
    params = model.parameters()
    if opt.name == "adam":
        return torch.optim.Adam(params, lr=opt.lr, weight_decay=opt.weight_decay)
    if opt.name == "adamw":
        return torch.optim.AdamW(params, lr=opt.lr, weight_decay=opt.weight_decay)
    return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)


def _schedule(
    optimizer: torch.optim.Optimizer, trainer: TrainerConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    s = trainer.schedule
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, s.step_size, s.gamma)
    if s.name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, s.gamma)
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, trainer.epochs)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _to(batch: Any, device: torch.device, dtype: torch.dtype, is_graph: bool) -> Any:
    if is_graph:
        batch = batch.to(device)
        for key in batch.keys():  # noqa: SIM118 - iterating a Batch yields (key, value) pairs
            value = batch[key]
            if isinstance(value, Tensor) and value.is_floating_point():
                batch[key] = value.to(dtype)
        return batch, batch.y
    x, y = batch
    x = x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)
    y = y.to(device=device, dtype=dtype if y.is_floating_point() else y.dtype)
    return x, y


def loss_of(prediction: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy for integer class targets, mean squared error otherwise."""
    if not target.is_floating_point():
        return nn.functional.cross_entropy(prediction, target)
    return nn.functional.mse_loss(prediction, target.reshape(prediction.shape))


def _metric_sums(prediction: Tensor, target: Tensor) -> tuple[float, int]:
    """(sum, count) of the task metric: misclassified % or squared error per element."""
    if not target.is_floating_point():
        wrong = (prediction.argmax(-1) != target).sum().item()
        return 100.0 * wrong, target.numel()
    diff = prediction - target.reshape(prediction.shape)
    return float((diff * diff).sum()), diff.numel()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Any,
    config: RunConfig,
    device: torch.device,
    dtype: torch.dtype,
    is_graph: bool,
) -> float:
    """The task metric on ``dataset``: classification error (%) or MSE."""
    model.eval()
    total, count = 0.0, 0
    batches = loader(dataset, config.trainer.batch_size, shuffle=False, seed=0, is_graph=is_graph)
    for batch in batches:
        inputs, target = _to(batch, device, dtype, is_graph)
        s, n = _metric_sums(model(inputs), target)
        total, count = total + s, count + n
    return total / max(count, 1)


def equivariance(model: nn.Module, data: RunData, samples: int, dtype: torch.dtype) -> float | None:
    """Relative equivariance error of ``model`` on test inputs (`symml.testing`), or None for a
    model that declares no ``rep_in`` / ``rep_out``."""
    if not (hasattr(model, "rep_in") and hasattr(model, "rep_out")):
        return None
    from symml.testing import equivariance_error  # training may use the harness (DESIGN L4)

    device = next(model.parameters()).device
    if data.is_graph:
        x = data.test_base[0].to(device)
        for key in x.keys():  # noqa: SIM118 - iterating a Data yields (key, value) pairs
            if isinstance(x[key], Tensor) and x[key].is_floating_point():
                x[key] = x[key].to(dtype)
    else:
        picked = [data.test_base[i][0] for i in range(min(samples, len(data.test_base)))]
        x = torch.stack(picked).to(device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            errors = equivariance_error(model, x=x, n_elements=samples)
    finally:
        model.train(was_training)
    return max(errors.values())


@contextlib.contextmanager
def _determinism(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def train(
    config: RunConfig, runs_root: Path | str, console: Console | None = None
) -> dict[str, Any]:
    """Train and evaluate one run in ``runs_root/<experiment>/<run_id>/``; returns the result.

    A finished run (``result.json`` present) is not repeated: its result is returned.

    Raises:
        TrainingDiverged: the loss became NaN/inf (``failed.json`` and the metrics so far stay).
    """
    run = RunDir(Path(runs_root) / config.experiment / config.run_id())
    if run.finished():
        import json

        return dict(json.loads(run.result.read_text()))
    console = console or Console()
    rank, world = _world()
    distributed = world > 1
    device = resolve_device(config.trainer.device)
    if distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
    writer = rank == 0
    dtype = torch.float64 if config.trainer.dtype == "float64" else torch.float32
    with _determinism(config.trainer.deterministic):
        torch.manual_seed(config.seed)
        if writer:
            write_atomic(run.config, config.to_yaml())
            write_json(run.manifest, manifest(config.seed, device, config.trainer.deterministic))
            run.log_line(f"run {config.run_id()} of {config.experiment}: {config.label}")
        data = build_run_data(config.data, config.seed)
        model = build_model(config, data).to(device=device, dtype=dtype)
        result = _fit(config, run, data, model, device, dtype, console, distributed, writer)
    return result


def _fit(
    config: RunConfig,
    run: RunDir,
    data: RunData,
    model: nn.Module,
    device: torch.device,
    dtype: torch.dtype,
    console: Console,
    distributed: bool,
    writer: bool,
) -> dict[str, Any]:
    trainer = config.trainer
    trained: nn.Module = model
    if distributed:
        trained = nn.parallel.DistributedDataParallel(model)
    optimizer = _optimizer(trained, trainer)
    schedule = _schedule(optimizer, trainer)
    world = _world()[1]
    batches = loader(
        data.train,
        max(1, trainer.batch_size // world),
        shuffle=True,
        seed=config.seed,
        is_graph=data.is_graph,
        num_workers=trainer.num_workers,
        distributed=distributed,
    )
    tensorboard = _tensorboard(run) if trainer.tensorboard and writer else None
    rows: list[dict[str, Any]] = []
    best_val, best_state, best_epoch, stale = math.inf, copy.deepcopy(model.state_dict()), 0, 0
    steps, start, seen, epochs_run = 0, time.perf_counter(), 0, 0
    show = trainer.progress and writer
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show, transient=True) as progress:
        epochs_bar = progress.add_task(f"{config.label} epochs", total=trainer.epochs, status="")
        for epoch in range(1, trainer.epochs + 1):
            for source in (data.train, batches.sampler):
                if hasattr(source, "set_epoch"):
                    source.set_epoch(epoch)
            trained.train()
            batch_bar = progress.add_task("  batches", total=len(batches), status="")
            epoch_loss, epoch_n = 0.0, 0
            for batch in batches:
                inputs, target = _to(batch, device, dtype, data.is_graph)
                loss = loss_of(trained(inputs), target)
                value = float(loss.detach())
                if not math.isfinite(value):
                    _diverged(run, rows, epoch, steps, value, writer)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if trainer.grad_clip is not None:
                    nn.utils.clip_grad_norm_(trained.parameters(), trainer.grad_clip)
                optimizer.step()
                steps += 1
                n = int(target.shape[0]) if not data.is_graph else int(batch.num_graphs)
                seen += n * world
                epoch_loss, epoch_n = epoch_loss + value * n, epoch_n + n
                progress.update(batch_bar, advance=1, status=f"loss {value:.4g}")
                if trainer.max_steps is not None and steps >= trainer.max_steps:
                    break
            progress.remove_task(batch_bar)
            schedule.step()
            epochs_run = epoch
            val = evaluate(model, data.val, config, device, dtype, data.is_graph)
            row: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": epoch_loss / max(epoch_n, 1),
                "val_metric": val,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - start,
                "equivariance_error": None,
            }
            every = trainer.equivariance_every
            if every and epoch % every == 0:
                row["equivariance_error"] = equivariance(
                    model, data, trainer.equivariance_samples, dtype
                )
            if writer:
                run.append_metrics(row, rows)
                run.log_line(
                    f"epoch {epoch}: train loss {row['train_loss']:.5g}, val {val:.5g}"
                    + (
                        f", equivariance {row['equivariance_error']:.2e}"
                        if row["equivariance_error"] is not None
                        else ""
                    )
                )
                if tensorboard is not None:
                    for key in ("train_loss", "val_metric", "lr", "equivariance_error"):
                        if row[key] is not None:
                            tensorboard.add_scalar(key, row[key], epoch)
            if val < best_val:  # model selection on validation only
                best_val, best_epoch, stale = val, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
                if writer:
                    save_checkpoint(run.checkpoint, best_state)
            else:
                stale += 1
            progress.update(epochs_bar, advance=1, status=f"val {val:.4g} (best {best_val:.4g})")
            stop_early = (
                trainer.early_stopping_patience is not None
                and stale >= trainer.early_stopping_patience
            )
            if stop_early or (trainer.max_steps is not None and steps >= trainer.max_steps):
                break
    wall = time.perf_counter() - start
    if tensorboard is not None:
        tensorboard.close()
    model.load_state_dict(best_state)
    result = _final_result(config, data, model, device, dtype, best_val, best_epoch, wall, seen)
    result["epochs"] = epochs_run
    if writer:
        write_json(run.result, result)
        run.log_line(f"finished: test {result['test']:.5g} ({result['metric']})")
    return result


def _final_result(
    config: RunConfig,
    data: RunData,
    model: nn.Module,
    device: torch.device,
    dtype: torch.dtype,
    best_val: float,
    best_epoch: int,
    wall: float,
    seen: int,
) -> dict[str, Any]:
    def metric_on(ds: Any) -> float:
        return evaluate(model, ds, config, device, dtype, data.is_graph)

    sample_target = data.test_base[0].y if data.is_graph else data.test_base[0][1]
    info = symml_models.info(config.model.name)
    group = getattr(model, "group", None)
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
        "metric": "mse" if sample_target.is_floating_point() else "error",
        "test": metric_on(data.test),
        "val": best_val,
        "best_epoch": best_epoch,
        "transformed": {name: metric_on(ds) for name, ds in data.transformed.items()},
        "angle_curves": {
            name: [[angle, metric_on(ds)] for angle, ds in points]
            for name, points in data.angle_curves.items()
        },
        "equivariance_error": equivariance(model, data, config.trainer.equivariance_samples, dtype),
        "parameters": symml_models.parameter_count(model),
        "wall_time_s": wall,
        "throughput": seen / wall if wall > 0 else None,
        "published": config.published.get(config.label, {}).get(data.train_size),
    }


def _diverged(
    run: RunDir, rows: list[dict[str, Any]], epoch: int, step: int, loss: float, writer: bool
) -> None:
    message = (
        f"loss became {loss} at epoch {epoch}, step {step + 1}: the run stopped. Lower "
        f"trainer.optimizer.lr, set trainer.grad_clip, or check the data; the metrics logged so "
        f"far are in {run.path}"
    )
    if writer:
        write_json(run.failed, {"reason": message, "epoch": epoch, "step": step + 1})
        run.log_line(message)
    raise TrainingDiverged(message)


def _tensorboard(run: RunDir) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(
            "trainer.tensorboard: TensorBoard logging needs the tensorboard package: "
            "pip install 'symml[tensorboard]' (or set trainer.tensorboard=false)"
        ) from err
    return SummaryWriter(str(run.path / "tensorboard"))
