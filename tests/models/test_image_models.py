"""Registered image models: published parameter counts, invariant logits under every exact grid
transformation of 28×28 inputs (and the plain baselines failing the same check), steerable
models on C8 / D8 / SO(2) / O(2), export, torch.compile, serialisation and bad input."""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from symml.groups import O2, SO2, Cyclic, Dihedral
from symml.models import build, info, names, parameter_count
from symml.models.image_steerable import BASE_WIDTHS, layer_widths
from symml.nn import GatedNonlinearity, NormNonlinearity, PointwiseNonlinearity
from symml.nn._types import is_trivial, parts
from symml.nn.cnn import is_plain
from symml.reps import GridRep, trivial
from symml.testing import assert_equivariant, equivariance_error

IMAGE_MODELS = [
    "z2cnn",
    "p4cnn",
    "p4cnn_rotation_pooling",
    "p4mcnn",
    "steerable_cnn",
    "cnn",
    "cnn_channel_matched",
]
SMALL = (4, 4, 4, 4, 4, 4)  # steerable_cnn / cnn widths that keep these tests fast
# small versions of the heavy models, for checks that do not need the published widths
OVERRIDES: dict[str, dict[str, object]] = {
    "steerable_cnn": {"group": "C4", "widths": SMALL},
    "cnn": {"widths": (8, 8, 8, 8, 8, 8)},
    "cnn_channel_matched": {"group": "C4", "widths": SMALL},
}
EQUIVARIANT = ["p4cnn", "p4cnn_rotation_pooling", "p4mcnn", "steerable_cnn"]
BASELINES = ["z2cnn", "cnn", "cnn_channel_matched"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # small tensors: a second intra-op thread only adds wake-up latency on a loaded machine
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _build(name: str, **extra: object) -> nn.Module:
    torch.manual_seed(0)
    return build(name, **{**OVERRIDES.get(name, {}), **extra})


def _warm(model: nn.Module, size: int = 28) -> nn.Module:
    """A few training batches so batch norm has non-trivial running statistics; then eval."""
    model.train()
    with torch.no_grad():
        for seed in range(3):
            gen = torch.Generator().manual_seed(seed)
            model(1 + 2 * torch.randn(8, model.in_channels, size, size, generator=gen))
    return model.eval()


def test_registry_lists_every_image_model_with_its_baseline() -> None:
    assert set(IMAGE_MODELS) <= set(names("image"))
    for name in EQUIVARIANT:
        assert info(name).baseline in BASELINES
    assert info("p4cnn").group == "p4" and info("p4mcnn").group == "p4m"
    assert all(info(name).baseline is None for name in BASELINES)


@pytest.mark.parametrize(
    ("name", "count"),
    [("z2cnn", 21_750), ("p4cnn", 24_680), ("p4cnn_rotation_pooling", 21_750), ("cnn", 1_683_770)],
)
def test_published_parameter_counts(name: str, count: int) -> None:
    assert parameter_count(build(name)) == count


def test_p4mcnn_is_parameter_matched_to_p4cnn() -> None:
    p4m, p4 = parameter_count(build("p4mcnn")), parameter_count(build("p4cnn"))
    assert abs(p4m - p4) / p4 < 0.1


def test_fixparams_rescales_the_middle_layers() -> None:
    assert layer_widths(Cyclic(16), True) == BASE_WIDTHS == layer_widths(Dihedral(8), True)
    assert layer_widths(Cyclic(4), True) == (16, 48, 64, 64, 96, 64)  # C / √(4/16)
    assert layer_widths(Cyclic(4), False) == BASE_WIDTHS
    assert layer_widths(SO2(), True, maximum_frequency=3) == (16, 36, 48, 48, 73, 64)  # d = 7


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_equivariance_error_runs_without_arguments(name: str) -> None:
    model = _build(name).eval()
    errors = equivariance_error(model)  # 28×28 default input, every exact grid element
    if name in EQUIVARIANT:
        assert errors["output"] < 1e-5
    else:
        assert errors["output"] > 1e-3  # the plain baselines are not invariant


@pytest.mark.parametrize("name", ["p4cnn", "p4mcnn", "p4cnn_rotation_pooling"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_logits_are_invariant_under_every_grid_transformation(name: str, training: bool) -> None:
    model = _warm(_build(name)).train(training)
    group = model.group
    assert group == (Dihedral(4) if name == "p4mcnn" else Cyclic(4))
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    errors = assert_equivariant(model, x=x, elements=group.elements())  # all 4 / 8 elements
    assert errors["output"] < 1e-5


def test_the_planar_baseline_fails_the_same_check() -> None:
    model = _warm(_build("z2cnn"))
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(model, x=x)


def _smooth_digits(size: int = 28) -> torch.Tensor:
    """Smooth blobs inside a disc, so rotations by any angle keep them in the image."""
    x = torch.randn(2, 1, size, size, generator=torch.Generator().manual_seed(2))
    x = F.avg_pool2d(F.avg_pool2d(x, 5, 1, 2), 5, 1, 2) * 25
    c = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij")
    return x * torch.exp(-(xx**2 + yy**2) / (2 * (size / 6) ** 2))


@pytest.mark.parametrize("group", ["C8", "D8", "SO2", "O2"])
def test_steerable_cnn_is_invariant_to_quarter_turns_and_flips(group: str) -> None:
    model = _warm(_build("steerable_cnn", group=group, widths=(2, 2, 2, 2, 2, 2)))
    x = _smooth_digits()
    exact = assert_equivariant(model, x=x, atol=1e-4)  # 90° turns (and flips for D8 / O(2))
    # other angles resample the image: approximate (benchmarks/bench_cnn.py reports the error
    # of the full-width models); 45° steps for C8 / D8, random angles for SO(2) / O(2)
    point = model.group
    if point.order is not None:
        others = point.elements()
    else:
        others = point.sample(8, generator=torch.Generator().manual_seed(0))
    approximate = equivariance_error(model, x=x, elements=others, interpolation=True)
    assert 100 * exact["output"] < approximate["output"] < 0.5


def test_export_is_plain_and_computes_the_same_logits() -> None:
    for name in ["p4cnn", "p4mcnn", "p4cnn_rotation_pooling", "steerable_cnn", "z2cnn"]:
        model = _warm(_build(name))
        plain = model.export()
        assert is_plain(plain), name
        x = torch.randn(3, 1, 28, 28)
        with torch.no_grad():
            torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-5)
    program = torch.export.export(_warm(_build("p4cnn")).export(), (x,))
    assert program.module()(x).shape == (3, 10)


def test_steerable_models_on_continuous_groups_export_too() -> None:
    for group, act in [("SO2", "norm"), ("O2", "gated")]:
        model = _warm(_build("steerable_cnn", group=group, nonlinearity=act, widths=SMALL))
        x = _smooth_digits()
        plain = model.export()
        assert is_plain(plain)
        with torch.no_grad():
            torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-5)


def test_steerable_nonlinearities_follow_the_family_convention() -> None:
    """Weiler & Cesa's SO(2) model: in layers 1-5, norm-ReLU ``f·relu(‖f‖ + b)/‖f‖`` on the
    non-scalar fields and ELU on the frequency-0 ones; layer 6 a conv to scalar fields, batch
    norm and ELU. For the gated O(2) model, gates first, one per non-scalar field, and ELU on
    the scalar fields."""
    norm = _build("steerable_cnn", group="SO2", widths=SMALL)
    acts = [m for m in norm.features if isinstance(m, NormNonlinearity)]
    assert len(acts) == 5 and all(a.activation == "relu" and a.bias is not None for a in acts)
    assert all(a.scalar_activation == "elu" for a in acts)
    last = [m for m in norm.features if isinstance(m, PointwiseNonlinearity)]
    assert len(last) == 1 and last[0].rep_out == GridRep(4 * trivial(SO2()))
    gated_model = _build("steerable_cnn", group="O2", nonlinearity="gated", widths=SMALL)
    gates = [m for m in gated_model.features if isinstance(m, GatedNonlinearity)]
    assert len(gates) == 5 and all(g.activation == "elu" for g in gates)
    for gate in gates:
        non_scalar = sum(not is_trivial(f) for f in parts(gate.fibre))
        assert gate.rep_in == GridRep(non_scalar * trivial(O2()) + gate.fibre)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_torch_compile_matches_eager(training: bool) -> None:
    # aot_eager runs dynamo and AOTAutograd (what inductor builds on) without C++ codegen, which
    # takes ~30 s here; benchmarks/bench_cnn.py compiles p4cnn with inductor and compares
    model = _warm(_build("p4cnn")).train(training)
    compiled = torch.compile(model, backend="aot_eager")
    x = torch.randn(4, 1, 28, 28, requires_grad=training)
    if training:
        state = copy.deepcopy(model.state_dict())
        y_eager = model(x)
        grads_eager = torch.autograd.grad(y_eager.sum(), [x, *model.parameters()])
        model.load_state_dict(state)  # batch norm's running statistics moved
        y = compiled(x)
        grads = torch.autograd.grad(y.sum(), [x, *model.parameters()])
        for a, b in zip(grads, grads_eager, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    else:
        with torch.no_grad():
            y_eager, y = model(x), compiled(x)
    torch.testing.assert_close(y, y_eager, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["p4cnn", "steerable_cnn"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_pickle_deepcopy_and_state_dict_round_trip(name: str, training: bool) -> None:
    model = _warm(_build(name)).train(training)
    keys = list(model.state_dict())
    assert list(model.train(not training).state_dict()) == keys  # same keys in both modes
    model.train(training)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = copy.deepcopy(model)(x)  # train mode moves running stats: run on copies
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        buffer.seek(0)
        fresh = _build(name)
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        fresh.train(training)
        for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), fresh):
            torch.testing.assert_close(other(x), expected)


def test_float64_models() -> None:
    model = _warm(_build("p4mcnn")).double()
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64)
    assert model(x).dtype == torch.float64
    assert_equivariant(model, x=x, dtype=torch.float64)


def test_channel_matched_baseline_has_the_steerable_feature_size() -> None:
    steerable = _build("steerable_cnn", widths=(1, 2, 3, 4, 5, 6))
    plain = _build("cnn_channel_matched", widths=(1, 2, 3, 4, 5, 6))
    convs = [m for m in plain.features if isinstance(m, nn.Conv2d)]
    fields = [m for m in steerable.features if type(m).__name__ == "SteerableConv2d"]
    assert [c.out_channels for c in convs] == [f.out_channels for f in fields]


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("p4cnn", {"channels": 0}, r"p4cnn: expected an integer channels >= 1 \(got 0\)"),
        ("z2cnn", {"dropout": 1.5}, r"z2cnn: expected dropout in \[0, 1\) \(got 1.5\)"),
        ("steerable_cnn", {"group": "SO3"}, r"steerable_cnn: expected a planar group"),
        (
            "steerable_cnn",
            {"group": "SO2", "nonlinearity": "elu"},
            r"nonlinearity in \['norm', 'gated'\]",
        ),
        ("steerable_cnn", {"widths": (1, 2)}, r"expected widths as 6 positive integers"),
        ("cnn", {"widths": (8, 8, 8, 8, 8, 0)}, r"expected widths as 6 positive integers"),
        ("p4mcnn", {"depth": 3}, r"unknown option\(s\) \['depth'\]"),
    ],
)
def test_bad_options_raise_clear_errors(name: str, options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(name, **options)


def test_bad_inputs_raise_clear_errors() -> None:
    model = _build("p4cnn")
    with pytest.raises(
        ValueError, match=r"expected images of shape \[B, 1, H, W\] \(got \[2, 3, 28, 28\]\)"
    ):
        model(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"at least 28×28 pixels \(got 15×15\)"):
        model(torch.randn(2, 1, 15, 15))
    assert model(torch.randn(1, 1, 40, 40)).shape == (1, 10)  # larger images: global max pool
