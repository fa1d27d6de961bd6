"""EGNNConv: E(n) equivariance, the layer against a plain autograd reference built from its own
sub-modules, gradients, serialisation and input errors."""

from __future__ import annotations

import dataclasses
import io
import pickle

import pytest
import torch
from torch import Tensor
from torch.nn import functional as F

from symml.nn.gnn import EGNNConv, fully_connected_graph
from symml.nn.gnn.egnn import EGNNOptions
from symml.testing import assert_equivariant, equivariance_error

CONFIGS = {
    "plain": {},
    "velocity": {"velocity": True},
    "attention+normalize": {"options": EGNNOptions(attention=True, normalize=True)},
    "edge_attr+sum+mean": {"edge_dim": 2, "options": EGNNOptions(aggr="mean", coords_aggr="sum")},
    "no_residual+no_clamp": {"out_features": 5, "options": EGNNOptions(residual=False, clamp=None)},
}


def reference(conv: EGNNConv, h: Tensor, pos: Tensor, edge_index: Tensor, vel=None, edge_attr=None):
    """The layer computed the obvious way with autograd, from the layer's own sub-modules."""
    src, dst = edge_index
    diff = pos[dst] - pos[src]
    dist = (diff * diff).sum(1, keepdim=True)
    parts = [h[dst], h[src], dist] + ([edge_attr] if edge_attr is not None else [])
    m = conv.edge_mlp(torch.cat(parts, 1))
    if conv.att_mlp is not None:
        m = m * conv.att_mlp(m)
    s = conv.coord_mlp(m)
    opts = conv.options
    if opts.clamp is not None:
        s = s.clamp(-opts.clamp, opts.clamp)
    vec = diff / (dist.sqrt() + 1) if opts.normalize else diff
    n = len(h)
    count = torch.zeros(n, 1, dtype=h.dtype).index_add(
        0, dst, torch.ones(len(dst), 1, dtype=h.dtype)
    )
    count = count.clamp(min=1)
    shift = torch.zeros_like(pos).index_add(0, dst, vec * s)
    messages = torch.zeros(n, m.shape[1], dtype=h.dtype).index_add(0, dst, m)
    shift = shift / count if opts.coords_aggr == "mean" else shift
    messages = messages / count if opts.aggr == "mean" else messages
    x = pos + shift
    if conv.vel_mlp is not None:
        x = x + conv.vel_mlp(h) * vel
    out = conv.node_mlp(torch.cat([h, messages], 1))
    return (h + out if opts.residual else out), x


def _call(conv: EGNNConv):
    def f(data):
        return conv(
            data.x, data.pos, data.edge_index, vel=data.vel, edge_attr=data.get("edge_attr")
        )

    return f


@pytest.mark.parametrize("dim", [2, 3, 4])
@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_equivariant_to_euclidean_group_and_permutations(
    random_graph, dim: int, config: str
) -> None:
    torch.manual_seed(0)
    conv = EGNNConv(4, hidden=16, dim=dim, **CONFIGS[config])
    data = random_graph(9, 4, dim=dim, edge_dim=conv.edge_dim)
    # E(n) elements: reflections and translations included; 3 random node permutations too
    errors = assert_equivariant(_call(conv), conv.rep_in, conv.rep_out, x=data, atol=1e-5)
    assert set(errors) == {"0", "1", "permutation:0", "permutation:1"}


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_equivariant_in_float64(random_graph, config: str) -> None:
    torch.manual_seed(1)
    conv = EGNNConv(4, hidden=16, **CONFIGS[config]).double()
    data = random_graph(9, 4, edge_dim=conv.edge_dim, dtype=torch.float64)
    assert_equivariant(_call(conv), conv.rep_in, conv.rep_out, x=data, dtype=torch.float64)


def test_coordinates_move(random_graph) -> None:
    """Equivariance must not come from a layer that leaves x alone: the update is non-trivial."""
    torch.manual_seed(2)
    conv = EGNNConv(4, hidden=16, velocity=True)
    data = random_graph(9, 4)
    _, x = _call(conv)(data)
    assert (x - data.pos).abs().max() > 1e-3


