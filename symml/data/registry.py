"""Datasets by name: ``symml.data.build(name, split, **options)`` and ``symml.data.names()``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from symml.data.dataset import SymmetricDataset

Builder = Callable[..., SymmetricDataset]
_REGISTRY: dict[str, tuple[Builder, str]] = {}


@dataclass(frozen=True)
class _Builtin:
    module: str
    function: str
    description: str
    splits: tuple[str, ...] = ("train", "val", "test")


_FOUR_SPLITS = ("train", "val", "train_all", "test")
# symml's own datasets, imported on first use so `import symml.data` stays light
_BUILTIN: dict[str, _Builtin] = {
    "mnist": _Builtin(
        "symml.data.mnist",
        "build_mnist",
        "MNIST digits from the original IDX files",
        ("train", "test"),
    ),
    "rotated_mnist": _Builtin(
        "symml.data.mnist",
        "build_rotated_mnist",
        "MNIST-rot regenerated from MNIST: 10k/2k/50k, uniform rotations",
        _FOUR_SPLITS,
    ),
    "mnist_rot_original": _Builtin(
        "symml.data.mnist",
        "build_mnist_rot_original",
        "the original Larochelle et al. MNIST-rot .amat files",
        _FOUR_SPLITS,
    ),
    "mnist_upright": _Builtin(
        "symml.data.mnist",
        "build_mnist_upright",
        "unrotated MNIST splits for the upright → rotated generalization protocol",
        _FOUR_SPLITS,
    ),
    "nbody_charged": _Builtin(
        "symml.data.nbody",
        "build_nbody_charged",
        "EGNN charged N-body: 5 particles in 3-D, predict positions 1,000 steps ahead",
    ),
    "tetris3d": _Builtin(
        "symml.data.tetris",
        "build_tetris3d",
        "the 8 3-D Tetris shapes (TFN), canonical train, rotated val and test, chiral holdout",
        ("train", "val", "test", "holdout_train", "holdout_val", "holdout_test"),
    ),
    "o5_synthetic": _Builtin(
        "symml.data.synthetic",
        "build_o5_synthetic",
        "EMLP O(5)-invariant regression on two vectors",
    ),
    "inertia": _Builtin(
        "symml.data.synthetic", "build_inertia", "EMLP O(3) inertia tensor of 5 point masses"
    ),
}


def register(name: str, description: str) -> Callable[[Builder], Builder]:
    """Register ``builder(split, **options)`` under ``name`` (a decorator)."""

    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY or name in _BUILTIN:
            raise ValueError(f"register: a dataset named {name!r} is already registered")
        _REGISTRY[name] = (builder, description)
        return builder

    return decorate


def names() -> list[str]:
    """Names of the registered datasets."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def describe() -> dict[str, str]:
    """``{name: one-line description}`` of the registered datasets."""
    return {
        name: _BUILTIN[name].description if name in _BUILTIN else _REGISTRY[name][1]
        for name in names()
    }


def splits(name: str) -> tuple[str, ...]:
    """The standard splits of a built-in dataset (user datasets: train, val, test)."""
    if name not in _REGISTRY and name not in _BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(names())}")
    return _BUILTIN[name].splits if name in _BUILTIN else ("train", "val", "test")


def accepted_options(name: str) -> frozenset[str] | None:
    """The options dataset ``name``'s builder takes (besides the split); None when it takes any
    (``**kwargs``)."""
    if name not in _REGISTRY and name not in _BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(names())}")
    params = inspect.signature(_builder(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return frozenset(k for k in params if k != "split")


def _builder(name: str) -> Builder:
    if name in _REGISTRY:
        return _REGISTRY[name][0]
    entry = _BUILTIN[name]
    builder: Builder = getattr(importlib.import_module(entry.module), entry.function)
    return builder


def build(name: str, split: str = "train", **options: Any) -> SymmetricDataset:
    """Build dataset ``name`` for ``split`` with ``options`` (each dataset documents its own).

    Example:
        >>> from symml.data import build
        >>> ds = build("o5_synthetic", "train", size=8)
        >>> len(ds), ds.group
        (8, Orthogonal(5))
    """
    if name not in _REGISTRY and name not in _BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(names())}")
    builder = _builder(name)
    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            allowed = sorted(k for k in params if k != "split")
            raise ValueError(f"dataset {name!r}: unknown option(s) {unknown}; it accepts {allowed}")
    return builder(split, **options)
