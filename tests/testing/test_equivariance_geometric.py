"""`assert_equivariant` on point clouds (`PointRep`) and graphs (`GraphRep`): E(3) acting on
coordinates (translations included), invariant node features, and node permutations."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from symml.groups import SE, E
from symml.reps import standard, trivial
from symml.testing import GraphRep, NodeRep, PointRep, assert_equivariant, equivariance_error

DTYPES = [torch.float32, torch.float64]


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----- point clouds ------------------------------------------------------------------------------
def _radial_push(pos: Tensor) -> Tensor:
    """``x + 0.1 (x - x̄) |x - x̄|``: moves each point along its offset from the centroid."""
    centred = pos - pos.mean(-2, keepdim=True)
    return pos + 0.1 * centred * centred.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", [E(3), SE(3), E(2)], ids=repr)
def test_radial_push_is_euclidean_equivariant(group, dtype: torch.dtype) -> None:
    points = PointRep(group)
    errors = assert_equivariant(_radial_push, points, points, dtype=dtype)
    if dtype == torch.float64:
        assert errors["output"] < 1e-12


def _centre(pos: Tensor) -> Tensor:
    return pos - pos.mean(-2, keepdim=True)


def test_centring_maps_points_to_vectors() -> None:
    # x - x̄ rotates but does not translate: a field of standard(E(3)) vectors, not points
    points = PointRep(E(3))
    assert_equivariant(_centre, points, standard(E(3)))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(_centre, points, points)
    # and its norms are E(3) invariants
    assert_equivariant(lambda p: _centre(p).norm(dim=-1, keepdim=True), points, trivial(E(3)))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda p: p.norm(dim=-1, keepdim=True), points, trivial(E(3)))


def test_adding_a_constant_vector_fails() -> None:
    points = PointRep(E(3))
    shift = torch.tensor([1.0, -2.0, 0.5])
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda p: p + shift.to(p.dtype), points, points)


# ----- graphs: an EGNN layer in plain torch ------------------------------------------------------
NODE = 4 * trivial(E(3))  # invariant node features
HIDDEN = 16


def _weights() -> dict[str, Tensor]:
    gen = _generator(1)
    return {
        "message": torch.randn(2 * NODE.dim + 1, HIDDEN, generator=gen, dtype=torch.float64),
        "update": torch.randn(HIDDEN, NODE.dim, generator=gen, dtype=torch.float64) / 4,
        "coord": torch.randn(HIDDEN, 1, generator=gen, dtype=torch.float64) / 4,
    }


WEIGHTS = _weights()


def _egnn(data: Any, broken: str | None = None) -> dict[str, Tensor]:
    """One EGNN layer (Satorras et al. 2021): messages from ``h_i, h_j, |x_i - x_j|²``, node
    update ``h_i + Σ_j m_ij U``, coordinate update along ``x_i - x_j``."""
    h, pos = data.x, data.pos
    w = {k: v.to(pos.dtype) for k, v in WEIGHTS.items()}
    src, dst = data.edge_index
    diff = pos[dst] - pos[src]
    dist2 = (diff**2).sum(-1, keepdim=True)
    messages = torch.tanh(torch.cat([h[dst], h[src], dist2], -1) @ w["message"])
    agg = torch.zeros(h.shape[0], HIDDEN, dtype=h.dtype).index_add_(0, dst, messages)
    h_new = h + agg @ w["update"]
    shift = torch.zeros_like(pos).index_add_(0, dst, diff * (messages @ w["coord"]))
    pos_new = pos + shift / (h.shape[0] - 1)
    if broken == "permutation":
        h_new = h_new + torch.arange(h.shape[0], dtype=h.dtype)[:, None]
    if broken == "rotation":
        h_new = h_new + pos.sum(-1, keepdim=True)  # raw coordinates used as an invariant
    return {"h": h_new, "pos": pos_new}


GRAPH = GraphRep(E(3), node=NODE)
OUTPUTS = {"h": NodeRep(NODE), "pos": PointRep(E(3))}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_egnn_layer_passes(dtype: torch.dtype) -> None:
    errors = assert_equivariant(_egnn, GRAPH, OUTPUTS, dtype=dtype)
    assert set(errors) == {"h", "pos", "permutation:h", "permutation:pos"}
    if dtype == torch.float64:
        assert max(errors.values()) < 1e-12


def test_breaking_permutation_equivariance_fails_on_the_permutation_key_only() -> None:
    errors = equivariance_error(lambda d: _egnn(d, "permutation"), GRAPH, OUTPUTS)
    failing = {k for k, v in errors.items() if v > 1e-5}
    assert failing == {"permutation:h"}
    with pytest.raises(AssertionError, match=r"permutation:h: ") as info:
        assert_equivariant(lambda d: _egnn(d, "permutation"), GRAPH, OUTPUTS)
    assert "pos" not in str(info.value)


def test_permutations_zero_skips_the_permutation_check() -> None:
    errors = assert_equivariant(lambda d: _egnn(d, "permutation"), GRAPH, OUTPUTS, permutations=0)
    assert set(errors) == {"h", "pos"}


def test_breaking_rotation_equivariance_fails() -> None:
    errors = equivariance_error(lambda d: _egnn(d, "rotation"), GRAPH, OUTPUTS)
    assert {k for k, v in errors.items() if v > 1e-5} == {"h"}
    with pytest.raises(AssertionError, match=r"not equivariant .*h: "):
        assert_equivariant(lambda d: _egnn(d, "rotation"), GRAPH, OUTPUTS)


def test_graph_level_invariant_and_vector_attributes() -> None:
    graph = GraphRep(E(3))  # no node features; `vel` rotates without translating

    def readout(data: Any) -> tuple[Tensor, Tensor]:
        energy = (data.vel**2).sum() + torch.cdist(data.pos, data.pos).sum()
        return energy.reshape(1, 1), data.pos + 0.1 * data.vel

    errors = assert_equivariant(readout, graph, (trivial(E(3)), PointRep(E(3))))
    assert set(errors) == {"0", "1", "permutation:0", "permutation:1"}
    with pytest.raises(AssertionError, match=r"not equivariant .*1: "):
        assert_equivariant(
            lambda d: (readout(d)[0], d.pos + 0.1 * d.vel.abs()),
            graph,
            (trivial(E(3)), PointRep(E(3))),
        )


def test_graph_outputs_are_compared_attribute_by_attribute() -> None:
    graph = GraphRep(E(3))

    def step(data: Any) -> Any:
        out = data.clone()
        out.pos = data.pos + 0.1 * data.vel
        return out

    assert set(assert_equivariant(step, graph, graph)) == {"output", "permutation:output"}

    def broken(data: Any) -> Any:
        out = step(data)
        out.vel = data.vel + 1.0  # a velocity that does not rotate
        return out

    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(broken, graph, graph)


def test_graph_node_rep_of_another_group() -> None:
    with pytest.raises(ValueError, match=r"GraphRep: the node rep is of SE\(3\)"):
        GraphRep(E(3), node=trivial(SE(3)))


def test_point_rep_needs_a_group_acting_on_points() -> None:
    from symml.groups import Permutations
    from symml.testing import PointRep

    with pytest.raises(ValueError, match=r"PointRep: Permutations\(3\) does not act on points"):
        PointRep(Permutations(3))
