"""Typed run configs: YAML building blocks composed into one `RunConfig`, checked by a schema.

An experiment file names its building blocks and adds its own keys::

    defaults: {model: emlp_o5, data: o5_synthetic, trainer: fast}
    experiment: o5_efficiency
    data: {train_size: 1000}
    sweep: {model.name: [emlp, mlp], data.train_size: [100, 1000], seed: [0, 1, 2]}

``defaults`` loads ``configs/model/emlp_o5.yaml`` under ``model`` (and so on); the experiment's own
keys are merged on top, then ``key=value`` overrides from the command line. The result is
validated by pydantic models that forbid unknown keys; every error names its key path
(``trainer.epochs: Input should be a valid integer``). Model options are checked against the
registered builder's signature, model and dataset names against the registries.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
import os
from pathlib import Path
from typing import Any, Literal

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

CONCERNS = ("model", "data", "trainer")
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


class _Strict(BaseModel):
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


class OptimizerConfig(_Strict):
    """``torch.optim`` optimizer: Adam, AdamW or SGD (with momentum)."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0)


class ScheduleConfig(_Strict):
    """Learning-rate schedule, stepped once per epoch."""

    name: Literal["constant", "step", "exponential", "cosine"] = "constant"
    step_size: int = Field(10, ge=1)
    gamma: float = Field(0.5, gt=0)


class BudgetConfig(_Strict):
    """How long a run trains, as a rule of its training-set size N (replaces ``epochs``).

    ``steps``: the same number of optimizer steps at every N (a fair comparison across models
    and sizes); ``samples``: ``epochs = min(samples / N, max_epochs)`` (emlp's rule, e.g.
    ``samples: 900000, max_epochs: 1000``). ``evaluations``: validation evaluations spread
    evenly over the budget (the learning curve's points and early stopping's clock).
    """

    steps: int | None = Field(None, ge=1)
    samples: int | None = Field(None, ge=1)
    max_epochs: int | None = Field(None, ge=1)
    evaluations: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _one_rule(self) -> BudgetConfig:
        if (self.steps is None) == (self.samples is None):
            raise ValueError(
                "set exactly one of steps (equal optimizer steps at every training size) or "
                f"samples (epochs = min(samples / N, max_epochs)); got steps={self.steps}, "
                f"samples={self.samples}"
            )
        if self.max_epochs is not None and self.samples is None:
            raise ValueError("max_epochs goes with samples (epochs = min(samples / N, max_epochs))")
        return self


class TrainerConfig(_Strict):
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


class ModelConfig(_Strict):
    """A registered model (`symml.models.names()`) and its options."""

    name: str
    options: dict[str, Any] = {}


class TransformedTestConfig(_Strict):
    """A transformed test set: each sample moved by a random element (``random``), or the whole
    set at each of ``steps`` angles of a planar group (``grid``: error vs angle)."""

    name: str
    kind: Literal["random", "grid"] = "random"
    group: str | None = None  # a group name (`group_from_name`); None: the dataset's group
    steps: int = Field(12, ge=2)


class DataConfig(_Strict):
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


class RunConfig(_Strict):
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
        """Display name of the model line in reports: the model, ``+aug`` when augmented."""
        return self.model.name + ("+aug" if self.data.augment else "")

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


class LauncherConfig(_Strict):
    """Where sweep runs execute: ``local`` worker processes, or tasks on a ``ray`` cluster."""

    name: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)
    address: str | None = None  # ray: the cluster address ("auto", "ray://host:10001")


class SweepConfig(_Strict):
    """A grid over config keys: every combination of the listed values is one run.

    An entry of the ``model`` axis may carry that model's own settings beside ``name`` and
    ``options``: ``trainer``, ``data`` and ``tune`` sections merged over the experiment's (e.g.
    ``{name: gnn, trainer: {optimizer: {lr: 1.0e-3}}, data: {augment: true}}``).
    """

    grid: dict[str, list[Any]] = {}
    launcher: LauncherConfig = LauncherConfig()

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"sweep.{key}: an empty list would make a sweep of no runs")
        return value


