"""Graph builders against brute force: exact edge sets, batches, duplicate points, empty
neighbourhoods."""

from __future__ import annotations

import pytest
import torch

from symml.nn.gnn import fully_connected_graph, knn_graph, radius_graph


def _points(n: int, d: int, seed: int, duplicates: int = 0, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    pos = torch.rand(n, d, generator=gen, dtype=dtype)
    if duplicates:  # copy some points onto others (ties at distance 0)
        src = torch.randint(0, n, (duplicates,), generator=gen)
        dst = torch.randint(0, n, (duplicates,), generator=gen)
        pos[dst] = pos[src]
    return pos


def _batch(n: int, graphs: int, seed: int, shuffle: bool = False) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    batch = torch.sort(torch.randint(0, graphs, (n,), generator=gen)).values
    return batch[torch.randperm(n, generator=gen)] if shuffle else batch


def _sq_dist(pos: torch.Tensor) -> torch.Tensor:
    p = pos.double()
    return ((p[:, None] - p[None]) ** 2).sum(-1)  # exact pairwise, no matmul shortcut


def _same_graph(batch: torch.Tensor | None, n: int) -> torch.Tensor:
    if batch is None:
        return torch.ones(n, n, dtype=torch.bool)
    return batch[:, None] == batch[None]


def _edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fully_connected_matches_brute_force(loop: bool, shuffle: bool) -> None:
    batch = _batch(23, 5, seed=1, shuffle=shuffle)
    edge_index = fully_connected_graph(batch=batch, loop=loop)
    same = _same_graph(batch, 23)
    if not loop:
        same &= ~torch.eye(23, dtype=torch.bool)
    i, j = same.nonzero().T  # i target, j source
    assert _edge_set(edge_index) == _edge_set(torch.stack([j, i]))
    assert edge_index.shape[1] == int(same.sum())  # no duplicates


def test_fully_connected_single_graph_and_empty() -> None:
    assert torch.equal(fully_connected_graph(1), torch.zeros(2, 0, dtype=torch.long))
    assert fully_connected_graph(4).shape == (2, 12)
    assert fully_connected_graph(0).shape == (2, 0)
    assert fully_connected_graph(2, loop=True).shape == (2, 4)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("duplicates", [0, 15])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("loop", [False, True])
def test_radius_graph_matches_brute_force(
    d: int, duplicates: int, batched: bool, loop: bool
) -> None:
    n, r = 200, 0.12
    pos = _points(n, d, seed=d + duplicates, duplicates=duplicates)
    batch = _batch(n, 4, seed=3, shuffle=True) if batched else None
    edge_index = radius_graph(pos, r, batch, loop=loop)
    within = (_sq_dist(pos) <= r * r) & _same_graph(batch, n)
    if not loop:
        within &= ~torch.eye(n, dtype=torch.bool)
    i, j = within.nonzero().T
    assert _edge_set(edge_index) == _edge_set(torch.stack([j, i]))
    assert edge_index.shape[1] == int(within.sum())
    # grouped by target, in increasing order; sources sorted within a target
    key = edge_index[1] * n + edge_index[0]
    assert bool((key[1:] > key[:-1]).all())


def test_radius_graph_empty_neighbourhoods() -> None:
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [5.0, 5.0, 5.0]])
    edge_index = radius_graph(pos, 0.1)
    assert _edge_set(edge_index) == {(0, 1), (1, 0)}  # node 2 has no neighbour
    assert radius_graph(pos[:1], 0.1).shape == (2, 0)
    assert radius_graph(pos[:0], 0.1).shape == (2, 0)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("k", [1, 6])
@pytest.mark.parametrize("duplicates", [0, 40])
@pytest.mark.parametrize("batched", [False, True])
def test_knn_graph_matches_brute_force(d: int, k: int, duplicates: int, batched: bool) -> None:
    n = 120
    pos = _points(n, d, seed=7 * d + k, duplicates=duplicates)
    batch = _batch(n, 6, seed=5, shuffle=True) if batched else None
    edge_index = knn_graph(pos, k, batch)
    src, dst = edge_index
    dist = _sq_dist(pos)
    allowed = _same_graph(batch, n) & ~torch.eye(n, dtype=torch.bool)
    assert _edge_set(edge_index) <= _edge_set(allowed.nonzero().T.flip(0))  # same graph, no loop
    assert len(_edge_set(edge_index)) == edge_index.shape[1]  # no duplicate edges
    for i in range(n):
        candidates = dist[i][allowed[i]]
        expected = torch.sort(candidates).values[:k]  # ties (duplicate points) only swap indices
        got = torch.sort(dist[i, src[dst == i]]).values
        assert torch.equal(got, expected), f"node {i}"


def test_knn_graph_many_identical_points_never_link_a_node_to_itself() -> None:
    pos = torch.cat([torch.zeros(6, 3), torch.ones(2, 3)])  # six copies of one point
    edge_index = knn_graph(pos, 2)
    src, dst = edge_index
    assert edge_index.shape[1] == 16 and bool((src != dst).all())
    assert bool((src[dst < 6] < 6).all())  # all at distance 0


def test_knn_graph_small_graphs_get_every_other_node() -> None:
    pos = _points(7, 3, seed=0)
    batch = torch.tensor([0, 0, 1, 1, 1, 2, 3])  # graphs of 2, 3, 1 and 1 nodes
    edge_index = knn_graph(pos, 4, batch)
    expected = _same_graph(batch, 7) & ~torch.eye(7, dtype=torch.bool)
    assert _edge_set(edge_index) == _edge_set(expected.nonzero().T.flip(0))


def test_knn_graph_with_loops_counts_the_node_itself() -> None:
    pos = _points(30, 3, seed=2)
    edge_index = knn_graph(pos, 3, loop=True)
    assert edge_index.shape[1] == 90
    assert {(i, i) for i in range(30)} <= _edge_set(edge_index)


def test_builders_keep_device_and_accept_float64() -> None:
    pos = _points(50, 3, seed=4, dtype=torch.float64)
    for edge_index in (radius_graph(pos, 0.3), knn_graph(pos, 3), fully_connected_graph(5)):
        assert edge_index.dtype == torch.long and edge_index.device == pos.device


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: radius_graph(torch.zeros(3), 0.1),
            r"expected pos of shape \[N, d\] \(got \[3\]\)",
        ),
        (lambda: radius_graph(torch.zeros(3, 2, dtype=torch.long), 0.1), "floating-point pos"),
        (lambda: radius_graph(torch.tensor([[0.0, float("nan")]]), 0.1), "NaN or infinite"),
        (lambda: radius_graph(torch.zeros(3, 2), -1.0), r"radius r > 0 \(got -1.0\)"),
        (lambda: knn_graph(torch.zeros(3, 2), 0), r"k as an integer >= 1 \(got 0\)"),
        (
            lambda: knn_graph(torch.zeros(3, 2), 1, torch.zeros(2, dtype=torch.long)),
            "batch has 2 entries for 3 nodes",
        ),
        (
            lambda: knn_graph(torch.zeros(3, 2), 1, torch.zeros(3)),
            r"batch as a long tensor of shape \[N\]",
        ),
        (
            lambda: knn_graph(torch.zeros(3, 2), 1, torch.tensor([0, -1, 0])),
            "negative graph indices",
        ),
        (lambda: fully_connected_graph(), "give either num_nodes"),
        (lambda: fully_connected_graph(-2), r"num_nodes as an integer >= 0 \(got -2\)"),
    ],
)
def test_builder_errors(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
