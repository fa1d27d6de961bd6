"""Typed run configs: `RunConfig` and its sections, a schema of pydantic models that forbid
unknown keys, so every error names its key path (``trainer.epochs: Input should be a valid
integer``).

`validate` turns a raw config (composed from YAML building blocks by
`symml.training.config_files`) into a `RunConfig`, and checks what the schema cannot: model and
dataset names against the registries, model options against the registered builder's
signature (`symml.models.registry.accepted_options`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from typing import Annotated, Any, Literal

import torch
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from symml import data as symml_data
from symml import models as symml_models
from symml.models.registry import accepted_options

# keys that change how a run is shown, not what it computes: left out of the run's hash
_NOT_HASHED = (
    ("published",),
    ("trainer", "progress"),
    ("trainer", "tensorboard"),
    ("trainer", "eval_batch_size"),
)
# model options the engine fills from the dataset when the config leaves them out
DATA_FILLED_OPTIONS = ("rep_in", "rep_out", "group")


_NUMBERS = (int, float, int | None, float | None)
_DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto (a GPU when there is one)"


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key path and the fix."""


class Strict(BaseModel):
    """A config section: unknown keys refused, frozen, and no boolean read as a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `true` as 1: `batch_size: true` would train with batches of 1
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation in _NUMBERS:
                raise ValueError(f"expected a number, not the boolean {value}")
        return value


class OptimizerConfig(Strict):
    """``torch.optim`` optimizer: Adam, AdamW or SGD (with momentum)."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # "all" parameters, or only "weights": not biases nor normalization layers (Weiler & Cesa's
    # "sfcnn" optimizer puts its L2 on conv and linear weights only)
    decay: Literal["all", "weights"] = "all"
    momentum: float = Field(0.9, ge=0)


class ScheduleConfig(Strict):
    """Learning-rate schedule, stepped once per epoch. ``step`` and ``exponential`` keep the
    base rate for the first ``start`` epochs, then multiply it by ``gamma`` every
    ``step_size`` epochs (``step``) or every epoch (``exponential``): Weiler & Cesa's ×0.8 per
    epoch after epoch 10 is ``{name: exponential, gamma: 0.8, start: 10}``."""

    name: Literal["constant", "step", "exponential", "cosine"] = "constant"
    step_size: int = Field(10, ge=1)
    gamma: float = Field(0.5, gt=0)
    start: int = Field(1, ge=1)


class BudgetConfig(Strict):
    """How long a run trains, as a rule of its training-set size N (replaces ``epochs``).

    ``steps``: the same number of optimizer steps at every N (a fair comparison across models
    and sizes); ``samples``: ``epochs = min(samples / N, max_epochs)`` (emlp's rule, e.g.
    ``samples: 900000, max_epochs: 1000``); ``epochs_by_size``: a published table of epochs
    per training size (EGNN's data-efficiency sweep, ``{100: 2000, 200: 2000, ...}``).
    ``evaluations``: validation evaluations spread evenly over the budget (the learning curve's
    points and early stopping's clock).
    """

    steps: int | None = Field(None, ge=1)
    samples: int | None = Field(None, ge=1)
    max_epochs: int | None = Field(None, ge=1)
    epochs_by_size: dict[int, Annotated[int, Field(ge=1)]] | None = None
    evaluations: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _one_rule(self) -> BudgetConfig:
        rules = {
            "steps": self.steps,
            "samples": self.samples,
            "epochs_by_size": self.epochs_by_size,
        }
        if sum(value is not None for value in rules.values()) != 1:
            given = ", ".join(f"{k}={v}" for k, v in rules.items() if v is not None) or "none"
            raise ValueError(
                "set exactly one of steps (equal optimizer steps at every training size), "
                "samples (epochs = min(samples / N, max_epochs)) or epochs_by_size (a table "
                f"{{N: epochs}}); got {given}"
            )
        if self.max_epochs is not None and self.samples is None:
            raise ValueError("max_epochs goes with samples (epochs = min(samples / N, max_epochs))")
        return self


