"""RadialFieldConv (E(n)-equivariant positions) and SchNetConv (E(n)-invariant features)."""

from __future__ import annotations

import pickle

import pytest
import torch

from symml.nn.gnn import RadialFieldConv, SchNetConv, fully_connected_graph, radius_graph
from symml.testing import assert_equivariant


def _radial(conv: RadialFieldConv):
    return lambda d: conv(d.pos, d.edge_index, vel=d.vel, edge_attr=d.get("edge_attr"))


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize(
    "options", [{}, {"velocity": True, "edge_dim": 1}], ids=["plain", "rf_vel"]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_radial_field_is_equivariant(random_graph, dim, options, dtype) -> None:
    torch.manual_seed(0)
    conv = RadialFieldConv(16, dim=dim, **options).to(dtype)
    with torch.no_grad():
        conv.phi[2].weight.mul_(1000.0)  # a visible update, not the 0.001-gain start
    data = random_graph(8, 0, dim=dim, edge_dim=conv.edge_dim, dtype=dtype)
    assert (_radial(conv)(data) - data.pos).abs().max() > 1e-2
    assert_equivariant(_radial(conv), conv.rep_in, conv.rep_out, x=data, dtype=dtype)


def test_radial_field_matches_its_formula(random_graph) -> None:
    torch.manual_seed(1)
    conv = RadialFieldConv(8, velocity=True).double()
    data = random_graph(6, 0, dtype=torch.float64)
    src, dst = data.edge_index
    diff = data.pos[dst] - data.pos[src]
    msg = diff * conv.phi(diff.norm(dim=1, keepdim=True))
    total = torch.zeros_like(data.pos).index_add(0, dst, msg)
    count = torch.zeros(6, 1, dtype=torch.float64).index_add(
        0, dst, torch.ones(len(dst), 1, dtype=torch.float64)
    )
    expected = (
        data.pos + total / count + data.vel * conv.vel_mlp(data.vel.norm(dim=1, keepdim=True))
    )
    torch.testing.assert_close(_radial(conv)(data), expected)


def test_radial_field_gradcheck(random_graph) -> None:
    conv = RadialFieldConv(6, velocity=True, edge_dim=1).double()
    data = random_graph(5, 0, edge_dim=1, k=3, dtype=torch.float64)
    inputs = (data.pos.requires_grad_(), data.vel.requires_grad_(), data.edge_attr.requires_grad_())
    assert torch.autograd.gradcheck(
        lambda p, v, a: conv(p, data.edge_index, vel=v, edge_attr=a), inputs
    )


def test_radial_field_errors() -> None:
    conv = RadialFieldConv(8, velocity=True)
    pos, edges = torch.randn(4, 3), fully_connected_graph(4)
    with pytest.raises(ValueError, match="velocity=True, so forward needs vel"):
        conv(pos, edges)
    with pytest.raises(ValueError, match=r"pos of shape \[N, 3\] \(got \[4, 2\]\)"):
        conv(torch.randn(4, 2), edges, vel=torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        conv(torch.full((4, 3), float("nan")), edges, vel=pos)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_schnet_is_invariant(random_graph, dim, dtype) -> None:
    torch.manual_seed(2)
    conv = SchNetConv(6, gaussians=10, cutoff=3.0, dim=dim).to(dtype)
    data = random_graph(8, 6, dim=dim, dtype=dtype)
    data.edge_index = radius_graph(data.pos, 3.0)

    def f(d):
        return conv(d.x, d.pos, d.edge_index)

    out = f(data)
    assert (out - data.x).abs().max() > 1e-3  # the interaction does something
    assert_equivariant(f, conv.rep_in, conv.rep_out, x=data, dtype=dtype)


def test_schnet_is_torch_geometric_interaction_plus_residual(random_graph) -> None:
    conv = SchNetConv(5, gaussians=7, cutoff=2.5)
    data = random_graph(7, 5)
    src, dst = data.edge_index
    dist = (data.pos[dst] - data.pos[src]).norm(dim=1)
    expected = data.x + conv.interaction(data.x, data.edge_index, dist, conv.expansion(dist))
    torch.testing.assert_close(conv(data.x, data.pos, data.edge_index), expected)
    clone = pickle.loads(pickle.dumps(conv))
    torch.testing.assert_close(clone(data.x, data.pos, data.edge_index), expected)


def test_schnet_gradcheck(random_graph) -> None:
    conv = SchNetConv(3, gaussians=4, cutoff=3.0).double()
    data = random_graph(5, 3, k=3, dtype=torch.float64)
    inputs = (data.x.requires_grad_(), data.pos.requires_grad_())
    assert torch.autograd.gradcheck(lambda h, p: conv(h, p, data.edge_index), inputs)


def test_schnet_errors() -> None:
    conv = SchNetConv(4)
    with pytest.raises(ValueError, match=r"h of shape \[N, 4\] \(got \[3, 2\]\)"):
        conv(torch.randn(3, 2), torch.randn(3, 3), fully_connected_graph(3))
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        conv(torch.randn(3, 4), torch.randn(3, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"cutoff > 0 \(got 0.0\)"):
        SchNetConv(4, cutoff=0.0)
