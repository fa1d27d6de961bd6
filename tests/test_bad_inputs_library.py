"""Bad library inputs get a one-line error naming what was wrong, where, and the fix.

A table of mistakes a user makes through the Python API (models, layers, groups, reps, graph and
image data), each replayed with the exception type and message it must raise; and, for every
registered model, each integer size option set to 0, -1 and a string.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch_geometric.data import Batch, Data

from symml.groups import Cyclic, O, group_from_name
from symml.models import build, names
from symml.models.emlp import EMLP
from symml.models.registry import _builder
from symml.nn import NormNonlinearity, PointwiseNonlinearity, gated
from symml.nn.cnn import (
    ConvGeometry,
    EquivariantBatchNorm,
    FilterExpansion,
    GroupConv2d,
    SpatialAvgPool2d,
    SpatialMaxPool2d,
)
from symml.nn.gnn import (
    EGNNConv,
    GNNConv,
    RadialFieldConv,
    SchNetConv,
    TensorFieldConv,
    fully_connected_graph,
)
from symml.nn.gnn.egnn import EGNNOptions
from symml.reps import decompose, intertwiners, regular, standard, trivial
from symml.reps.intertwiners import MAX_REP_DIM, MAX_SOLVE_UNKNOWNS

# ----- shared inputs ---------------------------------------------------------------------------


@functools.cache
def _model(name: str, **options: Any) -> torch.nn.Module:
    """Small models, built once: these tests only call them on bad inputs."""
    small: dict[str, dict[str, Any]] = {
        "egnn": {"hidden": 8, "layers": 2},
        "tetris_egnn": {"hidden": 8, "layers": 2},
        "emlp": {"hidden": 16, "num_layers": 1},
        "mlp": {"hidden": 16, "num_layers": 1},
    }
    torch.manual_seed(0)
    return build(name, **{**small.get(name, {}), **options}).eval()


def _nbody(n: int = 4, **fields: Any) -> Data:
    data = Data(
        pos=torch.randn(n, 3),
        vel=torch.randn(n, 3),
        charge=torch.ones(n, 1),
        edge_index=fully_connected_graph(n),
    )
    for key, value in fields.items():
        setattr(data, key, value)
    return data


def _tetris(n: int = 4, **fields: Any) -> Data:
    data = Data(pos=torch.randn(n, 3), x=torch.ones(n, 1), edge_index=fully_connected_graph(n))
    for key, value in fields.items():
        setattr(data, key, value)
    return data


def _with_nan(shape: tuple[int, ...], value: float = math.nan) -> torch.Tensor:
    t = torch.randn(*shape)
    t.view(-1)[1] = value
    return t


def _empty_in_batch() -> Batch:
    """A batch of two shapes where the second has no points (a filtering bug upstream)."""
    return Batch.from_data_list([_tetris(4), _tetris(0, x=torch.ones(0, 1))])


# ----- the table -------------------------------------------------------------------------------

Case = tuple[str, Callable[[], object], type[Exception], str]

CASES: list[Case] = [
    # 1. models that cannot be
    (
        "egnn_layers_0",
        lambda: build("egnn", layers=0),
        ValueError,
        r"^EGNNDynamics: expected an integer layers >= 1 \(got 0\)$",
    ),
    (
        "egnn_layers_negative",
        lambda: build("egnn", layers=-1),
        ValueError,
        r"^EGNNDynamics: expected an integer layers >= 1 \(got -1\)$",
    ),
    (
        "egnn_hidden_string",
        lambda: build("egnn", hidden="abc"),
        ValueError,
        r"EGNNDynamics: expected an integer hidden >= 1 \(got 'abc'\)",
    ),
    (
        "egnn_hidden_list",
        lambda: build("egnn", hidden=["abc", 16]),
        ValueError,
        r"EGNNDynamics: expected an integer hidden >= 1 \(got \['abc', 16\]\)",
    ),
    (
        "egnn_attention_string",
        lambda: build("egnn", attention="false"),
        ValueError,
        r"EGNNDynamics: expected attention as True or False \(got 'false'\)",
    ),
    (
        "emlp_hidden_string",
        lambda: build("emlp", hidden="abc"),
        ValueError,
        r"EMLP: expected hidden as an integer channel budget >= 1 or a Rep of Orthogonal\(5\) "
        r"\(got 'abc'\)",
    ),
    (
        "emlp_hidden_list",
        lambda: build("emlp", hidden=["abc", 16]),
        ValueError,
        r"EMLP: expected hidden as an integer .* \(got \['abc', 16\]\)",
    ),
    (
        "emlp_hidden_bool",
        lambda: build("emlp", hidden=True),
        ValueError,
        r"EMLP: expected hidden as an integer .* \(got True\)",
    ),
    (
        "emlp_hidden_rep_of_another_group",
        lambda: EMLP(standard(O(3)), trivial(O(3)), hidden=standard(O(5))),
        ValueError,
        r"EMLP: expected hidden as a representation of O3\(\), the group of rep_in",
    ),
    (
        "mlp_hidden_float",
        lambda: build("mlp", hidden=2.5),
        ValueError,
        r"MLP: expected an integer hidden >= 1 \(got 2.5\)",
    ),
    (
        "z2cnn_dropout_1",
        lambda: build("z2cnn", dropout=1.0),
        ValueError,
        r"z2cnn: expected dropout in \[0, 1\) \(got 1.0\)",
    ),
    (
        "z2cnn_dropout_string",
        lambda: build("z2cnn", dropout="0.3"),
        ValueError,
        r"z2cnn: expected dropout in \[0, 1\) \(got '0.3'\)",
    ),
    (
        "steerable_fixparams_string",
        lambda: build("steerable_cnn", group="C4", fixparams="no"),
        ValueError,
        r"steerable_cnn: expected fixparams as True or False \(got 'no'\)",
    ),
    (
        "cnn_channel_matched_maximum_frequency",
        lambda: build("cnn_channel_matched", maximum_frequency="abc"),
        ValueError,
        r"cnn_channel_matched: expected an integer maximum_frequency >= 0 \(got 'abc'\)",
    ),
    (
        "tetris_tfn_two_layers",
        lambda: build("tetris_tfn", layers=2),
        ValueError,
        r"TetrisTFN: expected an integer layers >= 3 \(got 2\)",
    ),
    (
        "tetris_tfn_lmax_0",
        lambda: build("tetris_tfn", lmax=0),
        ValueError,
        r"TetrisTFN: expected an integer lmax >= 1 \(got 0\)",
    ),
    (
        "tfn_max_radius_0",
        lambda: build("tfn", max_radius=0.0),
        ValueError,
        r"TFNDynamics: expected a finite max_radius > 0 \(got 0.0\)",
    ),
    (
        "linear_dynamics_t_nan",
        lambda: build("linear_dynamics", t=math.nan),
        ValueError,
        r"LinearDynamics: expected a finite t \(got nan\)",
    ),
    (
        "emlp_bad_group_name",
        lambda: build("emlp", group="O7x"),
        ValueError,
        r"group_from_name: expected a product <A>x<B> of group names \(got 'O7x'",
    ),
    # 1. layers
    (
        "max_pool_kernel_0",
        lambda: SpatialMaxPool2d(regular(Cyclic(4)), 0),
        ValueError,
        r"SpatialMaxPool2d: expected an integer kernel_size >= 1 \(got 0\)",
    ),
    (
        "avg_pool_padding_too_large",
        lambda: SpatialAvgPool2d(trivial(Cyclic(4)), 2, padding=2),
        ValueError,
        r"SpatialAvgPool2d: expected padding <= kernel_size // 2 = 1 \(got padding=2\)",
    ),
    (
        "avg_pool_stride_0",
        lambda: SpatialAvgPool2d(trivial(Cyclic(4)), 2, stride=0),
        ValueError,
        r"SpatialAvgPool2d: expected an integer stride >= 1 \(got 0\)",
    ),
    (
        "batchnorm_eps_0",
        lambda: EquivariantBatchNorm(regular(Cyclic(4)), eps=0.0),
        ValueError,
        r"EquivariantBatchNorm: expected a finite eps > 0 \(got 0.0\)",
    ),
    (
        "batchnorm_momentum_2",
        lambda: EquivariantBatchNorm(regular(Cyclic(4)), momentum=2.0),
        ValueError,
        r"EquivariantBatchNorm: expected momentum in \[0, 1\] \(got 2.0\)",
    ),
    (
        "filter_expansion_fields_0",
        lambda: FilterExpansion(Cyclic(4), in_fields=0, kernel_size=3),
        ValueError,
        r"FilterExpansion: expected an integer in_fields >= 1 \(got 0\)",
    ),
    (
        "filter_expansion_group_name",
        lambda: FilterExpansion("SO3", in_fields=1, kernel_size=3),
        ValueError,
        r"FilterExpansion: expected a planar group",
    ),
    (
        "group_conv_kernel_0",
        lambda: GroupConv2d("p4", 4, 4, 0),
        ValueError,
        r"GroupConv2d: expected an integer kernel_size >= 1 \(got 0\)",
    ),
    (
        "conv_geometry_padding_mode",
        lambda: ConvGeometry(3, padding_mode="reflect"),
        ValueError,
        r"ConvGeometry: expected padding_mode in \['zeros', 'circular'\] \(got 'reflect'\)",
    ),
    (
        "group_conv_padding_beside_geometry",
        lambda: GroupConv2d("p4", 4, 4, ConvGeometry(3), padding=1),
        ValueError,
        r"GroupConv2d: expected the padding inside the ConvGeometry \(got padding=1 beside "
        r"ConvGeometry\(kernel_size=3\)\); write ConvGeometry\(\.\.\., padding=1\)",
    ),
    (
        "egnn_conv_edge_dim_string",
        lambda: EGNNConv(4, edge_dim="1"),  # type: ignore[arg-type]
        ValueError,
        r"EGNNConv: expected an integer edge_dim >= 0 \(got '1'\)",
    ),
    (
        "egnn_conv_clamp_string",
        lambda: EGNNConv(4, options=EGNNOptions(clamp="big")),  # type: ignore[arg-type]
        ValueError,
        r"EGNNConv: expected a finite clamp > 0 or None \(got 'big'\)",
    ),
    (
        "gnn_conv_edge_dim_negative",
        lambda: GNNConv(4, edge_dim=-2),
        ValueError,
        r"GNNConv: expected an integer edge_dim >= 0 \(got -2\)",
    ),
    (
        "schnet_cutoff_inf",
        lambda: SchNetConv(4, cutoff=math.inf),
        ValueError,
        r"SchNetConv: expected a finite cutoff > 0 \(got inf\)",
    ),
    (
        "tensor_field_aggr",
        lambda: TensorFieldConv("1x0e", "1x0e", aggr="max"),  # type: ignore[arg-type]
        ValueError,
        r"TensorFieldConv: expected aggr in \['mean', 'sum'\] \(got 'max'\)",
    ),
    (
        "gated_not_a_rep",
        lambda: gated("V"),  # type: ignore[arg-type]
        TypeError,
        r"gated: expected rep to be a symml Rep \(vector features\), e\.g\. 2 \* "
        r"standard\(O\(3\)\), or a GridRep \(image fields\) \(got str 'V'\)",
    ),
    (
        "pointwise_activation_callable",
        lambda: PointwiseNonlinearity(regular(Cyclic(4)), torch.relu),  # type: ignore[arg-type]
        TypeError,
        r"PointwiseNonlinearity: expected activation as a name in \['relu', 'elu', .*\] \(got "
        r"builtin_function_or_method <built-in method relu .*\); pass the name, e\.g\. "
        r"activation='relu'",
    ),
    (
        "norm_activation_unknown",
        lambda: NormNonlinearity(regular(Cyclic(4)), "swish"),
        ValueError,
        r"NormNonlinearity: expected activation in \['relu', 'elu', .*\] \(got 'swish'\)",
    ),
    # 2. group names: the message quotes what the user typed
    (
        "group_trailing_x",
        lambda: group_from_name("O7x"),
        ValueError,
        r"group_from_name: expected a product <A>x<B> of group names \(got 'O7x', which has an "
        r"empty factor\); e\.g\. O3xC4\. Accepted names: trivial, C<n>",
    ),
    (
        "group_double_x",
        lambda: group_from_name("O3xxC4"),
        ValueError,
        r"\(got 'O3xxC4', which has an empty factor\)",
    ),
    (
        "group_only_x",
        lambda: group_from_name("x"),
        ValueError,
        r"\(got 'x', which has an empty factor\)",
    ),
    (
        "group_lower_case",
        lambda: group_from_name("so3"),
        ValueError,
        r"unknown group name 'so3' \(did you mean 'SO3'\?\); expected one of: trivial",
    ),
    (
        "group_spaces_in_product",
        lambda: group_from_name("O3 x C4"),
        ValueError,
        r"unknown group name 'O3 ' in 'O3 x C4' \(did you mean 'O3'\?\)",
    ),
    (
        "group_size_0_in_product",
        lambda: group_from_name("O3xC0"),
        ValueError,
        r"group_from_name: 'C0' in 'O3xC0' is not a valid group: Cyclic: expected an integer "
        r"n >= 1 \(got 0\)",
    ),
    (
        "group_E0_names_E0",
        lambda: group_from_name("E0"),
        ValueError,
        r"group_from_name: 'E0' is not a valid group",
    ),
    (
        "group_non_ascii_digit",
        lambda: group_from_name("C\u0663"),
        ValueError,
        r"unknown group name 'C\u0663'",
    ),
    (
        "group_empty",
        lambda: group_from_name(""),
        ValueError,
        r"group_from_name: unknown group name ''; expected one of: trivial, C<n>",
    ),
    (
        "group_not_a_string",
        lambda: group_from_name(4),  # type: ignore[arg-type]
        TypeError,
        r"group_from_name: expected a group name string such as 'C4' or 'O3' \(got int 4\)",
    ),
    # 3. graph inputs: the field that is wrong, by name
    (
        "nan_vel",
        lambda: _model("egnn")(_nbody(vel=_with_nan((4, 3)))),
        ValueError,
        r"^EGNNDynamics: expected finite vel \(got NaN or infinite values in vel\); clean the "
        r"data or drop those samples$",
    ),
    (
        "inf_charge",
        lambda: _model("egnn")(_nbody(charge=_with_nan((4, 1), math.inf))),
        ValueError,
        r"EGNNDynamics: expected finite charge",
    ),
    (
        "nan_edge_attr",
        lambda: _model("egnn")(_nbody(edge_attr=_with_nan((12, 1)))),
        ValueError,
        r"EGNNDynamics: expected finite edge_attr",
    ),
    (
        "edge_attr_wrong_width",
        lambda: _model("egnn")(_nbody(edge_attr=torch.ones(12, 3))),
        ValueError,
        r"EGNNDynamics: expected edge_attr of shape \[E, 1\] with E = 12 edges \(got \[12, 3\]\)",
    ),
    (
        "charge_wrong_count",
        lambda: _model("egnn")(_nbody(charge=torch.ones(3, 1))),
        ValueError,
        r"EGNNDynamics: expected charge of shape \[N, 1\] with N = 4 nodes \(got \[3, 1\]\)",
    ),
    (
        "nan_node_features",
        lambda: _model("tetris_egnn")(_tetris(x=_with_nan((4, 1)))),
        ValueError,
        r"TetrisEGNN: expected finite x \(got NaN",
    ),
    (
        "node_features_wrong_count",
        lambda: _model("tetris_egnn")(_tetris(x=torch.ones(5, 1))),
        ValueError,
        r"TetrisEGNN: expected node features x of shape \[N, 1\] with N = 4 nodes \(got \[5, 1\]\)",
    ),
    (
        "empty_shape",
        lambda: _model("tetris_egnn")(_tetris(0, x=torch.ones(0, 1))),
        ValueError,
        r"TetrisEGNN: expected a graph with at least one node \(got pos of shape \[0, 3\]\)",
    ),
    (
        "empty_shape_in_batch",
        lambda: _model("tetris_egnn")(_empty_in_batch()),
        ValueError,
        r"TetrisEGNN: expected every graph of the batch to have a node \(got graph 1 of 2 with "
        r"none\)",
    ),
    (
        "layer_nan_vel",
        lambda: EGNNConv(4, hidden=8, velocity=True)(
            torch.randn(4, 4), torch.randn(4, 3), fully_connected_graph(4), vel=_with_nan((4, 3))
        ),
        ValueError,
        r"EGNNConv: expected finite vel \(got NaN",
    ),
    (
        "layer_rf_nan_vel",
        lambda: RadialFieldConv(8, velocity=True)(
            torch.randn(4, 3), fully_connected_graph(4), vel=_with_nan((4, 3))
        ),
        ValueError,
        r"RadialFieldConv: expected finite vel \(got NaN",
    ),
    # 4. dtype / device mismatches: both named, with the fix
    (
        "image_float64",
        lambda: _model("z2cnn")(torch.randn(2, 1, 28, 28, dtype=torch.float64)),
        TypeError,
        r"^ImageClassifier: expected x of the model's dtype torch\.float32 \(got torch\.float64\); "
        r"convert the input with x\.float\(\) or the model with model\.double\(\)$",
    ),
    (
        "image_meta",
        lambda: _model("z2cnn")(torch.randn(2, 1, 28, 28, device="meta")),
        TypeError,
        r"^ImageClassifier: expected x on the model's device cpu \(got x on meta\); move the input "
        r"with x\.to\('cpu'\)$",
    ),
    (
        "graph_float64",
        lambda: _model("egnn")(_nbody(pos=torch.randn(4, 3).double())),
        TypeError,
        r"EGNNDynamics: expected data\.pos of the model's dtype torch\.float32 \(got "
        r"torch\.float64\); convert the input with data\.pos\.float\(\) or the model with "
        r"model\.double\(\)",
    ),
    (
        "graph_vel_float64",
        lambda: _model("egnn")(_nbody(vel=torch.randn(4, 3).double())),
        TypeError,
        r"EGNNDynamics: expected data\.vel of the model's dtype torch\.float32",
    ),
    (
        "graph_meta",
        lambda: _model("tetris_egnn")(
            _tetris(pos=torch.randn(4, 3, device="meta"), x=torch.ones(4, 1, device="meta"))
        ),
        TypeError,
        r"TetrisEGNN: expected data\.pos on the model's device cpu \(got data\.pos on meta\)",
    ),
    (
        "emlp_float64",
        lambda: _model("emlp")(torch.randn(3, 10, dtype=torch.float64)),
        TypeError,
        r"EMLP: expected x of the model's dtype torch\.float32 \(got torch\.float64\)",
    ),
    (
        "mlp_float64",
        lambda: _model("mlp")(torch.randn(3, 10, dtype=torch.float64)),
        TypeError,
        r"MLP: expected x of the model's dtype torch\.float32 \(got torch\.float64\)",
    ),
    (
        "mlp_wrong_width",
        lambda: _model("mlp")(torch.randn(3, 7)),
        ValueError,
        r"MLP: expected inputs \[\.\.\., 10\] for rep_in .* \(got \[3, 7\]\)",
    ),
    (
        "layer_float64",
        lambda: GNNConv(4, hidden=8)(torch.randn(4, 4).double(), fully_connected_graph(4)),
        TypeError,
        r"GNNConv: expected h of the model's dtype torch\.float32 \(got torch\.float64\)",
    ),
    # 5. NaN images
    (
        "nan_image",
        lambda: _model("z2cnn")(_with_nan((2, 1, 28, 28))),
        ValueError,
        r"^ImageClassifier: expected finite images \(got NaN or infinite values in images\)",
    ),
    (
        "inf_image",
        lambda: _model("z2cnn")(_with_nan((2, 1, 28, 28), -math.inf)),
        ValueError,
        r"ImageClassifier: expected finite images",
    ),
    # 6. huge representations: refused before anything large is allocated
    (
        "endomorphisms_of_regular_c300",
        lambda: intertwiners(regular(Cyclic(300)), regular(Cyclic(300))),
        ValueError,
        rf"^intertwiners: expected at most MAX_SOLVE_UNKNOWNS = {MAX_SOLVE_UNKNOWNS} unknowns "
        r"per block \(got 90000 for regular\(Cyclic\(300\)\) → regular\(Cyclic\(300\)\): a "
        r"90000² float64 system, 64\.8 GB\); write the reps as direct sums",
    ),
    (
        "decompose_regular_c500",
        lambda: decompose(regular(Cyclic(500))),
        ValueError,
        r"decompose: expected at most the work of one 4096-unknown solve \(got 251 candidate "
        r"irreps of Cyclic\(500\) against regular\(Cyclic\(500\)\) of dim 500, 3\.6× that\)",
    ),
    (
        "decompose_too_many_dimensions",
        lambda: decompose(regular(Cyclic(MAX_REP_DIM + 1))),
        ValueError,
        rf"decompose: expected a representation of dimension <= MAX_REP_DIM = {MAX_REP_DIM} "
        rf"\(got {MAX_REP_DIM + 1} for regular\(Cyclic\({MAX_REP_DIM + 1}\)\)\)",
    ),
    (
        "intertwiners_too_many_dimensions",
        lambda: intertwiners(trivial(Cyclic(10**6)), regular(Cyclic(10**6))),
        ValueError,
        r"intertwiners: expected representations of dimension <= MAX_REP_DIM = 4096 \(got "
        r"rep_out = regular\(Cyclic\(1000000\)\) of dimension 1000000\)",
    ),
    (
        "intertwiners_dense_basis_too_large",
        lambda: intertwiners(200 * trivial(Cyclic(2)), 200 * trivial(Cyclic(2))),
        ValueError,
        r"intertwiners: expected a basis of at most MAX_BASIS_ENTRIES = 134217728 entries \(got "
        r"40000 maps of 200×200, 12\.8 GB as float64\); build the layer with "
        r"symml\.nn\.EquivariantLinear",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_one_line_error(
    call: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value), "a one-line message"


# ----- point 1: every model, every integer size option ----------------------------------------

# integer options for which 0 is a valid value (a band limit, a largest degree)
ZERO_ALLOWED = {
    ("tfn", "lmax"),
    ("steerable_cnn", "maximum_frequency"),
    ("cnn_channel_matched", "maximum_frequency"),
}


def _size_options() -> list[tuple[str, str]]:
    """(model, option) for every integer option of every registered model, read from the
    builder's signature (an int default, bools excluded)."""
    found = []
    for name in names():
        for param in inspect.signature(_builder(name)).parameters.values():
            default = param.default
            if isinstance(default, int) and not isinstance(default, bool):
                found.append((name, param.name))
    return found


