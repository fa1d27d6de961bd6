"""Groups acting on graphs: node permutations, and rigid motions of coordinates."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_geometric.data import Data

from symml.groups import (
    SE,
    SO3,
    E,
    Group,
    Permutations,
    SemidirectProduct,
    Translations,
    act_on_graph,
)

SEEDS = st.integers(0, 2**32 - 1)


def _graph(n: int, n_edges: int, seed: int) -> Data:
    gen = torch.Generator().manual_seed(seed)
    return Data(
        x=torch.randn(n, 4, generator=gen),
        pos=torch.randn(n, 3, generator=gen),
        vel=torch.randn(n, 3, generator=gen),
        edge_index=torch.randint(n, (2, n_edges), generator=gen),
        edge_attr=torch.randn(n_edges, 2, generator=gen),
    )


@st.composite
def _graphs_and_permutations(draw: st.DrawFn) -> tuple[Data, list[int], list[int]]:
    n = draw(st.integers(1, 7))
    # n_edges == n included on purpose: edge attributes must not be mistaken for node ones
    n_edges = draw(st.sampled_from([0, 1, n, 2 * n + 1]))
    graph = _graph(n, n_edges, draw(SEEDS))
    return graph, draw(st.permutations(range(n))), draw(st.permutations(range(n)))


@given(_graphs_and_permutations())
def test_permutation_relabels_nodes_consistently(case: tuple[Data, list[int], list[int]]) -> None:
    graph, sigma, _ = case
    g = Permutations(len(sigma)).element([sigma])
    out = act_on_graph(g, graph)
    sigma_t = torch.tensor(sigma)
    inv = torch.argsort(sigma_t)
    # node i of the old graph is node σ(i) of the new one, with the same features
    assert torch.equal(out.x[sigma_t], graph.x)
    assert torch.equal(out.pos[sigma_t], graph.pos)
    assert torch.equal(out.vel[sigma_t], graph.vel)
    # edge e keeps its attributes and joins the images of its old endpoints
    assert torch.equal(out.edge_attr, graph.edge_attr)
    assert torch.equal(inv[out.edge_index], graph.edge_index)
    # hence the graph with its features is isomorphic: features at new edge ends are the old ones
    i, j = out.edge_index
    assert torch.equal(out.x[i], graph.x[inv[i]]) and torch.equal(out.x[j], graph.x[inv[j]])
    assert torch.equal(out.x[i], graph.x[graph.edge_index[0]])
    # the input is not modified
    assert out is not graph and out.x is not graph.x


@given(_graphs_and_permutations())
def test_composing_permutations_is_acting_twice(case: tuple[Data, list[int], list[int]]) -> None:
    graph, sigma, tau = case
    group = Permutations(len(sigma))
    s, t = group.element([sigma]), group.element([tau])
    twice = act_on_graph(s, act_on_graph(t, graph))
    once = act_on_graph(s @ t, graph)
    for key in ("x", "pos", "vel", "edge_index", "edge_attr"):
        assert torch.equal(twice[key], once[key]), key
    # and the inverse undoes the action
    back = act_on_graph(~s, act_on_graph(s, graph))
    for key in ("x", "edge_index"):
        assert torch.equal(back[key], graph[key]), key


def test_a_transposition_swaps_two_nodes() -> None:
    graph = Data(x=torch.tensor([[0.0], [1.0], [2.0]]), edge_index=torch.tensor([[0, 1], [1, 2]]))
    out = act_on_graph(Permutations(3).element([[1, 0, 2]]), graph)
    assert out.x.flatten().tolist() == [1.0, 0.0, 2.0]
    assert out.edge_index.tolist() == [[1, 0], [0, 2]]


@pytest.mark.parametrize("group", [E(3), SE(3), SO3(), Translations(3)], ids=repr)
@given(seed=SEEDS)
def test_rigid_motions_move_positions_and_rotate_velocities(group: Group, seed: int) -> None:
    graph = _graph(6, 9, seed)
    g = group.sample(1, generator=torch.Generator().manual_seed(seed))
    out = act_on_graph(g, graph)
    rot = group.matrices(g)[0]
    shift = group.act_on_points(g, torch.zeros(3))
    if isinstance(group, (SemidirectProduct, Translations)):
        assert shift.abs().max() > 1e-3  # the sample really translates
    torch.testing.assert_close(out.pos, graph.pos @ rot.T + shift)
    torch.testing.assert_close(out.vel, graph.vel @ rot.T)  # linear part only
    for key in ("x", "edge_index", "edge_attr"):
        assert torch.equal(out[key], graph[key]), key
    torch.testing.assert_close(torch.cdist(out.pos, out.pos), torch.cdist(graph.pos, graph.pos))


@given(seed=SEEDS)
def test_e3_on_graphs_is_an_action(seed: int) -> None:
    group = E(3)
    graph = _graph(5, 4, seed)
    gen = torch.Generator().manual_seed(seed)
    g, h = group.sample(1, generator=gen), group.sample(1, generator=gen)
    twice, once = act_on_graph(g, act_on_graph(h, graph)), act_on_graph(g @ h, graph)
    torch.testing.assert_close(twice.pos, once.pos)
    torch.testing.assert_close(twice.vel, once.vel)


def test_custom_vector_attributes_rotate() -> None:
    graph = _graph(4, 3, seed=0)
    graph.force = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    g = E(3).sample(1, generator=torch.Generator().manual_seed(2))
    out = act_on_graph(g, graph, vectors=("force",))
    rot = E(3).matrices(g)[0]
    torch.testing.assert_close(out.force, graph.force @ rot.T)
    assert torch.equal(out.vel, graph.vel)  # not listed, so left alone


def test_graph_action_errors() -> None:
    graph = _graph(4, 3, seed=0)
    with pytest.raises(
        ValueError, match="Permutations\\(5\\) permutes 5 nodes, but the graph has 4"
    ):
        act_on_graph(Permutations(5).identity(), graph)
    with pytest.raises(ValueError, match="expected a single element \\(got a batch of 2\\)"):
        act_on_graph(E(3).identity(2), graph)
    with pytest.raises(
        ValueError, match="E\\(3\\) acts on coordinates, but the graph has no `pos`"
    ):
        act_on_graph(E(3).identity(), Data(x=torch.randn(4, 2)))