class TrainerConfig(Strict):
    """How a model is trained (see `symml.training.loop.train`)."""

    epochs: int = Field(10, ge=1)
    budget: BudgetConfig | None = None  # when set, it decides the epochs and steps
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(1000, ge=1, description="batch size of every evaluation")
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps (debug)")
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    grad_clip: float | None = Field(None, gt=0)
    early_stopping_patience: int | None = Field(None, ge=1, description="in evaluations")
    # a run is flagged "not converged" when its best validation metric improved by more than
    # this fraction over the last 20 % of its steps
    convergence_tolerance: float = Field(0.05, gt=0)
    equivariance_every: int = Field(
        0, ge=0, description="validation evaluations between checks; 0: at the end only"
    )
    equivariance_samples: int = Field(8, ge=1)
    # Cohen & Welling's "finetune" pass: before each validation, the batch-norm statistics are
    # re-estimated over the training set with the current weights (one forward pass)
    reestimate_batchnorm: bool = False
    device: str = "cpu"
    dtype: Literal["float32", "float64"] = "float32"
    deterministic: bool = True
    num_workers: int = Field(0, ge=0)
    progress: bool = True
    tensorboard: bool = False

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            torch.device(value)
        except (RuntimeError, ValueError):
            raise ValueError(f"expected {_DEVICE_HELP} (got {value!r})") from None
        return value

    @model_validator(mode="after")
    def _schedule_fits_budget(self) -> TrainerConfig:
        # step/exponential schedules count epochs; under a steps budget the number of epochs
        # depends on the training size, so the same schedule would decay differently per size
        steps_budget = self.budget is not None and self.budget.steps is not None
        if steps_budget and self.schedule.name in ("step", "exponential"):
            raise ValueError(
                f"schedule {self.schedule.name!r} counts epochs, which a steps budget makes "
                "depend on the training size; use schedule.name: constant or cosine"
            )
        return self


class ModelConfig(Strict):
    """A registered model (`symml.models.names()`) and its options; ``label`` names its line in
    reports when one sweep holds two variants of a model (``emlp`` on O(5) and on SO(5))."""

    name: str
    options: dict[str, Any] = {}
    label: str | None = Field(None, min_length=1)


class TransformedTestConfig(Strict):
    """A transformed test set: each sample moved by a random element (``random``), the whole
    set at each of ``steps`` angles of a planar group (``grid``: error vs angle), or the test
    samples in one of the dataset's named subsets, unmoved (``subset``, e.g. N-body's
    ``unclipped``: see the dataset's ``subsets()``)."""

    name: str
    kind: Literal["random", "grid", "subset"] = "random"
    group: str | None = None  # a group name (`group_from_name`); None: the dataset's group
    steps: int = Field(12, ge=2)
    subset: str | None = None  # kind subset: the name of one of the dataset's `subsets()`

    @model_validator(mode="after")
    def _subset_named(self) -> TransformedTestConfig:
        if (self.kind == "subset") != (self.subset is not None):
            raise ValueError(
                f"transformed test {self.name!r}: `subset` names the dataset's subset and goes "
                "with kind: subset (and only with it)"
            )
        return self


class DataConfig(Strict):
    """A registered dataset (`symml.data.names()`), its sizes and transforms."""

    name: str
    options: dict[str, Any] = {}
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    train_size: int | None = Field(None, ge=1)
    val_size: int | None = Field(None, ge=1)
    test_size: int | None = Field(None, ge=1)
    augment: bool = False
    augment_group: str | None = None  # a group name; None: the dataset's own group
    standardize: bool = False  # train on the training split's `stats()`; metrics stay raw
    transformed_tests: list[TransformedTestConfig] = []
    # transformed test sets and angle curves use this many test samples (a fixed, seeded
    # subset); None: the whole test split
    transformed_size: int | None = Field(None, ge=1)