SIZE_OPTIONS = _size_options()


def test_every_model_has_size_options_to_check() -> None:
    # the discovery reads signatures; a refactor that hides them would silently test nothing
    assert {n for n, _ in SIZE_OPTIONS} >= set(names()) - {"linear_dynamics"}
    assert ("egnn", "layers") in SIZE_OPTIONS and ("emlp", "hidden") in SIZE_OPTIONS


@pytest.mark.parametrize(
    ("name", "option"), SIZE_OPTIONS, ids=[f"{n}.{o}" for n, o in SIZE_OPTIONS]
)
@pytest.mark.parametrize("value", [0, -1, "abc", 2.5])
def test_size_options_are_validated_when_built(name: str, option: str, value: object) -> None:
    if value == 0 and (name, option) in ZERO_ALLOWED:
        value = -1  # 0 is a valid band limit / degree there; -1 must still be refused
    with pytest.raises((ValueError, TypeError), match=rf"\b{re.escape(option)}\b") as info:
        build(name, **{option: value})
    message = str(info.value)
    assert "\n" not in message and repr(value) in message
    if value in (0, -1):
        assert info.type is ValueError


# ----- the valid edge cases the checks must let through -----------------------------------------


@pytest.mark.parametrize("name", ["egnn", "gnn", "radial_field", "linear_dynamics"])
def test_a_graph_without_nodes_gives_an_empty_prediction(name: str) -> None:
    # per-node outputs: an empty graph is a valid input with an empty answer
    data = _nbody(0, charge=torch.ones(0, 1))
    model = build(name, **({} if name == "linear_dynamics" else {"hidden": 8, "layers": 1}))
    assert model(data).shape == (0, 3)


