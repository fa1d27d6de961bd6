"""TensorFieldConv: E(3) / SE(3) equivariance (symml.testing and e3nn's own checker), chirality,
changes of basis, chaining, gradients, serialisation and errors."""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator

import pytest
import torch
from e3nn.util.test import assert_equivariant as e3nn_assert_equivariant
from torch_geometric.data import Data

from symml.groups import O3, SO2, SO3
from symml.nn.gnn import GraphSequential, TensorFieldConv, fully_connected_graph
from symml.reps import from_e3nn, irrep, standard, trivial
from symml.testing import assert_equivariant


@pytest.fixture
def float64_default() -> Iterator[None]:
    """e3nn stores its Clebsch-Gordan constants in the default dtype when a module is built, so
    float64 checks build the layer under float64 (casting a float32 layer caps them at ~1e-9)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _call(conv):
    return lambda d: conv(d.x, d.pos, d.edge_index, d.get("edge_attr"))


def _graph(conv: TensorFieldConv, random_graph, dtype=torch.float32, n: int = 7) -> Data:
    data = random_graph(n, conv.rep_in.node.dim, edge_dim=conv.edge_dim, dtype=dtype, k=3)
    data.pos = data.pos * 0.8  # inside max_radius
    return data


O3_CASES = {
    "scalars->vectors": ("2x0e", "3x0e + 2x1o"),
    "mixed parity": ("1x0e + 1x1e", "1x0e + 1x0o + 1x1o + 1x1e + 1x2e"),
    "change of basis": (trivial(O3()) + standard(O3()), standard(O3()) + 2 * trivial(O3())),
}


@pytest.mark.parametrize("case", list(O3_CASES), ids=list(O3_CASES))
@pytest.mark.parametrize("gate", [True, False])
def test_e3_equivariant_with_reflections(random_graph, case: str, gate: bool) -> None:
    torch.manual_seed(0)
    rep_in, rep_out = O3_CASES[case]
    conv = TensorFieldConv(rep_in, rep_out, lmax=2, edge_dim=1, gate=gate)
    assert repr(conv.group) == "E(3)"
    data = _graph(conv, random_graph)
    out = _call(conv)(data)
    assert out.abs().max() > 1e-3
    assert_equivariant(_call(conv), conv.rep_in, conv.rep_out, x=data)  # E(3) incl. reflections


@pytest.mark.parametrize("case", list(O3_CASES), ids=list(O3_CASES))
def test_e3_equivariant_in_float64(random_graph, float64_default, case: str) -> None:
    torch.manual_seed(1)
    conv = TensorFieldConv(*O3_CASES[case], lmax=2)
    data = _graph(conv, random_graph, dtype=torch.float64)
    assert_equivariant(_call(conv), conv.rep_in, conv.rep_out, x=data, dtype=torch.float64)


def test_passes_e3nn_assert_equivariant(random_graph, float64_default) -> None:
    torch.manual_seed(2)
    conv = TensorFieldConv("1x0e + 1x1o + 1x1e", "2x0e + 1x0o + 1x1o + 1x2e", lmax=2)
    data = _graph(conv, random_graph, dtype=torch.float64)
    e3nn_assert_equivariant(
        lambda x, pos: conv(x, pos, data.edge_index),
        args_in=[data.x, data.pos],
        irreps_in=[conv.irreps_in, "cartesian_points"],
        irreps_out=[conv.irreps_out],
    )


def test_so3_reps_give_a_chiral_se3_layer(random_graph) -> None:
    torch.manual_seed(3)
    scalar, vector = trivial(SO3()), irrep(SO3(), 1)
    chiral = TensorFieldConv(scalar + vector, scalar * 4 + vector, lmax=2)
    assert repr(chiral.group) == "SE(3)"
    data = _graph(chiral, random_graph)
    assert_equivariant(_call(chiral), chiral.rep_in, chiral.rep_out, x=data)


def test_only_the_chiral_network_tells_mirror_images_apart(random_graph) -> None:
    """A pseudoscalar needs three vectors (a triple product), so three layers."""
    torch.manual_seed(4)
    scalar, vector = trivial(SO3()), irrep(SO3(), 1)
    hidden = scalar * 4 + vector * 2
    chiral = GraphSequential(
        TensorFieldConv(scalar, hidden, lmax=1),
        TensorFieldConv(hidden, hidden, lmax=1),
        TensorFieldConv(hidden, scalar * 4, lmax=1, gate=False),
    )
    achiral = GraphSequential(
        TensorFieldConv("1x0e", "4x0e + 2x1o", lmax=1),
        TensorFieldConv("4x0e + 2x1o", "4x0e + 2x1o", lmax=1),
        TensorFieldConv("4x0e + 2x1o", "4x0e", lmax=1, gate=False),
    )
    data = random_graph(6, 1)
    mirrored = data.pos * torch.tensor([-1.0, 1.0, 1.0])
    for net, differs in ((chiral, True), (achiral, False)):
        a = net(data.x, data.pos, data.edge_index)
        b = net(data.x, mirrored, data.edge_index)
        assert bool((a - b).abs().max() > 1e-4 * a.abs().max()) == differs


def test_sequential_checks_chaining_at_construction() -> None:
    first = TensorFieldConv("1x0e", "4x0e + 2x1o", lmax=1)
    with pytest.raises(ValueError, match=r"layer 1 \(TensorFieldConv\) expects node features"):
        GraphSequential(first, TensorFieldConv("4x0e + 1x1o", "1x1o", lmax=1, gate=False))
    with pytest.raises(TypeError, match="must declare rep_in as a GraphRep"):
        GraphSequential(first, torch.nn.Linear(3, 3))
    net = GraphSequential(first, TensorFieldConv("4x0e + 2x1o", "1x1o", lmax=1, gate=False))
    assert net.rep_in == first.rep_in and net.group == first.group


def test_sequential_is_the_composition(random_graph) -> None:
    a = TensorFieldConv("1x0e", "4x0e + 2x1o", lmax=1)
    b = TensorFieldConv("4x0e + 2x1o", "1x1o", lmax=1, gate=False)
    data = random_graph(6, 1)
    expected = b(a(data.x, data.pos, data.edge_index), data.pos, data.edge_index)
    torch.testing.assert_close(GraphSequential(a, b)(data.x, data.pos, data.edge_index), expected)


def test_gradcheck_float64(random_graph, float64_default) -> None:
    conv = TensorFieldConv(trivial(O3()) + standard(O3()), "1x0e + 1x1o", lmax=1, edge_dim=1)
    data = _graph(conv, random_graph, dtype=torch.float64, n=4)
    inputs = (data.x.requires_grad_(), data.pos.requires_grad_(), data.edge_attr.requires_grad_())
    assert torch.autograd.gradcheck(lambda x, p, a: conv(x, p, data.edge_index, a), inputs)


def test_state_dict_and_pickle_round_trip(random_graph) -> None:
    torch.manual_seed(4)
    conv = TensorFieldConv(standard(O3()), "2x0e + 1x1o", lmax=1)
    data = _graph(conv, random_graph)
    expected = _call(conv)(data)
    again = TensorFieldConv(standard(O3()), "2x0e + 1x1o", lmax=1)
    buffer = io.BytesIO()
    torch.save(conv.state_dict(), buffer)
    buffer.seek(0)
    again.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(_call(again)(data), expected, rtol=0, atol=0)
    torch.testing.assert_close(_call(pickle.loads(pickle.dumps(conv)))(data), expected)


def test_rep_out_reads_like_the_request() -> None:
    conv = TensorFieldConv("1x1o + 2x0e", "3x0e + 1x1o")
    assert conv.rep_in.node.rep == from_e3nn("1x1o + 2x0e")  # the order given, not e3nn's
    assert conv.rep_out.fibre.dim == 6


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: TensorFieldConv("1x0e", irrep(SO3(), 1)), ValueError, "expected both of O3"),
        (lambda: TensorFieldConv("1x0e", "1x1o", lmax=0), ValueError, "no path from rep_in"),
        (lambda: TensorFieldConv("1x0e", "1x0e", lmax=-1), ValueError, r"lmax as an integer >= 0"),
        (lambda: TensorFieldConv(3, "1x0e"), TypeError, "rep_in as a symml Rep or an e3nn"),
        (lambda: TensorFieldConv(standard(SO2()), "1x0e"), ValueError, "rep of O3"),
        (lambda: TensorFieldConv("1x0e", "1x0e", max_radius=0.0), ValueError, "max_radius > 0"),
    ],
)
def test_construction_errors(build, error, match: str) -> None:
    with pytest.raises(error, match=match):
        build()


def test_forward_errors() -> None:
    conv = TensorFieldConv("1x0e + 1x1o", "2x0e")
    pos, edges = torch.randn(4, 3), fully_connected_graph(4)
    with pytest.raises(ValueError, match=r"expected x of shape \[N, 4\] \(got \[4, 3\]\)"):
        conv(torch.randn(4, 3), pos, edges)
    with pytest.raises(ValueError, match=r"pos of shape \[N, 3\] \(got \[4, 2\]\)"):
        conv(torch.randn(4, 4), torch.randn(4, 2), edges)
    with pytest.raises(ValueError, match="NaN"):
        conv(torch.randn(4, 4), torch.full((4, 3), float("nan")), edges)
