"""Training one model within its budget: the optimizer steps, validation every
``budget.eval_every`` steps, the state with the best validation metric, and the verdict on
convergence. The test split is never read here (see `symml.training.loop`)."""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch import nn

from symml import models as symml_models
from symml.models.registry import accepted_options
from symml.reps import Rep
from symml.training.budget import Budget, judge_convergence, resolve_budget
from symml.training.config import DATA_FILLED_OPTIONS, ConfigError, RunConfig, TrainerConfig
from symml.training.datasets import RunData, loader
from symml.training.evaluation import (
    equivariance,
    evaluate,
    loss_of,
    reestimate_batchnorm,
    to_device,
)
from symml.training.rundir import RunDir, save_checkpoint, write_json


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
    accepted = accepted_options(config.model.name)
    rep_in, rep_out = data.train_base.reps()
    if info.kind == "vector" and isinstance(rep_in, Rep) and isinstance(rep_out, Rep):
        filled = {"rep_in": rep_in, "rep_out": rep_out, "group": rep_in.group}
        for key in DATA_FILLED_OPTIONS:
            if accepted is not None and key in accepted and key not in options:
                options[key] = filled[key]
    try:
        return symml_models.build(config.model.name, **options)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # the options are free-form in the schema: a wrong value surfaces in the builder
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(
            f"model.options: cannot build {config.model.name!r} with {dict(config.model.options)}: "
            f"{message}; see `symml list` and the model's docstring for its options"
        ) from err


def _optimizer(model: nn.Module, trainer: TrainerConfig) -> torch.optim.Optimizer:
    opt = trainer.optimizer
    params: Any = model.parameters()
    if opt.decay == "weights" and opt.weight_decay:
        decayed, kept = _weights_and_the_rest(model)
        params = [{"params": decayed}, {"params": kept, "weight_decay": 0.0}]
    if opt.name == "adam":
        return torch.optim.Adam(params, lr=opt.lr, weight_decay=opt.weight_decay)
    if opt.name == "adamw":
        return torch.optim.AdamW(params, lr=opt.lr, weight_decay=opt.weight_decay)
    return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)


