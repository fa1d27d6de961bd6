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
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from symml import data as symml_data
from symml import models as symml_models

CONCERNS = ("model", "data", "trainer")
# keys that change how a run is shown, not what it computes: left out of the run's hash
_NOT_HASHED = (("published",), ("trainer", "progress"), ("trainer", "tensorboard"))
# model options the engine fills from the dataset when the config leaves them out
DATA_FILLED_OPTIONS = ("rep_in", "rep_out", "group")


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key path and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


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


class TrainerConfig(_Strict):
    """How a model is trained (see `symml.training.loop.train`)."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps (debug)")
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    grad_clip: float | None = Field(None, gt=0)
    early_stopping_patience: int | None = Field(None, ge=1)
    equivariance_every: int = Field(0, ge=0, description="epochs between checks; 0: at the end")
    equivariance_samples: int = Field(8, ge=1)
    device: str = "cpu"
    dtype: Literal["float32", "float64"] = "float32"
    deterministic: bool = True
    num_workers: int = Field(0, ge=0)
    progress: bool = True
    tensorboard: bool = False


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
    standardize: bool = False  # apply the training split's `stats()` (EMLP tasks) to every split
    transformed_tests: list[TransformedTestConfig] = []


class RunConfig(_Strict):
    """Everything one run needs; its hash (without display-only keys) names the run."""

    experiment: str = "default"
    seed: int = 0
    model: ModelConfig
    data: DataConfig
    trainer: TrainerConfig = TrainerConfig()
    published: dict[str, dict[int, float]] = {}

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

    def run_id(self) -> str:
        """First 12 hex digits of the sha256 of the resolved config (display keys excluded)."""
        plain = self.model_dump(mode="json")
        for path in _NOT_HASHED:
            node = plain
            for key in path[:-1]:
                node = node[key]
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
    """A grid over config keys: every combination of the listed values is one run."""

    grid: dict[str, list[Any]] = {}
    launcher: LauncherConfig = LauncherConfig()


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
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file not found: {path}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return loaded


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
    """A copy of ``config`` with the dotted ``key`` set to ``value``."""
    out = copy.deepcopy(config)
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
        message = e["msg"]
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
        raise ConfigError(_describe(err).replace("grid.", "sweep.")) from err


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict, RunConfig]:
    """Compose ``path``, apply ``key=value`` overrides, validate. Returns ``(raw, config)``; the
    raw dict keeps ``sweep`` / ``launcher`` for `symml.training.sweep`."""
    raw = compose(Path(path))
    for text in overrides:
        key, value = parse_override(text)
        raw = set_path(raw, key, value)
    return raw, validate(raw)
