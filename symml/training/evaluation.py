"""Metrics of a model on a dataset: the task loss, the task metric in raw target units, the
trained model's equivariance error and its forward time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from symml.training.datasets import RunData, loader

METRIC_UNITS = {"mse": "raw target units", "error": "%"}


def to_device(batch: Any, device: torch.device, dtype: torch.dtype, is_graph: bool) -> Any:
    """``(inputs, target)`` of a batch on ``device``, floating tensors cast to ``dtype``."""
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
    data: RunData,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    advance: Callable[[int], None] | None = None,
) -> float:
    """The task metric on ``dataset``: classification error (%) or MSE in the raw units of the
    target. A model trained on standardized targets has its predictions mapped back first
    (``prediction * std + mean``, see `RunData.target_stats`).

    Args:
        advance: called with the number of samples of each batch done (progress display).
    """
    model.eval()
    total, count = 0.0, 0
    stats = None
    if data.target_stats is not None:
        stats = tuple(t.to(device=device, dtype=dtype) for t in data.target_stats)
    batches = loader(dataset, batch_size, shuffle=False, seed=0, is_graph=data.is_graph)
    for batch in batches:
        inputs, target = to_device(batch, device, dtype, data.is_graph)
        prediction = model(inputs)
        if stats is not None:
            prediction = prediction * stats[1] + stats[0]
        s, n = _metric_sums(prediction, target)
        total, count = total + s, count + n
        if advance is not None:
            advance(int(batch.num_graphs) if data.is_graph else int(target.shape[0]))
    return total / max(count, 1)


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, batches: Iterable[Any]) -> int:
    """Cohen & Welling's "finetune" pass: reset the running statistics of every batch norm in
    ``model`` (torch's, `symml.nn.cnn.EquivariantBatchNorm`, any module with running statistics,
    ``reset_running_stats`` and ``momentum``) and re-estimate them as the
    equal-weight average over ``batches`` (model inputs) of each batch's statistics, with the
    rest of the model in eval mode (dropout off), so that evaluation uses the population
    statistics of the weights as they are now rather than a moving average over past weights.
    Returns how many batch norms were re-estimated (0: the model has none, nothing ran)."""
    # a batch norm by what it does (running statistics, a reset, a momentum): torch's, symml's
    # EquivariantBatchNorm and a user's own alike
    norms: list[Any] = [  # duck-typed: mypy cannot see their attributes
        m
        for m in model.modules()
        if getattr(m, "running_mean", None) is not None
        and callable(getattr(m, "reset_running_stats", None))
        and hasattr(m, "momentum")
    ]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    was_training = model.training
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.train()
    try:
        for k, inputs in enumerate(batches):
            for m in norms:  # running = running·k/(k+1) + batch/(k+1): the mean over batches
                m.momentum = 1.0 / (k + 1)
            model(inputs)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return len(norms)


@torch.no_grad()
def forward_seconds(
    model: nn.Module,
    dataset: Any,
    data: RunData,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    repeats: int = 10,
) -> tuple[float, int]:
    """``(seconds, samples)``: the median wall time of one forward pass of ``model`` (eval mode,
    no gradients) on the first ``batch_size`` samples of ``dataset``, after two warm-up passes;
    the forward-time column of a comparison (EGNN's Table 2 times a batch of 100)."""
    model.eval()
    batch = next(iter(loader(dataset, batch_size, shuffle=False, seed=0, is_graph=data.is_graph)))
    inputs, target = to_device(batch, device, dtype, data.is_graph)
    samples = int(batch.num_graphs) if data.is_graph else int(target.shape[0])

    def wait() -> None:  # kernels on an accelerator run asynchronously: time their completion
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    for i in range(repeats + 2):
        wait()
        start = time.perf_counter()
        model(inputs)
        wait()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times), samples


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