def _with_clamp(config: str, clamp: float | None) -> dict:
    """CONFIGS[config] with ``options.clamp`` replaced."""
    kwargs = dict(CONFIGS[config])
    kwargs["options"] = dataclasses.replace(kwargs.get("options", EGNNOptions()), clamp=clamp)
    return kwargs


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_layer_matches_autograd_reference(random_graph, config) -> None:
    torch.manual_seed(3)
    unclamped = EGNNConv(4, hidden=8, **_with_clamp(config, None)).double()
    data = random_graph(9, 4, edge_dim=unclamped.edge_dim, dtype=torch.float64)
    args = (data.x, data.pos, data.edge_index, data.vel, data.get("edge_attr"))
    with torch.no_grad():
        unclamped.coord_mlp[2].weight.mul_(1000.0)  # undo the 0.001 init gain
        scale = unclamped.coord_mlp(unclamped.edge_mlp(_edge_inputs(unclamped, *args))).abs()
    # clamp at the median |φ_x| so that it acts on half of the edges (unless the config has none)
    clamp = CONFIGS[config].get("options", EGNNOptions()).clamp
    clamp = None if clamp is None else float(scale.median())
    conv = EGNNConv(4, hidden=8, **_with_clamp(config, clamp)).double()
    conv.load_state_dict(unclamped.state_dict())
    leaves = [data.x, data.pos, data.vel] + ([data.edge_attr] if conv.edge_dim else [])
    for t in leaves:
        t.requires_grad_(True)
    fused, slow = conv(*args), reference(conv, *args)
    params = list(conv.parameters())
    cot = [torch.randn_like(t) for t in fused]
    g_fused = torch.autograd.grad(fused, leaves + params, cot, allow_unused=True)
    g_slow = torch.autograd.grad(slow, leaves + params, cot, allow_unused=True)
    for a, b in zip(fused, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    for a, b in zip(g_fused, g_slow, strict=True):
        if b is None:
            assert a is None or not a.abs().max() > 0
        else:
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_float32_matches_float64(random_graph, config) -> None:
    torch.manual_seed(6)
    conv = EGNNConv(4, hidden=8, **CONFIGS[config])
    data = random_graph(100, 4, edge_dim=conv.edge_dim, dtype=torch.float64)
    leaves = [data.x, data.pos, data.vel] + ([data.edge_attr] if conv.edge_dim else [])
    single = [t.float().requires_grad_(True) for t in leaves]
    double = [t.requires_grad_(True) for t in leaves]

    def call(module, tensors):
        h, pos, vel, *attr = tensors
        return module(h, pos, data.edge_index, vel, attr[0] if attr else None)

    reference_conv = pickle.loads(pickle.dumps(conv)).double()
    fused, slow = call(conv, single), call(reference_conv, double)
    cot = [torch.randn_like(t, dtype=torch.float64) for t in slow]
    targets = single + list(conv.parameters())
    g_fused = torch.autograd.grad(fused, targets, [c.float() for c in cot], allow_unused=True)
    targets = double + list(reference_conv.parameters())
    g_slow = torch.autograd.grad(slow, targets, cot, allow_unused=True)
    for a, b in zip(list(fused) + list(g_fused), list(slow) + list(g_slow), strict=True):
        assert (a is None) == (b is None)
        if b is not None:
            torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-5)


def _edge_inputs(conv, h, pos, edge_index, vel, edge_attr):
    src, dst = edge_index
    dist = (pos[dst] - pos[src]).pow(2).sum(1, keepdim=True)
    return torch.cat([h[dst], h[src], dist] + ([edge_attr] if edge_attr is not None else []), 1)


def test_inference_without_gradients_matches(random_graph) -> None:
    conv = EGNNConv(4, hidden=8, velocity=True)
    data = random_graph(9, 4)
    with torch.no_grad():
        a = _call(conv)(data)
    b = _call(conv)(data)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("config", ["velocity", "attention+normalize", "edge_attr+sum+mean"])
def test_gradcheck_float64(random_graph, config: str) -> None:
    torch.manual_seed(4)
    conv = EGNNConv(3, hidden=6, **CONFIGS[config]).double()
    data = random_graph(6, 3, edge_dim=conv.edge_dim, k=3, dtype=torch.float64)
    inputs = [data.x, data.pos, data.vel] + ([data.edge_attr] if conv.edge_dim else [])
    inputs = [t.clone().requires_grad_(True) for t in inputs]

    def f(h, pos, vel, *edge_attr):
        return conv(h, pos, data.edge_index, vel=vel, edge_attr=edge_attr[0] if edge_attr else None)

    assert torch.autograd.gradcheck(f, inputs)


