"""Graph models from the registry: N-body dynamics (egnn, gnn, radial_field, tfn, linear_dynamics)
and 3-D Tetris classifiers (tetris_tfn, tetris_egnn, tetris_mlp, tetris_gnn)."""

from __future__ import annotations

import copy
import functools
import io
import pickle
from collections.abc import Iterator

import pytest
import torch
from torch_geometric.data import Batch, Data

from symml.data import build as build_dataset
from symml.data.tetris import label_rep as data_label_rep
from symml.groups import E
from symml.models import build, info, names, parameter_count
from symml.models.point_cloud import label_rep
from symml.nn.gnn import fully_connected_graph
from symml.testing import assert_equivariant, equivariance_error

NBODY = ["egnn", "gnn", "radial_field", "tfn", "linear_dynamics"]
TETRIS = ["tetris_tfn", "tetris_egnn", "tetris_mlp", "tetris_gnn"]
BASELINES = {"gnn", "tetris_mlp", "tetris_gnn"}
E3NN = {"tfn", "tetris_tfn"}
SMALL = {  # overrides that keep the tests fast; the architecture is unchanged
    "egnn": {"hidden": 16, "layers": 2},
    "gnn": {"hidden": 16, "layers": 2},
    "radial_field": {"hidden": 16, "layers": 2},
    "tfn": {"channels": 2, "layers": 2, "lmax": 1},
    "linear_dynamics": {},
    "tetris_tfn": {"channels": 1, "layers": 3, "lmax": 1},
    "tetris_egnn": {"hidden": 8, "layers": 2},
    "tetris_mlp": {"hidden": 8},
    "tetris_gnn": {"hidden": 8, "layers": 2},
}


@pytest.fixture
def float64_default() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _nbody_graph(seed: int, n: int = 5, dtype=torch.float32) -> Data:
    gen = torch.Generator().manual_seed(seed)
    charge = torch.randint(0, 2, (n, 1), generator=gen).to(dtype) * 2 - 1
    edge_index = fully_connected_graph(n)
    return Data(
        pos=torch.randn(n, 3, generator=gen, dtype=dtype),
        vel=torch.randn(n, 3, generator=gen, dtype=dtype),
        charge=charge,
        edge_index=edge_index,
        edge_attr=charge[edge_index[0]] * charge[edge_index[1]],
    )


def _tetris_graph(seed: int, dtype=torch.float32) -> Data:
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(4, 3, generator=gen, dtype=dtype) + 2 * torch.rand(1, 3, generator=gen)
    return Data(pos=pos, x=torch.ones(4, 1, dtype=dtype), edge_index=fully_connected_graph(4))


def _graphs(name: str, count: int = 3, dtype=torch.float32) -> list[Data]:
    make = _nbody_graph if name in NBODY else _tetris_graph
    return [make(seed, dtype=dtype) for seed in range(count)]


def _model(name: str, **extra):
    torch.manual_seed(0)
    return build(name, **{**SMALL[name], **extra})


@functools.cache
def _shared(name: str):
    """One model per name for the tests that only call it (e3nn modules are slow to build)."""
    return _model(name)


def test_registry_lists_the_graph_models() -> None:
    assert set(NBODY + TETRIS) <= set(names("graph"))
    for name in NBODY + TETRIS:
        assert info(name).kind == "graph"
        assert (info(name).group == "none") == (name in BASELINES)
    assert info("egnn").baseline == "gnn" and info("tetris_tfn").baseline == "tetris_mlp"


def test_published_sizes() -> None:
    """Published widths (docs/published.md §4b, §6) and parameter-matched tetris baselines."""
    egnn = build("egnn")
    assert len(egnn.layers) == 4 and egnn.layers[0].hidden == 64
    assert len(build("gnn").layers) == 4
    assert parameter_count(build("linear_dynamics")) == 1
    tfn, mlp = parameter_count(build("tetris_tfn")), parameter_count(build("tetris_mlp"))
    eg, gnn = parameter_count(build("tetris_egnn")), parameter_count(build("tetris_gnn"))
    assert abs(tfn - mlp) / tfn < 0.05 and abs(eg - gnn) / eg < 0.05


@pytest.mark.parametrize("name", NBODY + TETRIS)
def test_equivariance_on_a_batch(name: str) -> None:
    model = _shared(name)
    batch = Batch.from_data_list(_graphs(name))
    errors = equivariance_error(model, x=batch)  # E(3): rotations, reflections, translations
    assert errors["permutation:output"] < 1e-5  # every model is permutation-equivariant
    if name in BASELINES:
        assert errors["output"] > 0.05, "a plain baseline must not pass the equivariance check"
    else:
        assert errors["output"] < 1e-5


@pytest.mark.parametrize("name", NBODY + TETRIS)
def test_equivariance_check_runs_without_arguments(name: str) -> None:
    errors = equivariance_error(_shared(name))  # what `symml check MODEL` runs
    assert (errors["output"] > 0.05) if name in BASELINES else (errors["output"] < 1e-5)


