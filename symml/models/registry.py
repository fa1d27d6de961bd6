"""Models by name: ``symml.models.build(name, **overrides)``, each with its group and baseline.

Conventions (docs/design.md, "Models and data"): image models take ``[B, C, H, W]`` and return
logits ``[B, classes]``; graph models take a torch-geometric ``Batch`` (``pos [N, d]``, optional
``vel [N, d]``, node scalars ``x [N, F]``, ``edge_index``, optional ``edge_attr``) and return
positions ``[N, d]`` or per-graph outputs ``[B, ...]``; vector models take ``[B, rep_in.dim]``
and return ``[B, rep_out.dim]``. Every built model carries ``rep_in``, ``rep_out`` and ``group``, so
`symml.testing.equivariance_error` checks it without further arguments.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

Builder = Callable[..., nn.Module]
Kind = Literal["vector", "image", "graph"]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it.

    Attributes:
        name: the registry name.
        description: one line for ``symml list``.
        group: the symmetry the model is built for by default (``"none"`` for a plain baseline).
        baseline: the name of its plain, parameter-matched baseline (None for a baseline).
        kind: ``"vector"``, ``"image"`` or ``"graph"`` (the input convention above).
    """

    name: str
    description: str
    group: str
    baseline: str | None
    kind: Kind


@dataclass(frozen=True)
class _Builtin:
    module: str
    function: str
    info: ModelInfo


def _builtin(
    name: str, module: str, description: str, group: str, baseline: str | None, kind: Kind
) -> tuple[str, _Builtin]:
    return name, _Builtin(
        module, f"build_{name}", ModelInfo(name, description, group, baseline, kind)
    )


# symml's own models, imported on first use so `import symml.models` stays light; each family
# keeps its own table.
_VECTOR_MODELS: dict[str, _Builtin] = dict(
    [
        _builtin(
            "emlp",
            "symml.models.emlp",
            "equivariant MLP for any rep_in -> rep_out (Finzi et al. 2021)",
            "O(5)",
            "mlp",
            "vector",
        ),
        _builtin(
            "mlp",
            "symml.models.emlp",
            "plain MLP baseline with the EMLP's channel budget",
            "none",
            None,
            "vector",
        ),
    ]
)
_IMAGE_MODELS: dict[str, _Builtin] = dict(
    [
        _builtin(
            "z2cnn",
            "symml.models.image",
            "planar CNN for MNIST-rot, 7 layers, 20 channels (Cohen & Welling 2016 baseline)",
            "none",
            None,
            "image",
        ),
        _builtin(
            "p4cnn",
            "symml.models.image",
            "p4 G-CNN for MNIST-rot, 10 regular fields (Cohen & Welling 2016)",
            "p4",
            "z2cnn",
            "image",
        ),
        _builtin(
            "p4cnn_rotation_pooling",
            "symml.models.image",
            "P4CNN pooling over rotations after every layer (Cohen & Welling 2016)",
            "p4",
            "z2cnn",
            "image",
        ),
        _builtin(
            "p4mcnn",
            "symml.models.image",
            "P4CNN topology on p4m (rotations and flips), 7 regular fields",
            "p4m",
            "z2cnn",
            "image",
        ),
        _builtin(
            "steerable_cnn",
            "symml.models.image_steerable",
            "steerable CNN on C_N/D_N/SO(2)/O(2), escnn kernels (Weiler & Cesa 2019 benchmark)",
            "C16",
            "cnn",
            "image",
        ),
        _builtin(
            "cnn",
            "symml.models.image_steerable",
            "plain CNN baseline of the steerable benchmark model (Weiler & Cesa's ExpCNN)",
            "none",
            None,
            "image",
        ),
        _builtin(
            "cnn_channel_matched",
            "symml.models.image_steerable",
            "plain CNN with as many channels per layer as steerable_cnn's fields",
            "none",
            None,
            "image",
        ),
    ]
)
_GRAPH_MODELS: dict[str, _Builtin] = dict(
    [
        _builtin(
            "egnn",
            "symml.models.graph",
            "EGNN_vel for N-body dynamics: 4 EGNNConv, 64 hidden (Satorras et al. 2021)",
            "E(3)",
            "gnn",
            "graph",
        ),
        _builtin(
            "gnn",
            "symml.models.graph",
            "plain GNN baseline for N-body dynamics: coordinates as features, 4 layers, 64 hidden",
            "none",
            None,
            "graph",
        ),
        _builtin(
            "radial_field",
            "symml.models.graph",
            "radial field (RF_vel) for N-body dynamics, 4 layers (Köhler et al. 2019)",
            "E(3)",
            "gnn",
            "graph",
        ),
        _builtin(
            "tfn",
            "symml.models.graph",
            "tensor field network on e3nn irreps for N-body dynamics, 4 layers of 0e + 1o",
            "E(3)",
            "gnn",
            "graph",
        ),
        _builtin(
            "linear_dynamics",
            "symml.models.graph",
            "x + t·v with a learnable t (the EGNN paper's linear baseline)",
            "E(3)",
            None,
            "graph",
        ),
        _builtin(
            "tetris_tfn",
            "symml.models.point_cloud",
            "tensor field network for 3-D Tetris; logits swap the chiral pair under reflections",
            "E(3)",
            "tetris_mlp",
            "graph",
        ),
        _builtin(
            "tetris_egnn",
            "symml.models.point_cloud",
            "EGNN classifier for 3-D Tetris (E(3)-invariant, blind to chirality)",
            "E(3)",
            "tetris_gnn",
            "graph",
        ),
        _builtin(
            "tetris_mlp",
            "symml.models.point_cloud",
            "plain point-network baseline for 3-D Tetris (coordinates as features)",
            "none",
            None,
            "graph",
        ),
        _builtin(
            "tetris_gnn",
            "symml.models.point_cloud",
            "plain GNN baseline for 3-D Tetris (coordinates as features)",
            "none",
            None,
            "graph",
        ),
    ]
)
_BUILTIN: dict[str, _Builtin] = {**_VECTOR_MODELS, **_IMAGE_MODELS, **_GRAPH_MODELS}
_REGISTRY: dict[str, tuple[Builder, ModelInfo]] = {}