def test_graph_without_edges_keeps_positions() -> None:
    conv = EGNNConv(4, hidden=8)
    h, pos = torch.randn(3, 4), torch.randn(3, 3)
    h2, x = conv(h, pos, torch.zeros(2, 0, dtype=torch.long))
    torch.testing.assert_close(x, pos)
    torch.testing.assert_close(h2, h + conv.node_mlp(torch.cat([h, torch.zeros(3, 8)], 1)))


def test_state_dict_and_pickle_round_trip(random_graph) -> None:
    torch.manual_seed(5)
    options = EGNNOptions(attention=True)
    conv = EGNNConv(4, hidden=8, velocity=True, options=options)
    data = random_graph(9, 4)
    expected = _call(conv)(data)
    again = EGNNConv(4, hidden=8, velocity=True, options=options)
    buffer = io.BytesIO()
    torch.save(conv.state_dict(), buffer)
    buffer.seek(0)
    again.load_state_dict(torch.load(buffer, weights_only=True))
    clone = pickle.loads(pickle.dumps(conv))
    for other in (again, clone):
        for a, b in zip(_call(other)(data), expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert conv.state_dict().keys() == conv.eval().state_dict().keys()


def test_plain_mlp_on_coordinates_is_caught(random_graph) -> None:
    """The same check fails for a function that treats coordinates as features."""
    conv = EGNNConv(4, hidden=8)

    def broken(data):
        h, x = conv(data.x, data.pos, data.edge_index)
        return h, x + F.silu(data.pos)

    errors = equivariance_error(broken, conv.rep_in, conv.rep_out, x=random_graph(9, 4))
    assert errors["1"] > 1e-2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pos": torch.randn(5, 2)}, r"expected pos of shape \[N, 3\] \(got \[5, 2\]\)"),
        (
            {"edge_index": torch.zeros(3, 4, dtype=torch.long)},
            r"shape \[2, E\] \(got torch.int64 \[3, 4\]\)",
        ),
        ({"edge_index": torch.zeros(2, 4)}, r"long tensor of shape \[2, E\] \(got torch.float32"),
        (
            {"edge_index": torch.tensor([[0, 7], [1, 2]])},
            "refers to nodes 0...7, but the graph has 5 nodes",
        ),
        ({"pos": torch.tensor([[float("nan")] * 3] * 5)}, r"expected finite pos \(got NaN"),
        ({"vel": torch.full((5, 3), float("inf"))}, r"expected finite vel \(got NaN"),
        ({"h": torch.randn(5, 3)}, r"expected h of shape \[N, 4\] \(got \[5, 3\]\)"),
        ({"vel": None}, "velocity=True, so forward needs vel"),
        ({"vel": torch.randn(4, 3)}, r"expected vel of shape \[5, 3\]"),
        ({"edge_attr": torch.randn(20, 1)}, "built with edge_dim=0"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, match: str) -> None:
    conv = EGNNConv(4, hidden=8, velocity=True)
    args = {
        "h": torch.randn(5, 4),
        "pos": torch.randn(5, 3),
        "edge_index": fully_connected_graph(5),
        "vel": torch.randn(5, 3),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        conv(**args)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: EGNNConv(4, hidden=0), r"hidden to be a positive integer \(got 0\)"),
        (lambda: EGNNConv(4, 5), "out_features must equal in_features"),
        (lambda: EGNNOptions(aggr="max"), r"aggr 'sum' or 'mean' \(got 'max'\)"),  # type: ignore[arg-type]
        (lambda: EGNNOptions(clamp=-1.0), r"clamp > 0 or None \(got -1.0\)"),
        (lambda: EGNNOptions(attention="yes"), r"attention as True or False \(got 'yes'\)"),  # type: ignore[arg-type]
        (lambda: EGNNConv(4, edge_dim=-1), "edge_dim >= 0"),
    ],
)
def test_bad_construction_raises(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_options_must_be_egnn_options() -> None:
    with pytest.raises(TypeError, match=r"expected options as an EGNNOptions.*\(got dict\)"):
        EGNNConv(4, options={"attention": True})  # type: ignore[arg-type]
