"""Experiment files: YAML building blocks composed into one raw config, ``key=value``
overrides, and the ``sweep`` and ``launcher`` sections (the run itself is `RunConfig`).

An experiment file names its building blocks and adds its own keys::

    defaults: {model: emlp, data: o5_synthetic, trainer: default}
    experiment: o5_efficiency
    data: {train_size: 1000}
    sweep: {model.name: [emlp, mlp], data.train_size: [100, 1000], seed: [0, 1, 2]}

``defaults`` loads ``configs/model/emlp.yaml`` under ``model`` (and so on); the experiment's own
keys are merged on top, then ``key=value`` overrides from the command line, each value read as
YAML (`parse_override`). `load` validates the result (`symml.training.config.validate`).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from symml.training.config import (
    ConfigError,
    RunConfig,
    Strict,
    describe_errors,
    set_path,
    validate,
)

CONCERNS = ("model", "data", "trainer")


class LauncherConfig(Strict):
    """Where sweep runs execute: ``local`` worker processes, or tasks on a ``ray`` cluster."""

    name: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)
    address: str | None = None  # ray: the cluster address ("auto", "ray://host:10001")


class SweepConfig(Strict):
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


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path``; a one-line `ConfigError` naming the file (and the
    line and column of a syntax error) otherwise."""
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
    raw = read_yaml(path)
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
        out = merge(out, {concern: read_yaml(block_path)})
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


def load_sweep(raw: dict[str, Any]) -> SweepConfig:
    """The ``sweep`` (a grid) and ``launcher`` sections of an experiment."""
    try:
        return SweepConfig.model_validate(
            {"grid": raw.get("sweep", {}) or {}, "launcher": raw.get("launcher", {}) or {}}
        )
    except ValidationError as err:
        text = describe_errors(err).replace("grid: sweep.", "sweep.").replace("grid.", "sweep.")
        raise ConfigError(text) from err


def load(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict, RunConfig]:
    """Compose ``path``, apply ``key=value`` overrides, validate. Returns ``(raw, config)``; the
    raw dict keeps ``sweep`` / ``launcher`` for `symml.training.sweep`."""
    raw = compose(Path(path))
    for text in overrides:
        key, value = parse_override(text)
        raw = set_path(raw, key, value)
    return raw, validate(raw)