def _weights_and_the_rest(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(weights, the rest): a module's parameters other than biases are weights, except those
    of normalization layers (anything with running statistics or ``Norm`` in its type's name)."""
    decayed: list[nn.Parameter] = []
    kept: list[nn.Parameter] = []
    for module in model.modules():
        is_norm = hasattr(module, "running_mean") or "Norm" in type(module).__name__
        for name, p in module.named_parameters(recurse=False):
            (kept if is_norm or name.endswith("bias") else decayed).append(p)
    return decayed, kept


def _schedule(
    optimizer: torch.optim.Optimizer, trainer: TrainerConfig, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    s = trainer.schedule
    if s.name in ("step", "exponential"):
        every = s.step_size if s.name == "step" else 1
        # after `done` epochs: the base rate through epoch `start`, then a factor gamma per
        # `every` epochs (start = 1 is torch's StepLR / ExponentialLR)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda done: s.gamma ** (max(0, done - s.start + 1) // every)
        )
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def rank_and_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


@dataclass
class Fit:
    """What training one config produced (before the test set is read)."""

    best_state: dict[str, Any]
    best_val: float
    best_step: int
    steps: int
    epochs: int
    budget: Budget
    early_stopped: bool
    converged: bool | None
    convergence: str
    train_seconds: float
    eval_seconds: float
    seen: int

    def summary(self) -> dict[str, Any]:
        """The JSON-able part (``fit.json`` of a tuning candidate)."""
        out = {k: v for k, v in vars(self).items() if k not in ("best_state", "budget")}
        return {**out, "budget": self.budget.as_dict()}


@dataclass
class Context:
    """Where and how a run computes."""

    device: torch.device
    dtype: torch.dtype
    console: Console
    distributed: bool
    writer: bool


@dataclass
class _Selection:
    """Validation history of a run being trained: the curve, the best state so far, patience."""

    rows: list[dict[str, Any]]
    best_val: float
    best_step: int
    best_state: dict[str, Any]
    stale: int = 0

    def offer(self, val: float, step: int, model: nn.Module, run: RunDir, writer: bool) -> None:
        if val < self.best_val:  # model selection on validation only
            self.best_val, self.best_step, self.stale = val, step, 0
            self.best_state = copy.deepcopy(model.state_dict())
            if writer:
                save_checkpoint(run.checkpoint, self.best_state)
        else:
            self.stale += 1


def fit_model(config: RunConfig, run: RunDir, data: RunData, model: nn.Module, ctx: Context) -> Fit:
    """Train ``model`` within the config's budget, evaluating the validation split every
    ``budget.eval_every`` steps; keeps the state of the best validation metric."""
    loop = _Loop.start(config, run, data, model, ctx)
    show = config.trainer.progress and ctx.writer
    with Progress(*COLUMNS, console=ctx.console, disable=not show, transient=True) as progress:
        bar = progress.add_task(f"{config.label} steps", total=loop.budget.steps, status="")
        while loop.step < loop.budget.steps and not loop.stopped_early:
            loop.epoch(progress, bar)
    return loop.finish()


@dataclass
class _Loop:
    """One model being trained: what it trains with, and its counters so far."""

    config: RunConfig
    run: RunDir
    data: RunData
    model: nn.Module
    trained: nn.Module  # the model, or its DistributedDataParallel wrapper
    world: int  # processes training it
    ctx: Context
    batches: Any
    budget: Budget
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    tensorboard: Any
    track: _Selection
    start_time: float
    step: int = 0
    seen: int = 0  # samples trained on, over all processes
    epoch_count: int = 0
    loss_sum: float = 0.0  # training loss since the last validation, weighted by samples
    loss_n: int = 0
    eval_seconds: float = 0.0
    stopped_early: bool = False

    @classmethod
    def start(
        cls, config: RunConfig, run: RunDir, data: RunData, model: nn.Module, ctx: Context
    ) -> _Loop:
        trainer = config.trainer
        trained = nn.parallel.DistributedDataParallel(model) if ctx.distributed else model
        world = rank_and_world()[1]
        batches = loader(
            data.train,
            max(1, trainer.batch_size // world),
            shuffle=True,
            seed=config.seed,
            is_graph=data.is_graph,
            num_workers=trainer.num_workers,
            distributed=ctx.distributed,
        )
        budget = resolve_budget(trainer, data.train_size, len(batches))
        optimizer = _optimizer(trained, trainer)
        tensorboard = _tensorboard(run) if trainer.tensorboard and ctx.writer else None
        if ctx.writer:
            run.log_line(
                f"budget: {budget.rule} ({budget.steps:,} steps, {budget.epochs:,} epochs)"
            )
        track = _Selection([], math.inf, 0, copy.deepcopy(model.state_dict()))
        schedule = _schedule(optimizer, trainer, budget.epochs)
        return cls(
            config, run, data, model, trained, world, ctx, batches, budget, optimizer, schedule,
            tensorboard, track, time.perf_counter(),
        )  # fmt: skip

    def epoch(self, progress: Progress, bar: TaskID) -> None:
        """One pass over the training set, cut short by the budget or early stopping."""
        self.epoch_count += 1
        for source in (self.data.train, self.batches.sampler):
            if hasattr(source, "set_epoch"):
                source.set_epoch(self.epoch_count)
        self.trained.train()
        for batch in self.batches:
            value = self._train_step(batch)
            progress.update(bar, advance=1, status=f"loss {value:.4g}")
            if self.step % self.budget.eval_every and self.step < self.budget.steps:
                continue
            self._validate(progress, bar)
            if self.stopped_early or self.step >= self.budget.steps:
                break
        self.schedule.step()

    def _train_step(self, batch: Any) -> float:
        ctx, data = self.ctx, self.data
        inputs, target = to_device(batch, ctx.device, ctx.dtype, data.is_graph)
        loss = loss_of(self.trained(inputs), target)
        value = float(loss.detach())
        if not math.isfinite(value):
            _diverged(self.run, self.epoch_count, self.step, value, ctx.writer)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.trainer.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.trained.parameters(), self.config.trainer.grad_clip)
        self.optimizer.step()
        self.step += 1
        n = int(batch.num_graphs) if data.is_graph else int(target.shape[0])
        self.seen += n * self.world
        self.loss_sum, self.loss_n = self.loss_sum + value * n, self.loss_n + n
        return value

    def _validate(self, progress: Progress, bar: TaskID) -> None:
        tick = time.perf_counter()
        track = self.track
        if self.config.trainer.reestimate_batchnorm:
            progress.update(bar, status="re-estimating batch norms")
            self._reestimate_batchnorm()
        row = _validation_row(self.config, self.data, self.model, self.ctx, len(track.rows) + 1)
        row.update(epoch=self.epoch_count, step=self.step)
        row.update(train_loss=self.loss_sum / max(self.loss_n, 1))
        row.update(lr=self.optimizer.param_groups[0]["lr"], seconds=tick - self.start_time)
        self.trained.train()
        self.eval_seconds += time.perf_counter() - tick
        self.loss_sum, self.loss_n = 0.0, 0
        _record(self.run, row, track.rows, self.tensorboard, self.ctx.writer)
        track.offer(row["val_metric"], self.step, self.model, self.run, self.ctx.writer)
        progress.update(bar, status=f"val {row['val_metric']:.4g} (best {track.best_val:.4g})")
        patience = self.config.trainer.early_stopping_patience
        self.stopped_early = patience is not None and track.stale >= patience

    def _reestimate_batchnorm(self) -> None:
        """One pass over the training set (as trained: augmented when augmenting) that sets the
        batch norms' statistics to those of the current weights (`reestimate_batchnorm`)."""
        ctx, data = self.ctx, self.data
        batches = loader(
            data.train, self.config.trainer.eval_batch_size, shuffle=False, seed=self.step,
            is_graph=data.is_graph,
        )  # fmt: skip
        inputs = (to_device(b, ctx.device, ctx.dtype, data.is_graph)[0] for b in batches)
        reestimate_batchnorm(self.model, inputs)

    def finish(self) -> Fit:
        """The fit, with the loop's verdict on convergence (logged when it has one)."""
        wall = time.perf_counter() - self.start_time
        if self.tensorboard is not None:
            self.tensorboard.close()
        curve = [(int(r["step"]), float(r["val_metric"])) for r in self.track.rows]
        tolerance = self.config.trainer.convergence_tolerance
        converged, note = judge_convergence(curve, self.step, self.stopped_early, tolerance)
        if self.ctx.writer and note:
            self.run.log_line(note)
        return Fit(
            best_state=self.track.best_state,
            best_val=self.track.best_val,
            best_step=self.track.best_step,
            steps=self.step,
            epochs=self.epoch_count,
            budget=self.budget,
            early_stopped=self.stopped_early,
            converged=converged,
            convergence=note,
            train_seconds=wall - self.eval_seconds,
            eval_seconds=self.eval_seconds,
            seen=self.seen,
        )


def _validation_row(
    config: RunConfig, data: RunData, model: nn.Module, ctx: Context, evaluation: int
) -> dict[str, Any]:
    """The validation metric (and, every ``equivariance_every`` evaluations, the equivariance
    error) of the model being trained."""
    trainer = config.trainer
    val = evaluate(model, data.val, data, trainer.eval_batch_size, ctx.device, ctx.dtype)
    every = trainer.equivariance_every
    error = None
    if every and evaluation % every == 0:
        error = equivariance(model, data, trainer.equivariance_samples, ctx.dtype)
    return {"val_metric": val, "equivariance_error": error}


COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed}/{task.total}"),
    TextColumn("{task.fields[status]}"),
    TimeElapsedColumn(),
    TimeRemainingColumn(),
)


def _record(
    run: RunDir, row: dict[str, Any], rows: list[dict[str, Any]], tensorboard: Any, writer: bool
) -> None:
    if not writer:
        rows.append(row)
        return
    run.append_metrics(row, rows)
    equivariance_text = (
        ""
        if row["equivariance_error"] is None
        else f", equivariance {row['equivariance_error']:.2e}"
    )
    run.log_line(
        f"step {row['step']} (epoch {row['epoch']}): train loss {row['train_loss']:.5g}, "
        f"val {row['val_metric']:.5g}{equivariance_text}"
    )
    if tensorboard is not None:
        for key in ("train_loss", "val_metric", "lr", "equivariance_error"):
            if row[key] is not None:
                tensorboard.add_scalar(key, row[key], row["step"])


def _diverged(run: RunDir, epoch: int, step: int, loss: float, writer: bool) -> None:
    message = (
        f"loss became {loss} at epoch {epoch}, step {step + 1}: the run stopped. Lower "
        f"trainer.optimizer.lr, set trainer.grad_clip, or check the data; its log is "
        f"{run.log}"
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
