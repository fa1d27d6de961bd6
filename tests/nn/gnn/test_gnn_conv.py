"""GNNConv: the fused pipeline against a plain reference, permutation equivariance, errors."""

from __future__ import annotations

import pickle

import pytest
import torch

import symml.nn._kernels.edge_ops as edge_ops
from symml.nn.gnn import GNNConv, fully_connected_graph
from symml.testing import assert_equivariant


def reference(conv: GNNConv, h, edge_index, edge_attr=None):
    src, dst = edge_index
    parts = [h[dst], h[src]] + ([edge_attr] if edge_attr is not None else [])
    m = conv.edge_mlp(torch.cat(parts, 1))
    messages = torch.zeros(len(h), m.shape[1], dtype=h.dtype).index_add(0, dst, m)
    if conv.options.messages_mean:
        count = torch.zeros(len(h), 1, dtype=h.dtype).index_add(
            0, dst, torch.ones(len(dst), 1, dtype=h.dtype)
        )
        messages = messages / count.clamp(min=1)
    out = conv.node_mlp(torch.cat([h, messages], 1))
    return h + out if conv.residual else out


@pytest.mark.parametrize(
    "options",
    [{}, {"edge_dim": 2, "aggr": "mean"}, {"residual": False, "out_features": 3}],
    ids=["plain", "edge_attr+mean", "no_residual"],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["one_chunk", "many_chunks"])
def test_matches_reference_with_gradients(random_graph, monkeypatch, options, chunked) -> None:
    if chunked:
        monkeypatch.setattr(edge_ops, "_CHUNK_ELEMENTS", 1)
    torch.manual_seed(0)
    conv = GNNConv(4, hidden=8, **options).double()
    data = random_graph(300 if chunked else 9, 4, edge_dim=conv.edge_dim, dtype=torch.float64)
    leaves = [data.x.requires_grad_()] + (
        [data.edge_attr.requires_grad_()] if conv.edge_dim else []
    )
    args = (data.x, data.edge_index, data.get("edge_attr"))
    fused, slow = conv(*args), reference(conv, *args)
    torch.testing.assert_close(fused, slow, rtol=1e-10, atol=1e-10)
    cot = torch.randn_like(fused)
    targets = leaves + list(conv.parameters())
    for a, b in zip(
        torch.autograd.grad(fused, targets, cot),
        torch.autograd.grad(slow, targets, cot),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_permutation_equivariant_and_invariant_features_stay_invariant(random_graph) -> None:
    conv = GNNConv(4, hidden=8)
    data = random_graph(9, 4)
    assert_equivariant(lambda d: conv(d.x, d.edge_index), conv.rep_in, conv.rep_out, x=data)


def test_gradcheck_float64(random_graph) -> None:
    conv = GNNConv(3, hidden=5, edge_dim=1).double()
    data = random_graph(6, 3, edge_dim=1, k=3, dtype=torch.float64)
    inputs = (data.x.requires_grad_(), data.edge_attr.requires_grad_())
    assert torch.autograd.gradcheck(lambda h, a: conv(h, data.edge_index, a), inputs)


def test_pickle_round_trip(random_graph) -> None:
    conv = GNNConv(4, hidden=8)
    data = random_graph(9, 4)
    clone = pickle.loads(pickle.dumps(conv))
    torch.testing.assert_close(clone(data.x, data.edge_index), conv(data.x, data.edge_index))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c(torch.randn(5, 3), fully_connected_graph(5)), r"h of shape \[N, 4\]"),
        (lambda c: c(torch.randn(5, 4), torch.zeros(2, 3)), "long tensor of shape"),
        (
            lambda c: c(torch.randn(5, 4), fully_connected_graph(6)),
            "refers to nodes 0...5, but the graph has 5 nodes",
        ),
        (
            lambda c: c(torch.randn(5, 4), fully_connected_graph(5), torch.randn(20, 1)),
            "built with edge_dim=0",
        ),
    ],
)
def test_bad_inputs(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(GNNConv(4, hidden=8))


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="residual=True needs out_features == in_features"):
        GNNConv(4, 5)
    with pytest.raises(ValueError, match=r"aggr 'sum' or 'mean' \(got 'max'\)"):
        GNNConv(4, aggr="max")  # type: ignore[arg-type]
