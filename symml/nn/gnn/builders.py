"""Graph builders: fully connected, radius and k-nearest-neighbour graphs, batch-aware.

torch-geometric's ``radius_graph`` / ``knn_graph`` need compiled extensions (pyg-lib >= 0.6 or
torch-cluster) that are not available everywhere; these builders use `scipy.spatial.cKDTree`
(scipy is a core dependency) for exact neighbourhoods in O(N log N) time and O(N·k) memory.

Every builder returns ``edge_index [2, E]`` (long, on the device of its input) in
torch-geometric's convention: messages flow from ``edge_index[0]`` (source ``j``) to
``edge_index[1]`` (target ``i``). Edges are grouped by target, targets in increasing order. With
``batch`` (the graph of each node, as in a torch-geometric ``Batch``) no edge joins two graphs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import sparse
from scipy.spatial import cKDTree
from torch import Tensor


def fully_connected_graph(
    num_nodes: int | None = None,
    *,
    batch: Tensor | None = None,
    loop: bool = False,
    device: torch.device | str | None = None,
) -> Tensor:
    """Every ordered pair of nodes of the same graph: ``n(n − 1)`` edges per graph of n nodes
    (``n²`` with ``loop``).

    Args:
        num_nodes: nodes of a single graph (give this or ``batch``).
        batch: ``[N]`` graph index of each node (graphs need not be contiguous).
        loop: include self-loops ``i → i``.
        device: where to build it (default: the device of ``batch``, else the CPU).

    Example:
        >>> fully_connected_graph(3)
        tensor([[1, 2, 0, 2, 0, 1],
                [0, 0, 1, 1, 2, 2]])
        >>> fully_connected_graph(batch=torch.tensor([0, 0, 1, 1]))
        tensor([[1, 0, 3, 2],
                [0, 1, 2, 3]])
    """
    if (num_nodes is None) == (batch is None):
        raise ValueError(
            "fully_connected_graph: give either num_nodes (one graph) or batch (several), "
            f"got num_nodes={num_nodes!r} and batch={'None' if batch is None else 'a tensor'}"
        )
    if batch is None:
        if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 0:
            raise ValueError(
                f"fully_connected_graph: expected num_nodes as an integer >= 0 (got {num_nodes!r})"
            )
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
    else:
        batch = _check_batch(batch, None, "fully_connected_graph")
        batch = batch.to(device) if device is not None else batch
    order = torch.argsort(batch, stable=True)  # nodes grouped by graph
    sizes = torch.bincount(batch)
    starts = torch.cumsum(sizes, 0) - sizes
    per_node = sizes[batch[order]]  # the size of each (sorted) node's graph
    dst_sorted = torch.repeat_interleave(torch.arange(len(order), device=batch.device), per_node)
    first = torch.repeat_interleave(starts[batch[order]], per_node)
    offsets = torch.arange(len(dst_sorted), device=batch.device) - torch.repeat_interleave(
        torch.cumsum(per_node, 0) - per_node, per_node
    )
    src_sorted = first + offsets
    if not loop:
        keep = src_sorted != dst_sorted
        src_sorted, dst_sorted = src_sorted[keep], dst_sorted[keep]
    return torch.stack([order[src_sorted], order[dst_sorted]])


def radius_graph(
    pos: Tensor, r: float, batch: Tensor | None = None, *, loop: bool = False
) -> Tensor:
    """Edges ``j → i`` between all nodes with ``‖x_i − x_j‖ ≤ r`` (exact, via `cKDTree`).

    Args:
        pos: ``[N, d]`` coordinates (d >= 1; float, finite).
        r: the radius, > 0.
        batch: ``[N]`` graph of each node; no edges between graphs.
        loop: include self-loops.

    Example:
        >>> pos = torch.tensor([[0.0, 0.0], [0.5, 0.0], [2.0, 0.0]])
        >>> radius_graph(pos, 1.0)
        tensor([[1, 0],
                [0, 1]])
    """
    points = _points(pos, batch, "radius_graph")
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < math.inf:
        raise ValueError(f"radius_graph: expected a radius r > 0 (got {r!r})")
    n = len(points)
    if batch is not None:
        points = _separate_graphs(points, batch, gap=2.0 * r + 1.0)
    pairs = cKDTree(points).query_pairs(r, output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    targets, sources = np.concatenate([a, b]), np.concatenate([b, a])
    if loop:
        targets = np.concatenate([targets, np.arange(n)])
        sources = np.concatenate([sources, np.arange(n)])
    # CSR conversion is an O(E) counting sort by target, sources sorted within each target.
    ones = np.ones(len(targets), dtype=np.int8)
    csr = sparse.coo_array((ones, (targets, sources)), shape=(n, n)).tocsr()
    csr.sort_indices()
    dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(csr.indptr))
    src = csr.indices.astype(np.int64, copy=False)
    return torch.from_numpy(np.stack([src, dst])).to(pos.device)


def knn_graph(pos: Tensor, k: int, batch: Tensor | None = None, *, loop: bool = False) -> Tensor:
    """Edges ``j → i`` from the ``k`` nearest neighbours ``j`` of every node ``i`` (exact, via
    `cKDTree`; ties at the k-th distance are broken by the tree). A node whose graph has fewer
    than ``k + 1`` nodes gets all of them. With ``loop`` a node counts as its own neighbour.

    Args:
        pos: ``[N, d]`` coordinates (d >= 1; float, finite).
        k: neighbours per node, >= 1.
        batch: ``[N]`` graph of each node; neighbours come from the same graph only.
        loop: allow ``i → i`` (then ``i`` is among its own k neighbours).

    Example:
        >>> pos = torch.tensor([[0.0], [1.0], [3.0]])
        >>> knn_graph(pos, 1)
        tensor([[1, 0, 1],
                [0, 1, 2]])
    """
    points = _points(pos, batch, "knn_graph")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"knn_graph: expected k as an integer >= 1 (got {k!r})")
    n = len(points)
    if n == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=pos.device)
    bound = math.inf
    if batch is not None:
        extent = float(np.ptp(points, axis=0).max()) if n else 0.0
        diameter = extent * math.sqrt(points.shape[1]) + 1.0
        points = _separate_graphs(points, batch, gap=2.0 * diameter)
        bound = diameter  # other graphs are at least 2·diameter away
    count = min(k + (0 if loop else 1), n)
    tree = cKDTree(points)
    _, idx = tree.query(
        points, k=count, distance_upper_bound=bound, workers=max(torch.get_num_threads(), 1)
    )
    idx = idx.reshape(n, count)
    dst = np.broadcast_to(np.arange(n)[:, None], idx.shape)
    valid = idx < n  # the tree pads missing neighbours with index n
    if not loop:
        is_self = idx == dst
        # drop i itself; where a duplicate point hid it from the list, drop the farthest instead
        no_self = ~is_self.any(1) & (valid.sum(1) > k)
        last = valid.sum(1) - 1
        is_self[np.nonzero(no_self)[0], last[no_self]] = True
        valid &= ~is_self
    src = idx[valid].astype(np.int64)
    return torch.from_numpy(np.stack([src, dst[valid].astype(np.int64)])).to(pos.device)


def _points(pos: Tensor, batch: Tensor | None, name: str) -> np.ndarray:
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.shape[1] < 1:
        got = list(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ValueError(f"{name}: expected pos of shape [N, d] (got {got})")
    if not pos.is_floating_point():
        raise TypeError(f"{name}: expected floating-point pos (got {pos.dtype})")
    if not bool(torch.isfinite(pos).all()):
        raise ValueError(f"{name}: pos contains NaN or infinite coordinates; clean the input first")
    if batch is not None:
        _check_batch(batch, len(pos), name)
    return pos.detach().to("cpu", torch.float64).numpy()


def _check_batch(batch: Tensor, n: int | None, name: str) -> Tensor:
    if not isinstance(batch, Tensor) or batch.dim() != 1 or batch.dtype != torch.long:
        got = (
            f"{batch.dtype} of shape {list(batch.shape)}"
            if isinstance(batch, Tensor)
            else type(batch).__name__
        )
        raise ValueError(f"{name}: expected batch as a long tensor of shape [N] (got {got})")
    if n is not None and len(batch) != n:
        raise ValueError(f"{name}: batch has {len(batch)} entries for {n} nodes; expected one each")
    if len(batch) and int(batch.min()) < 0:
        raise ValueError(f"{name}: batch holds negative graph indices; expected 0, 1, 2, ...")
    return batch


def _separate_graphs(points: np.ndarray, batch: Tensor, gap: float) -> np.ndarray:
    """Append a coordinate ``gap · graph`` so that nodes of different graphs are >= gap apart while
    distances within a graph are unchanged (the extra coordinate differs by exactly 0 there)."""
    graph = batch.detach().cpu().numpy().astype(np.float64)
    return np.concatenate([points, gap * graph[:, None]], axis=1)