class RunConfig(Strict):
    """Everything one run needs; its hash (without display-only keys) names the run."""

    experiment: str = "default"
    seed: int = Field(0, ge=0, lt=2**63)  # torch.manual_seed takes a signed 64-bit integer
    model: ModelConfig
    data: DataConfig
    trainer: TrainerConfig = TrainerConfig()
    # values to try per run, selected on the validation metric: {"trainer.optimizer.lr": [...]}
    tune: dict[str, list[Any]] = {}
    published: dict[str, dict[int, float]] = {}

    @field_validator("tune")
    @classmethod
    def _tune_values(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"{key}: expected a non-empty list of values to try")
            if key.split(".")[0] not in ("model", "data", "trainer"):
                raise ValueError(
                    f"{key}: only model.*, data.* and trainer.* keys can be tuned (got {key!r})"
                )
        return value

    @field_validator("experiment")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or any(c in value for c in "/\\") or value.startswith("."):
            raise ValueError(f"expected a plain directory name (got {value!r})")
        return value

    @property
    def label(self) -> str:
        """Display name of the model line in reports: the model's label (default: its name),
        ``+aug`` when augmented."""
        return (self.model.label or self.model.name) + ("+aug" if self.data.augment else "")

    def candidates(self) -> list[dict[str, Any]]:
        """Every combination of the ``tune`` values (``[{}]`` when nothing is tuned)."""
        keys = list(self.tune)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(self.tune[k] for k in keys))
        ]

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        """This config with ``values`` (dotted keys) set and nothing left to tune."""
        raw = self.model_dump(mode="json")
        raw["tune"] = {}
        for key, value in values.items():
            raw = set_path(raw, key, value)
        return validate(raw)

    def run_id(self) -> str:
        """First 12 hex digits of the sha256 of the resolved config: display keys excluded, and
        every key left at its default, so that a new option (added with a default that keeps
        the old behaviour) does not rename earlier runs and their committed records."""
        plain = self.model_dump(mode="json", exclude_defaults=True)
        for path in _NOT_HASHED:
            node = plain
            for key in path[:-1]:
                node = node.get(key, {})
            node.pop(path[-1], None)
        text = json.dumps(plain, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def set_path(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with the dotted ``key`` set to ``value``.

    ``sweep.<axis>`` (and ``tune.<key>``) name one axis whose own name is dotted:
    ``sweep.data.train_size=[100, 300]`` replaces that axis of the sweep grid.
    """
    out = copy.deepcopy(config)
    head, _, rest = key.partition(".")
    if head in ("sweep", "tune") and rest:
        section = out.get(head) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"override {key}: {head} is a value, not a section")
        out[head] = {**section, rest: copy.deepcopy(value)}
        return out
    node = out
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                f"override {key}: {'.'.join(parts[: i + 1])} is a value, not a section"
            )
        node = child
    node[parts[-1]] = copy.deepcopy(value)
    return out


def validate(raw: dict[str, Any]) -> RunConfig:
    """The typed run config, or a `ConfigError` naming every bad key path."""
    raw = {k: v for k, v in raw.items() if k not in ("sweep", "launcher")}
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(describe_errors(err)) from err
    if config.model.name not in symml_models.names():
        raise ConfigError(
            f"model.name: unknown model {config.model.name!r}; registered models: "
            f"{', '.join(symml_models.names())}"
        )
    if config.data.name not in symml_data.names():
        raise ConfigError(
            f"data.name: unknown dataset {config.data.name!r}; registered datasets: "
            f"{', '.join(symml_data.names())}"
        )
    _check_model_options(config.model)
    budget, size = config.trainer.budget, config.data.train_size
    table = budget.epochs_by_size if budget is not None else None
    if table is not None and size is not None and size not in table:
        listed = ", ".join(f"{n:,}" for n in sorted(table))
        raise ConfigError(
            f"trainer.budget.epochs_by_size has no entry for training size {size:,} "
            f"(it lists {listed}); add one or change data.train_size"
        )
    return config


def _check_model_options(model: ModelConfig) -> None:
    accepted = accepted_options(model.name)
    for key in model.options:
        if accepted is not None and key not in accepted:
            raise ConfigError(
                f"model.options.{key}: unknown option of model {model.name!r}; it accepts "
                f"{sorted(accepted)}"
            )


def describe_errors(err: ValidationError) -> str:
    """One line for a schema error: each bad key path with what was wrong (and the value)."""
    parts = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and section)"
        got = e.get("input")
        suffix = "" if e["type"] in ("extra_forbidden", "missing") else f" (got {got!r})"
        parts.append(f"{path}: {message}{suffix}")
    return "; ".join(parts)
