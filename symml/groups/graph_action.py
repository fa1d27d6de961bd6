"""How groups act on graphs: node permutations, and E(n) / O(n) / translations on coordinates.

Works on any torch-geometric ``Data``-like object (``clone()``, attribute access); this module
does not import torch-geometric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from symml.groups.group import Elements
from symml.groups.permutations import Permutations

VECTOR_ATTRS = ("vel",)
"""Node attributes that transform as vectors (linear part only) under a point action."""


def act_on_graph(g: Elements, data: Any, vectors: Sequence[str] = VECTOR_ATTRS) -> Any:
    """Return a transformed copy of one graph.

    - `Permutations(n)`: node ``i`` becomes node ``σ(i)``: every node attribute is reindexed
      (``x_new[σ(i)] = x[i]``) and ``edge_index`` is relabelled; edge attributes keep their order.
    - a group acting on points (E(n), SE(n), O(n), SO(n), translations, planar groups):
      ``pos ↦ g·pos`` (with translation) and each attribute in ``vectors`` ↦ its linear part.

    Args:
        g: a single element.
        data: graph with ``num_nodes``, ``pos [N, d]`` (point actions), ``edge_index [2, E]``.
        vectors: names of node attributes ``[N, d]`` that rotate like velocities.
    """
    if len(g) != 1:
        raise ValueError(f"act_on_graph: expected a single element (got a batch of {len(g)})")
    out = data.clone()
    if isinstance(g.group, Permutations):
        return _permute(g, out)
    pos = getattr(data, "pos", None)
    if pos is None:
        raise ValueError(
            f"act_on_graph: {g.group!r} acts on coordinates, but the graph has no `pos`"
        )
    out.pos = g.group.act_on_points(g, pos)
    mats = g.group.matrices(g, dtype=pos.dtype).to(pos.device)[0]
    for name in vectors:
        vec = getattr(data, name, None)
        if vec is not None:
            out[name] = vec @ mats.T
    return out


def _permute(g: Elements, data: Any) -> Any:
    sigma = g.data[0].to(data.edge_index.device if "edge_index" in data else g.device)
    n = int(data.num_nodes)
    if sigma.numel() != n:
        raise ValueError(
            f"act_on_graph: {g.group!r} permutes {sigma.numel()} nodes, but the graph has {n}"
        )
    inverse = torch.argsort(sigma)
    for key in list(data.keys()):
        value = data[key]
        if key == "edge_index":
            data[key] = sigma[value]
        elif torch.is_tensor(value) and data.is_node_attr(key):
            data[key] = value[inverse]
    return data
