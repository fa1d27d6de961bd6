"""SteerableConv2d: equivariant for fields of C_N, D_N, SO(2), O(2); the same function as an escnn
R2Conv written by hand with the same field types and weights; escnn's initialisation without
its loop; escnn imported only when needed, with a clear error when it is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from symml.groups import O2, SO2, SO3, Cyclic, Dihedral, Group
from symml.nn.cnn import SteerableConv2d, export, is_plain
from symml.reps import Rep, irrep, regular, standard, trivial
from symml.testing import assert_equivariant

escnn_nn = pytest.importorskip("escnn.nn")
gspaces = pytest.importorskip("escnn.gspaces")
escnn_init = pytest.importorskip("escnn.nn.init")


def _layers() -> list[tuple[str, Rep, Rep, int]]:
    c8, d8, so2, o2 = Cyclic(8), Dihedral(8), SO2(), O2()
    return [
        ("C8 lift", trivial(c8), 2 * regular(c8), 5),
        ("C8 mixed", regular(c8) + irrep(c8, 1), irrep(c8, 3) + trivial(c8), 3),
        ("D8 regular", regular(d8), regular(d8), 3),
        ("SO2 irreps", trivial(so2) + irrep(so2, 1), irrep(so2, 2) + irrep(so2, 0), 5),
        ("O2 irreps", irrep(o2, (1, 1)) + trivial(o2), irrep(o2, (1, 0)) + irrep(o2, (1, 2)), 5),
    ]


LAYERS = _layers()


@pytest.fixture(scope="module")
def convs() -> dict[str, SteerableConv2d]:
    torch.manual_seed(0)
    out = {}
    for name, rep_in, rep_out, k in LAYERS:
        conv = SteerableConv2d(rep_in, rep_out, k, padding=k // 2)
        with torch.no_grad():
            if conv.bias is not None:
                conv.bias.normal_()
        out[name] = conv
    return out


@pytest.mark.parametrize("name", [n for n, *_ in LAYERS])
def test_steerable_conv_is_equivariant_on_the_grid(
    convs: dict[str, SteerableConv2d], name: str
) -> None:
    # quarter turns (and flips for D8 / O(2)): exact up to the kernel basis sampling
    assert_equivariant(convs[name], atol=1e-5)


def _hand_built(name: str) -> tuple[object, list[object], list[object]]:
    """The gspace and field types an escnn user writes for each case (axis=0: symml's flip)."""
    if name.startswith("C8"):
        gs = gspaces.rot2dOnR2(8)
        if name == "C8 lift":
            return gs, [gs.trivial_repr], 2 * [gs.regular_repr]
        return gs, [gs.regular_repr, gs.irrep(1)], [gs.irrep(3), gs.trivial_repr]
    if name.startswith("D8"):
        gs = gspaces.flipRot2dOnR2(8, axis=0.0)
        return gs, [gs.regular_repr], [gs.regular_repr]
    if name.startswith("SO2"):
        gs = gspaces.rot2dOnR2(-1, maximum_frequency=6)
        return gs, [gs.trivial_repr, gs.irrep(1)], [gs.irrep(2), gs.irrep(0)]
    gs = gspaces.flipRot2dOnR2(-1, maximum_frequency=6, axis=0.0)
    return gs, [gs.irrep(1, 1), gs.trivial_repr], [gs.irrep(1, 0), gs.irrep(1, 2)]


@pytest.mark.parametrize("name", [n for n, *_ in LAYERS])
def test_same_function_as_an_escnn_r2conv_built_by_hand(
    convs: dict[str, SteerableConv2d], name: str
) -> None:
    conv = convs[name]
    gs, reps_in, reps_out = _hand_built(name)
    in_type = escnn_nn.FieldType(gs, reps_in)
    out_type = escnn_nn.FieldType(gs, reps_out)
    hand = escnn_nn.R2Conv(
        in_type, out_type, conv.kernel_size, padding=conv.padding, initialize=False
    )
    assert hand.weights.shape == conv.weight.shape
    with torch.no_grad():
        hand.weights.copy_(conv.weight)
        if conv.bias is not None:
            hand.bias.copy_(conv.bias)
    x = torch.randn(2, conv.in_channels, 9, 9)
    expected = hand(in_type(x)).tensor
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.to_escnn()(in_type(x)).tensor, expected, rtol=1e-5, atol=1e-5)


def test_initialisation_draws_what_escnn_generalized_he_init_draws(
    convs: dict[str, SteerableConv2d],
) -> None:
    conv = convs["C8 mixed"]
    reference = conv.to_escnn()
    torch.manual_seed(5)
    conv.reset_parameters()
    torch.manual_seed(5)
    escnn_init.generalized_he_init(reference.weights.data, reference.basisexpansion)
    torch.testing.assert_close(conv.weight.detach(), reference.weights.detach(), rtol=0, atol=0)


def test_eval_cache_state_dict_and_export(convs: dict[str, SteerableConv2d]) -> None:
    conv = convs["D8 regular"]
    x = torch.randn(1, conv.in_channels, 7, 7)
    keys = list(conv.state_dict())
    conv.eval()
    assert list(conv.state_dict()) == keys == ["weight", "bias"]
    with torch.no_grad():
        y = conv(x)
        assert conv._bank is not None
        plain = export(conv)
        assert is_plain(plain)
        torch.testing.assert_close(plain(x), y, rtol=1e-5, atol=1e-5)
    conv.train()
    assert conv._bank is None
    torch.testing.assert_close(conv(x), y)


def test_float64_and_gradients_reach_the_weights() -> None:
    conv = SteerableConv2d(trivial(Cyclic(4)), regular(Cyclic(4)), 3).double()
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    conv(x).square().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    # escnn samples its basis in float32, so float64 runs are exact only to float32's precision
    assert_equivariant(conv, dtype=torch.float64, atol=1e-6)


@pytest.mark.parametrize(
    ("rep_in", "rep_out", "kernel_size", "error", "match"),
    [
        (
            trivial(SO3()),
            trivial(SO3()),
            3,
            ValueError,
            r"Cyclic\(N\), Dihedral\(N\), SO2\(\) and O2\(\).*SO3\(\)",
        ),
        (
            trivial(Cyclic(4)),
            trivial(Dihedral(4)),
            3,
            ValueError,
            r"rep_in is a rep of Cyclic\(4\) but rep_out of Dihedral\(4\)",
        ),
        (irrep(Cyclic(4), 1), trivial(Cyclic(4)), 1, ValueError, "no equivariant kernel maps"),
        (standard(Dihedral(4)), "V", 3, TypeError, "expected the field type as a symml Rep"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    rep_in: Rep, rep_out: Rep, kernel_size: int, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        SteerableConv2d(rep_in, rep_out, kernel_size)


def test_missing_escnn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "escnn" or m.startswith("escnn.")]:
        monkeypatch.setitem(sys.modules, module, None)  # type: ignore[arg-type]
    group: Group = Cyclic(7)  # not built elsewhere, so no memoised basis hides the import
    with pytest.raises(ImportError, match=r"pip install 'symml\[steerable\]'"):
        SteerableConv2d(trivial(group), regular(group), 3)


def test_importing_symml_and_its_cnn_layers_does_not_import_escnn() -> None:
    code = (
        "import sys, symml, symml.nn.cnn, symml.models; "
        "from symml.models import build; build('p4cnn'); "
        "sys.exit('escnn' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
