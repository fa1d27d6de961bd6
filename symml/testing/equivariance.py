"""One equivariance checker for every layer and model: vectors, images, point clouds, graphs.

``f`` is equivariant when ``f(g·x) = g·f(x)`` for every group element ``g``; this module measures
``max |f(g·x) - g·f(x)| / max |g·f(x)|`` over chosen elements, for each output of ``f``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from symml.groups import Elements, Group, Permutations, act_on_graph, grid_exact, inclusion
from symml.reps import Rep
from symml.reps.fields import GraphRep, GridRep, NodeRep, PointRep, RepLike, act

Outputs = RepLike | tuple[RepLike, ...] | Mapping[str, RepLike]

_ALL_ELEMENTS_MAX = 64  # finite groups up to this order are checked at every element


def equivariance_error(
    f: Callable[..., Any],
    rep_in: RepLike | None = None,
    rep_out: Outputs | None = None,
    *,
    x: Any = None,
    elements: Elements | None = None,
    n_elements: int = 8,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    interpolation: bool = False,
    permutations: int = 3,
) -> dict[str, float]:
    """Largest relative equivariance error of each output of ``f``.

    Args:
        f: a function or module; ``rep_in`` / ``rep_out`` default to its attributes.
        rep_in: a `Rep` (inputs ``[B, d]``), `GridRep` (images ``[B, C, H, W]``), `PointRep`
            (points ``[..., n]``) or `GraphRep` (a torch-geometric graph).
        rep_out: the output's type, or a tuple / dict of them when ``f`` returns several.
        x: the input; random data of the right shape when None (images: 2 × 15×15, or the
            module's ``input_size`` ``(H, W)`` when it declares one, e.g. 28×28 MNIST models).
        elements: group elements to test. Default: every element of a finite group of order
            <= 64 (for images: those exact on the grid), else ``n_elements`` Haar samples; for
            SO(2)/O(2) on images the exact quarter turns (and flips); for p4/p4m the point group.
        generator: randomness for the default input, elements and permutations (seed 0 if None).
        dtype: run in this float dtype (a module is deep-copied and cast), e.g. torch.float64.
        interpolation: allow image elements that are not exact on the pixel grid.
        permutations: for graph inputs, how many random node permutations to test too (their
            errors are reported as ``"permutation:<output>"``).

    Returns:
        ``{output name: error}``; a single output is named ``"output"``.
    """
    rep_in = _from_module(f, "rep_in") if rep_in is None else rep_in
    outs = _named_outputs_of(rep_in, _from_module(f, "rep_out") if rep_out is None else rep_out)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    if dtype is not None and isinstance(f, nn.Module):
        f = copy.deepcopy(f).to(dtype)
    size = getattr(f, "input_size", None)
    x = _default_input(rep_in, gen, dtype, size) if x is None else _cast(x, dtype)
    _check_input(rep_in, x)
    float_dtype = dtype or _float_dtype_of(x)
    if elements is None:
        elements = _default_elements(rep_in, n_elements, gen, float_dtype)
    elements = _checked_elements(elements, rep_in, float_dtype, interpolation)
    with torch.no_grad():
        reference = _named_outputs(f(x), outs)
        for name, r in outs.items():
            _check_output(name, r, reference[name])
        errors = {name: 0.0 for name in outs}
        for g in elements:
            moved = _named_outputs(f(act(rep_in, g, x, interpolation=interpolation)), outs)
            for name, r in outs.items():
                expected = act(r, g, reference[name], interpolation=interpolation)
                error = _relative(_flat(moved[name], r), _flat(expected, r))
                errors[name] = max(errors[name], error)
        if isinstance(rep_in, GraphRep) and permutations:
            errors.update(_permutation_errors(f, x, outs, reference, permutations, gen))
    return errors


def _named_outputs_of(rep_in: RepLike, rep_out: Outputs) -> dict[str, RepLike]:
    """The output types by name, each checked to be of the input's group."""
    group = _group_of(rep_in)
    outs = _named(rep_out)
    for name, r in outs.items():
        if _group_of(r) != group:
            raise ValueError(
                f"equivariance_error: output {name!r} is typed for {_group_of(r)!r}, the input "
                f"for {group!r}; expected one group"
            )
    return outs


def _checked_elements(
    elements: object, rep_in: RepLike, float_dtype: torch.dtype, interpolation: bool
) -> Elements:
    """``elements`` checked to be of the input's group (and exact on the pixel grid for images,
    unless ``interpolation``), continuous ones cast to ``float_dtype``."""
    group = _group_of(rep_in)
    if not isinstance(elements, Elements):
        raise TypeError(
            f"equivariance_error: expected `elements` as symml Elements (got "
            f"{type(elements).__name__}); wrap raw data with `{group!r}.element(data)`"
        )
    if elements.group != group:
        raise ValueError(
            f"equivariance_error: elements of {elements.group!r} given for reps of {group!r}"
        )
    if isinstance(rep_in, GridRep) and not interpolation:
        _require_exact(elements)
    if elements.data.is_floating_point():
        return Elements(group, elements.data.to(float_dtype))
    return elements


def assert_equivariant(
    f: Callable[..., Any],
    rep_in: RepLike | None = None,
    rep_out: Outputs | None = None,
    *,
    atol: float | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Raise AssertionError when any relative error exceeds ``atol`` (default 1e-5, or 1e-10
    with ``dtype=torch.float64``); return the errors otherwise. Takes `equivariance_error`'s
    keyword arguments."""
    errors = equivariance_error(f, rep_in, rep_out, **kwargs)
    if atol is None:
        atol = 1e-10 if kwargs.get("dtype") == torch.float64 else 1e-5
    bad = {k: v for k, v in errors.items() if not v <= atol}
    if bad:
        detail = ", ".join(f"{k}: {v:.3g}" for k, v in bad.items())
        raise AssertionError(f"not equivariant (relative error > {atol:g}): {detail}")
    return errors


# ----- inputs and elements -----------------------------------------------------------------------
def _from_module(f: Any, attr: str) -> Any:
    value = getattr(f, attr, None)
    if value is None:
        raise TypeError(
            f"equivariance_error: pass {attr}=..., or give {type(f).__name__} a `{attr}` attribute"
        )
    return value


def _group_of(rep: Any) -> Group:
    if isinstance(rep, (Rep, GridRep, PointRep, NodeRep, GraphRep)):
        return rep.group
    raise TypeError(
        "equivariance_error: expected a Rep, GridRep, PointRep, NodeRep or GraphRep "
        f"(got {type(rep).__name__})"
    )


def _named(rep_out: Any) -> dict[str, RepLike]:
    if isinstance(rep_out, Mapping):
        return dict(rep_out)
    if isinstance(rep_out, tuple):
        return {str(i): r for i, r in enumerate(rep_out)}
    return {"output": rep_out}


def _named_outputs(y: Any, outs: dict[str, RepLike]) -> dict[str, Any]:
    if list(outs) == ["output"]:
        return {"output": y}
    if isinstance(y, Mapping) and all(k in y for k in outs):
        return {k: y[k] for k in outs}
    if isinstance(y, (tuple, list)) and len(y) == len(outs):
        return {str(i): v for i, v in enumerate(y)}
    got = f"a dict with keys {list(y)}" if isinstance(y, Mapping) else type(y).__name__
    raise ValueError(
        f"equivariance_error: rep_out names {len(outs)} outputs ({list(outs)}), but f returned "
        f"{got}"
    )


def _float_dtype_of(x: Any) -> torch.dtype:
    tensor = x if isinstance(x, Tensor) else getattr(x, "pos", None)
    if isinstance(tensor, Tensor) and tensor.is_floating_point():
        return tensor.dtype
    return torch.get_default_dtype()


def _cast(x: Any, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return x
    if isinstance(x, Tensor):
        return x.to(dtype) if x.is_floating_point() else x
    out = x.clone()
    for key in list(out.keys()):
        if torch.is_tensor(out[key]) and out[key].is_floating_point():
            out[key] = out[key].to(dtype)
    return out


def _default_input(
    rep: RepLike, gen: torch.Generator, dtype: torch.dtype | None, size: Any = None
) -> Any:
    dtype = dtype or torch.get_default_dtype()
    if isinstance(rep, Rep):
        return torch.randn(4, rep.dim, generator=gen, dtype=dtype)
    if isinstance(rep, GridRep):
        h, w = size if size is not None else (15, 15)
        return torch.randn(2, rep.channels, h, w, generator=gen, dtype=dtype)
    if isinstance(rep, PointRep):
        dim = rep.group.point_dim
        assert dim is not None  # PointRep checks this at construction
        return torch.randn(6, dim, generator=gen, dtype=dtype)
    if isinstance(rep, GraphRep):
        from torch_geometric.data import Data

        n, d = 5, rep.group.point_dim
        if d is None:
            raise ValueError(f"equivariance_error: {rep.group!r} does not act on coordinates")
        nodes = torch.arange(n)
        edge_index = torch.cartesian_prod(nodes, nodes).T
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        data = Data(pos=torch.randn(n, d, generator=gen, dtype=dtype), edge_index=edge_index)
        data.vel = torch.randn(n, d, generator=gen, dtype=dtype)
        if rep.node is not None:
            data.x = torch.randn(n, rep.node.dim, generator=gen, dtype=dtype)
        return data
    raise TypeError(f"equivariance_error: cannot make an input for {type(rep).__name__}")


def _check_input(rep: RepLike, x: Any) -> None:
    if isinstance(rep, Rep) and (not isinstance(x, Tensor) or x.shape[-1] != rep.dim):
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"equivariance_error: expected inputs [B, {rep.dim}] for {rep} (got {shape})"
        )
    if isinstance(rep, GridRep) and (
        not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != rep.channels
    ):
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"equivariance_error: expected images [B, {rep.channels}, H, W] for fibre {rep.fibre} "
            f"(got {shape})"
        )


def _check_output(name: str, rep: RepLike, y: Any) -> None:
    """Check that output ``name`` has the shape its declared type ``rep`` acts on."""
    if isinstance(rep, GraphRep):
        if getattr(y, "pos", None) is None:
            raise ValueError(
                f"equivariance_error: output {name!r} is typed as a graph ({rep}), but f "
                f"returned {type(y).__name__} without `pos`"
            )
        return
    if isinstance(rep, GridRep):
        expected = f"[B, {rep.channels}, H, W]"
        ok = isinstance(y, Tensor) and y.dim() == 4 and y.shape[1] == rep.channels
    else:
        if isinstance(rep, Rep):
            width: int | None = rep.dim
        elif isinstance(rep, NodeRep):
            width = rep.fibre.dim
        else:
            width = rep.group.point_dim
        expected = f"[..., {width}]"
        ok = isinstance(y, Tensor) and y.dim() > 0 and y.shape[-1] == width
    if not ok:
        got = list(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(
            f"equivariance_error: expected output {name!r} of shape {expected} for rep_out "
            f"{rep} (got {got}); fix rep_out or f"
        )


def _default_elements(rep: RepLike, n: int, gen: torch.Generator, dtype: torch.dtype) -> Elements:
    group = rep.group
    if isinstance(rep, GridRep):
        return _grid_elements(group, dtype)
    if group.order is not None and group.order <= _ALL_ELEMENTS_MAX:
        return group.elements()
    return group.sample(n, generator=gen, dtype=dtype)


def _grid_elements(group: Group, dtype: torch.dtype) -> Elements:
    """The elements of ``group`` that act exactly on the pixel grid (point part only for p4/p4m;
    test translations by passing elements, with circular padding in the model)."""
    point = group.point_group
    if point is not None:
        return inclusion(point, group)(_grid_elements(point, dtype))  # at translation 0
    candidates = None
    if group.acts_on_images:
        # of SO(2) / O(2), the quarter turns (and flips) are the exact ones
        candidates = group.elements() if group.is_finite else group.rotation_grid(4, dtype)
    if candidates is None:
        raise TypeError(f"equivariance_error: {group!r} does not act on images")
    return Elements(group, candidates.data[grid_exact(candidates)])


def _require_exact(g: Elements) -> None:
    exact = grid_exact(g)
    if not bool(exact.all()):
        bad = g[int((~exact).nonzero()[0, 0])]
        raise ValueError(
            f"equivariance_error: element {bad!r} is not exact on the pixel grid (its rotation is "
            "not a multiple of 90°), so testing it as exact would report interpolation error as "
            "broken equivariance; pass interpolation=True (and a looser atol) to test it anyway"
        )


# ----- actions ------------------------------------------------------------------------------
def _flat(value: Any, rep: RepLike) -> Tensor:
    """The tensor compared for one output: a graph's ``pos``, ``x`` and vector attributes."""
    if not isinstance(rep, GraphRep):
        return value
    keys = [k for k in ("pos", "x", *rep.vectors) if getattr(value, k, None) is not None]
    return torch.cat([value[k].flatten() for k in keys])


def _relative(actual: Tensor, expected: Tensor) -> float:
    if actual.shape != expected.shape:
        raise ValueError(
            f"equivariance_error: output shape changed under the group action "
            f"({list(expected.shape)} → {list(actual.shape)})"
        )
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    diff = float((actual - expected).abs().max()) if expected.numel() else 0.0
    return diff / max(scale, 1e-12)


def _permutation_errors(
    f: Callable[..., Any],
    x: Any,
    outs: dict[str, RepLike],
    reference: dict[str, Any],
    count: int,
    gen: torch.Generator,
) -> dict[str, float]:
    n = int(x.num_nodes)
    perms = Permutations(n).sample(count, generator=gen)
    errors = {f"permutation:{name}": 0.0 for name in outs}
    for sigma in perms:
        moved = _named_outputs(f(act_on_graph(sigma, x)), outs)
        inverse = torch.argsort(sigma.data[0])
        for name, r in outs.items():
            ref = reference[name]
            if isinstance(r, GraphRep):
                expected = act_on_graph(sigma, ref)
            else:
                expected = ref[inverse] if isinstance(r, (NodeRep, PointRep)) else ref
            key = f"permutation:{name}"
            errors[key] = max(errors[key], _relative(_flat(moved[name], r), _flat(expected, r)))
    return errors
