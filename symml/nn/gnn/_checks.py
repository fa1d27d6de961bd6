"""Input checks shared by the graph layers: shapes always, values (index range, NaN) in eager
mode only (data-dependent branches would split a ``torch.compile`` graph)."""

from __future__ import annotations

import torch
from torch import Tensor

from symml.nn._checks import check_finite


def _shape(value: object) -> str:
    return str(list(value.shape)) if isinstance(value, Tensor) else type(value).__name__


def check_graph(
    name: str,
    pos: Tensor | None,
    edge_index: Tensor,
    num_nodes: int,
    dim: int | None = None,
) -> None:
    """Check ``pos [N, dim]`` (finite) and ``edge_index [2, E]`` (long, in ``[0, N)``); raise a
    ValueError that starts with ``name`` otherwise. Value checks (index range, NaN) are skipped
    while ``torch.compile`` traces, where they would split the graph.

    Example:
        >>> check_graph("f", torch.zeros(2, 3), torch.tensor([[0], [2]]), 2)
        Traceback (most recent call last):
        ...
        ValueError: f: `edge_index` refers to nodes 0...2, but the graph has 2 nodes (valid: 0...1)
    """
    if pos is not None:
        if (
            not isinstance(pos, Tensor)
            or pos.dim() != 2
            or (dim is not None and pos.shape[1] != dim)
        ):
            want = f"[N, {dim}]" if dim is not None else "[N, d]"
            raise ValueError(
                f"{name}: expected pos of shape {want} (got {_shape(pos)})"
                + (f": it works on points in R^{dim}" if dim is not None else "")
            )
        if not pos.is_floating_point():
            raise TypeError(f"{name}: expected floating-point pos (got {pos.dtype})")
    if (
        not isinstance(edge_index, Tensor)
        or edge_index.dim() != 2
        or edge_index.shape[0] != 2
        or edge_index.dtype != torch.long
    ):
        got = (
            f"{edge_index.dtype} {_shape(edge_index)}"
            if isinstance(edge_index, Tensor)
            else (type(edge_index).__name__)
        )
        raise ValueError(
            f"{name}: expected `edge_index` to be a long tensor of shape [2, E] (got {got})"
        )
    if torch.compiler.is_compiling():
        return
    if edge_index.numel():
        low, high = (int(v) for v in torch.aminmax(edge_index))
        if low < 0 or high >= num_nodes:
            raise ValueError(
                f"{name}: `edge_index` refers to nodes {low}...{high}, but the graph has "
                f"{num_nodes} nodes (valid: 0...{num_nodes - 1})"
            )
    if pos is not None:
        check_finite(pos, name, "pos")


def check_nodes(
    name: str, what: str, value: Tensor | None, num_nodes: int | None, width: int
) -> int:
    """Check a node tensor ``[N, width]`` (any N when ``num_nodes`` is None); return N."""
    if value is None:
        return -1 if num_nodes is None else num_nodes
    rows = "N" if num_nodes is None else str(num_nodes)
    if (
        not isinstance(value, Tensor)
        or value.dim() != 2
        or value.shape[1] != width
        or (num_nodes is not None and value.shape[0] != num_nodes)
    ):
        raise ValueError(
            f"{name}: expected {what} of shape [{rows}, {width}] (got {_shape(value)})"
        )
    return value.shape[0]


def check_sizes(name: str, **sizes: int) -> None:
    """Check that each named size is a positive integer."""
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected {key} to be a positive integer (got {value!r})")


def check_edges(name: str, edge_attr: Tensor | None, num_edges: int, width: int) -> None:
    """Check ``edge_attr [E, width]`` (absent exactly when ``width == 0``)."""
    if width == 0:
        if edge_attr is not None:
            raise ValueError(
                f"{name}: got edge_attr {_shape(edge_attr)}, but the layer was built with "
                "edge_dim=0; build it with edge_dim=<width> to use edge attributes"
            )
        return
    if (
        not isinstance(edge_attr, Tensor)
        or edge_attr.dim() != 2
        or tuple(edge_attr.shape) != (num_edges, width)
    ):
        raise ValueError(
            f"{name}: expected edge_attr of shape [{num_edges}, {width}] (got {_shape(edge_attr)})"
        )


def in_degree_inverse(edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
    """``1 / max(in-degree, 1)`` per node, for mean aggregation (a node without incoming edges
    averages to 0)."""
    dst = edge_index[1]
    # scatter_add_ rather than bincount: its output shape does not depend on the data, so
    # torch.compile traces it without a graph break
    deg = torch.zeros(num_nodes, dtype=dtype, device=dst.device)
    deg.scatter_add_(0, dst, torch.ones(dst.shape, dtype=dtype, device=dst.device))
    return deg.clamp_(min=1).reciprocal_()