@pytest.mark.parametrize(
    ("layer", "args", "shape"),
    [
        (lambda: EGNNConv(4, hidden=8), (torch.zeros(0, 4), torch.zeros(0, 3)), (0, 4)),
        (lambda: GNNConv(4, hidden=8), (torch.zeros(0, 4),), (0, 4)),
        (lambda: RadialFieldConv(8), (torch.zeros(0, 3),), (0, 3)),
        (lambda: SchNetConv(8), (torch.zeros(0, 8), torch.zeros(0, 3)), (0, 8)),
        (
            lambda: TensorFieldConv("1x0e", "2x0e + 1x1o"),
            (torch.zeros(0, 1), torch.zeros(0, 3)),
            (0, 5),
        ),
    ],
    ids=["EGNNConv", "GNNConv", "RadialFieldConv", "SchNetConv", "TensorFieldConv"],
)
def test_layers_map_an_empty_graph_to_an_empty_output(
    layer: Callable[[], torch.nn.Module], args: tuple[torch.Tensor, ...], shape: tuple[int, int]
) -> None:
    out = layer()(*args, torch.zeros(2, 0, dtype=torch.long))
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape == shape


def test_float64_models_take_float64_inputs() -> None:
    model = build("mlp", hidden=8, num_layers=1).double()
    assert model(torch.randn(2, 10, dtype=torch.float64)).dtype == torch.float64
    image = build("z2cnn").double().eval()
    assert image(torch.randn(1, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


def test_autocast_may_feed_lower_precision_inputs() -> None:
    # under autocast the ops cast for themselves: a bfloat16 input is not a mistake there
    model = build("mlp", hidden=8, num_layers=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(torch.randn(2, 10, dtype=torch.bfloat16)).shape == (2, 1)


def test_the_test_suites_representations_stay_under_the_limits() -> None:
    # the largest solves the library makes in normal use (EMLP on O(5) rank-2 tensors, O(3)
    # rank-3 tensors, regular fields of D8) are well inside the limits
    v5, v3 = standard(O(5)), standard(O(3))
    t2, t3 = v5.tensor(v5), v3.tensor(v3).tensor(v3)
    assert t2.dim**2 <= MAX_SOLVE_UNKNOWNS and t3.dim**2 <= MAX_SOLVE_UNKNOWNS
    assert intertwiners(t3, t3).shape[0] == 15  # dim End_O(3)(V⊗V⊗V): permutations + signs
    assert len(decompose(regular(Cyclic(64))).irreps) == 33