# ----- loading -------------------------------------------------------------------------------
def find_config_root(start: Path) -> Path:
    """The ``configs/`` directory for a config file: ``$SYMML_CONFIG_DIR``, else the nearest
    ``configs`` directory among the file's parents (or their ``configs`` child)."""
    env = os.environ.get("SYMML_CONFIG_DIR")
    if env:
        return Path(env)
    for parent in [start.parent, *start.parents]:
        if parent.name == "configs" and (parent / "model").is_dir():
            return parent
        if (parent / "configs" / "model").is_dir():
            return parent / "configs"
    raise ConfigError(
        f"cannot find the configs/ directory (with model/, data/, trainer/) above {start}; "
        "set SYMML_CONFIG_DIR to it"
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"config file not found: {path}") from err
    except IsADirectoryError as err:
        raise ConfigError(f"{path} is a folder; give a config file such as {path}/x.yaml") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config file ({err})") from err
    except yaml.YAMLError as err:
        raise ConfigError(_yaml_error(path, err)) from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return loaded


def _yaml_error(path: Path, err: yaml.YAMLError) -> str:
    """One line for a YAML error: file, line and column, the parser's problem, the fix."""
    mark = getattr(err, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if "constructor for the tag" in problem:
        return f"{where}: {problem}; configs are plain YAML, without !! tags"
    return f"{where}: not valid YAML: {problem}; check the indentation and quoting there"


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, anything else in ``update`` replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def compose(path: Path, root: Path | None = None) -> dict[str, Any]:
    """The raw config of an experiment file: its ``defaults`` blocks, then its own keys."""
    raw = _read_yaml(path)
    defaults = raw.pop("defaults", {}) or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults: expected a mapping such as {{model: emlp_o5}}")
    out: dict[str, Any] = {}
    if defaults:
        root = root or find_config_root(path)
    for concern, name in defaults.items():
        if concern not in CONCERNS:
            raise ConfigError(
                f"{path}: defaults.{concern}: unknown building block; expected {list(CONCERNS)}"
            )
        assert root is not None
        block_path = root / concern / f"{name}.yaml"
        if not block_path.exists():
            available = sorted(p.stem for p in (root / concern).glob("*.yaml"))
            raise ConfigError(
                f"{path}: defaults.{concern}: no {block_path}; available: {', '.join(available)}"
            )
        out = merge(out, {concern: _read_yaml(block_path)})
    return merge(out, raw)


def parse_override(text: str) -> tuple[str, Any]:
    """``"trainer.epochs=5"`` → ``("trainer.epochs", 5)`` (the value is read as YAML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key=value, e.g. trainer.epochs=5")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


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
        raise ConfigError(_describe(err)) from err
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
    return config


def _check_model_options(model: ModelConfig) -> None:
    builder = symml_models.registry._builder(model.name)
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in model.options:
        if key not in params:
            raise ConfigError(
                f"model.options.{key}: unknown option of model {model.name!r}; it accepts "
                f"{sorted(params)}"
            )


def _describe(err: ValidationError) -> str:
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


def load_sweep(raw: dict[str, Any]) -> SweepConfig:
    """The ``sweep`` (a grid) and ``launcher`` sections of an experiment."""
    try:
        return SweepConfig.model_validate(
            {"grid": raw.get("sweep", {}) or {}, "launcher": raw.get("launcher", {}) or {}}
        )
    except ValidationError as err:
        text = _describe(err).replace("grid: sweep.", "sweep.").replace("grid.", "sweep.")
        raise ConfigError(text) from err


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict, RunConfig]:
    """Compose ``path``, apply ``key=value`` overrides, validate. Returns ``(raw, config)``; the
    raw dict keeps ``sweep`` / ``launcher`` for `symml.training.sweep`."""
    raw = compose(Path(path))
    for text in overrides:
        key, value = parse_override(text)
        raw = set_path(raw, key, value)
    return raw, validate(raw)