@pytest.mark.parametrize("name", sorted(set(NBODY + TETRIS) - BASELINES))
def test_equivariance_in_float64(name: str, float64_default) -> None:
    model = _model(name)  # built in float64: e3nn keeps its constants in the default dtype
    batch = Batch.from_data_list(_graphs(name, dtype=torch.float64))
    assert_equivariant(model, x=batch, dtype=torch.float64)


@pytest.mark.parametrize("name", NBODY + TETRIS)
def test_batch_equals_each_graph_alone(name: str) -> None:
    model = _shared(name)
    graphs = _graphs(name)
    together = model(Batch.from_data_list(graphs))
    alone = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NBODY + TETRIS)
def test_gradcheck_float64(name: str, float64_default) -> None:
    model = _model(name)
    data = _graphs(name, count=1, dtype=torch.float64)[0]
    if name in NBODY:
        data.pos, data.vel = data.pos[:4].clone(), data.vel[:4].clone()
        data.edge_index = fully_connected_graph(4)
        data.edge_attr = torch.ones(12, 1)
        inputs = (data.pos.requires_grad_(), data.vel.requires_grad_())
    else:
        inputs = (data.pos.requires_grad_(),)

    def f(pos, vel=None):
        moved = data.clone()
        moved.pos = pos
        if vel is not None:
            moved.vel = vel
        return model(moved)

    assert torch.autograd.gradcheck(f, inputs, fast_mode=True)


@pytest.mark.parametrize("name", NBODY + TETRIS)
def test_state_dict_and_pickle_round_trip(name: str) -> None:
    model = _model(name)
    batch = Batch.from_data_list(_graphs(name))
    expected = model(batch)
    fresh = build(name, **SMALL[name])
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(fresh(batch), expected, rtol=0, atol=0)
    torch.testing.assert_close(pickle.loads(pickle.dumps(model))(batch), expected)
    assert model.state_dict().keys() == copy.deepcopy(model).eval().state_dict().keys()


# torch.compile imports inductor, which defines TorchScript classes (deprecated in torch 2.13), and
# dynamo instantiates the autograd.Function it traces (deprecated too): warnings inside torch.
@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_torch_compile_matches_eager_for_egnn() -> None:
    model = _model("egnn", hidden=8, layers=2)
    batch = Batch.from_data_list(_graphs("egnn", count=2))
    compiled = torch.compile(model, fullgraph=True)  # one graph: no breaks anywhere
    eager = model(batch)
    out = compiled(batch)
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)
    (grad_compiled,) = torch.autograd.grad(out.square().sum(), model.embedding.weight)
    (grad_eager,) = torch.autograd.grad(eager.square().sum(), model.embedding.weight)
    torch.testing.assert_close(grad_compiled, grad_eager, rtol=1e-4, atol=1e-6)


def test_on_the_nbody_dataset() -> None:
    dataset = build_dataset("nbody_charged", "test", size=4)
    batch = Batch.from_data_list([dataset[i] for i in range(4)])
    model = _shared("egnn")
    assert model(batch).shape == batch.y.shape
    assert_equivariant(model, *dataset.reps(), x=batch)
    linear = build("linear_dynamics")
    torch.testing.assert_close(linear(batch), batch.pos + 0.7 * batch.vel)


def test_on_the_tetris_dataset() -> None:
    dataset = build_dataset("tetris3d", "test", count=1, reflect=True, translate=True)
    batch = Batch.from_data_list([dataset[i] for i in range(8)])
    rep_in, rep_out = dataset.reps(E(3))
    model = _shared("tetris_tfn")
    assert model(batch).shape == (8, 8)
    assert_equivariant(model, rep_in, rep_out, x=batch)  # the dataset's own label rep


def test_label_rep_matches_the_dataset() -> None:
    g = E(3).sample(6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(label_rep(E(3))(g), data_label_rep(E(3))(g))


@pytest.mark.parametrize("name", ["egnn", "radial_field", "tfn", "gnn"])
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.__delattr__("vel"), "with `vel`"),
        (lambda d: setattr(d, "pos", d.pos[:, :2]), r"pos and vel of shape \[N, 3\]"),
        (lambda d: setattr(d, "pos", d.pos * float("nan")), "NaN"),
        (lambda d: setattr(d, "edge_index", d.edge_index + 100), "refers to nodes"),
        (lambda d: setattr(d, "edge_index", d.edge_index[0]), r"shape \[2, E\]"),
    ],
    ids=["no_vel", "2d_pos", "nan_pos", "edge_out_of_range", "edge_shape"],
)
def test_nbody_bad_inputs(name: str, change, match: str) -> None:
    data = _nbody_graph(0)
    del data.edge_attr
    change(data)
    with pytest.raises(ValueError, match=match):
        _shared(name)(data)


@pytest.mark.parametrize("name", TETRIS)
def test_tetris_bad_inputs(name: str) -> None:
    data = _tetris_graph(0)
    data.pos = data.pos[:, :2]
    with pytest.raises(ValueError, match=r"pos of shape \[N, 3\] \(got \[4, 2\]\)"):
        _shared(name)(data)