def register(
    name: str,
    *,
    description: str,
    group: str,
    baseline: str | None = None,
    kind: Kind = "vector",
) -> Callable[[Builder], Builder]:
    """Register ``builder(**overrides) -> nn.Module`` under ``name`` (a decorator).

    Example:
        >>> import torch
        >>> from symml.models import register, build, unregister
        >>> @register("tiny_mlp", description="a one-layer MLP", group="none")
        ... def tiny_mlp(width: int = 4) -> torch.nn.Module:
        ...     return torch.nn.Linear(width, 1)
        >>> build("tiny_mlp", width=3).in_features
        3
        >>> unregister("tiny_mlp")
    """

    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY or name in _BUILTIN:
            raise ValueError(f"register: a model named {name!r} is already registered")
        _REGISTRY[name] = (builder, ModelInfo(name, description, group, baseline, kind))
        return builder

    return decorate


def unregister(name: str) -> None:
    """Remove a model registered with `register` (built-in models cannot be removed)."""
    if name not in _REGISTRY:
        raise ValueError(f"unregister: {name!r} was not registered with symml.models.register")
    del _REGISTRY[name]


def names(kind: Kind | None = None) -> list[str]:
    """Names of the registered models, optionally only those of one ``kind``."""
    every = sorted(set(_REGISTRY) | set(_BUILTIN))
    return every if kind is None else [n for n in every if info(n).kind == kind]


def info(name: str) -> ModelInfo:
    """The `ModelInfo` of model ``name`` (nothing is built or imported)."""
    if name in _REGISTRY:
        return _REGISTRY[name][1]
    if name in _BUILTIN:
        return _BUILTIN[name].info
    raise ValueError(f"unknown model {name!r}; registered models: {', '.join(names())}")


def _builder(name: str) -> Builder:
    info(name)  # raises for unknown names
    if name in _REGISTRY:
        return _REGISTRY[name][0]
    entry = _BUILTIN[name]
    builder: Builder = getattr(importlib.import_module(entry.module), entry.function)
    return builder


def accepted_options(name: str) -> frozenset[str] | None:
    """The keyword options model ``name``'s builder accepts; None when it takes any
    (``**kwargs``). The one place a builder's signature is read: `build` refuses other options
    by it, config validation names the bad key by it (``symml.training.config``), and the
    training engine fills from the dataset only the options it lists.

    Example:
        >>> {"hidden", "rep_in"} <= accepted_options("mlp")
        True
    """
    params = inspect.signature(_builder(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return frozenset(params)


def build(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name``; ``overrides`` replace its default hyper-parameters.

    Raises:
        ValueError: for an unknown name or an override the model does not accept.

    Example:
        >>> import torch
        >>> from symml.models import build
        >>> model = build("mlp", rep_in="2*V", rep_out="S", group="O5", hidden=32)
        >>> model(torch.randn(3, 10)).shape
        torch.Size([3, 1])
    """
    accepted = accepted_options(name)
    unknown = [] if accepted is None else sorted(set(overrides) - accepted)
    if unknown:
        raise ValueError(
            f"model {name!r}: unknown option(s) {unknown}; it accepts {sorted(accepted or ())}"
        )
    return _builder(name)(**overrides)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters (the free coefficients for equivariant layers)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
