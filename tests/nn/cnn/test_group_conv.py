"""Lifting and group convolutions on regular fields: equivariance (exact groups to 1e-5 in float32,
translations with circular padding), the trivial group reproduces nn.Conv2d, the gather expansion
equals a slow per-element reference, gradients, the eval cache, and bad input."""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import pickle

import pytest
import torch
import torch.nn.functional as F

from symml.groups import Cyclic, Dihedral, Elements, FiniteGroup, act_on_images, p4, p4m
from symml.nn.cnn import ConvGeometry, FilterExpansion, GroupConv2d, LiftingConv2d
from symml.reps import GridRep, pullback
from symml.testing import assert_equivariant, equivariance_error

EXACT = [Cyclic(1), Cyclic(2), Cyclic(4), Dihedral(1), Dihedral(2), Dihedral(4)]
APPROXIMATE = [Cyclic(8), Dihedral(3)]
DTYPES = [torch.float32, torch.float64]


def _seed(seed: int = 0) -> None:
    torch.manual_seed(seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", EXACT, ids=repr)
def test_lifting_and_group_conv_are_equivariant_on_exact_groups(
    group: FiniteGroup, dtype: torch.dtype
) -> None:
    _seed()
    n = group.order
    lift = LiftingConv2d(group, 2, 3 * n, 3, padding=1)
    conv = GroupConv2d(group, 3 * n, 2 * n, 3)
    top = GroupConv2d(group, 2 * n, n, 4, bias=False)  # even kernel: rotates about its centre
    for layer in (lift, conv, top):
        errors = assert_equivariant(layer, dtype=dtype)  # every element of the group
        assert errors["output"] < (1e-12 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize(
    ("stride", "dilation", "padding", "size"), [(2, 1, 1, 13), (1, 2, 2, 12), (3, 1, 0, 15)]
)
def test_stride_and_dilation_keep_equivariance_on_centred_grids(
    stride: int, dilation: int, padding: int, size: int
) -> None:
    _seed(1)
    geometry = ConvGeometry(3, stride=stride, padding=padding, dilation=dilation)
    conv = GroupConv2d("p4m", 16, 8, geometry)
    x = torch.randn(2, 16, size, size)
    assert_equivariant(conv, x=x)


def _p4_with_shifts(group: FiniteGroup) -> Elements:
    """Every point-group element, each with a different pixel translation."""
    lattice = p4() if isinstance(group, Cyclic) else p4m()
    shifts = torch.tensor([[1, 2], [-3, 1], [2, -5], [7, 0], [0, 3], [-1, -1], [4, 4], [5, -2]])
    point = group.elements()
    return lattice.element_from(point, shifts[: len(point)])


@pytest.mark.parametrize("group", [Cyclic(4), Dihedral(4)], ids=repr)
def test_circular_padding_gives_translation_equivariance(group: FiniteGroup) -> None:
    _seed(2)
    lattice = p4() if isinstance(group, Cyclic) else p4m()
    n = group.order
    conv = GroupConv2d(group, 2 * n, 3 * n, ConvGeometry(3, padding=1, padding_mode="circular"))
    lift = LiftingConv2d(group, 1, 2 * n, ConvGeometry(5, padding=2, padding_mode="circular"))
    elements = _p4_with_shifts(group)
    for layer in (conv, lift):
        rep_in = GridRep(pullback(layer.rep_in.fibre, lattice))
        rep_out = GridRep(pullback(layer.rep_out.fibre, lattice))
        assert_equivariant(layer, rep_in, rep_out, elements=elements)
    # the same layer with zero padding: the border breaks translation equivariance
    zeros = GroupConv2d(group, 2 * n, 3 * n, 3, padding=1)
    zeros.load_state_dict(conv.state_dict())
    rep = GridRep(pullback(conv.rep_in.fibre, lattice))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            zeros, rep, GridRep(pullback(conv.rep_out.fibre, lattice)), elements=elements
        )


def test_a_plain_conv_typed_as_a_group_conv_fails_the_same_check() -> None:
    _seed(3)
    conv = GroupConv2d("p4", 8, 8, 3)
    plain = torch.nn.Conv2d(8, 8, 3)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(plain, conv.rep_in, conv.rep_out)
    # one weight perturbed after expansion: the bank is no longer a group-conv bank
    weight, bias = conv.filter_bank()
    broken = weight.detach().clone()
    broken[0, 0, 0, 0] += 0.5
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda x: F.conv2d(x, broken, bias), conv.rep_in, conv.rep_out)


@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_trivial_group_equals_nn_conv2d(kernel_size: int) -> None:
    _seed(4)
    geometry = ConvGeometry(kernel_size, stride=2, padding=1)
    conv, lift = GroupConv2d(Cyclic(1), 5, 7, geometry), LiftingConv2d("C1", 5, 7, geometry)
    plain = torch.nn.Conv2d(5, 7, kernel_size, stride=2, padding=1)
    x = torch.randn(3, 5, 11, 11)
    for layer in (conv, lift):
        with torch.no_grad():
            layer.weight.copy_(plain.weight.view(layer.weight.shape))
            layer.bias.copy_(plain.bias)
        torch.testing.assert_close(layer(x), plain(x), rtol=0, atol=1e-6)


def _reference_bank(group: FiniteGroup, weight: torch.Tensor, lifting: bool) -> torch.Tensor:
    """W[o, h, i, k] = h·ψ[o, i, h⁻¹k], one group element at a time."""
    out_fields, in_fields = weight.shape[:2]
    k = weight.shape[-1]
    rows = []
    for h in group.elements():
        psi = weight if lifting else weight[:, :, group.index_of(~h @ group.elements())]
        flat = psi.reshape(-1, k, k)
        rows.append(act_on_images(h, flat).reshape(out_fields, -1))
    return torch.stack(rows, 1).reshape(out_fields * group.order, -1, k, k)


@pytest.mark.parametrize("lifting", [False, True])
@pytest.mark.parametrize("group", [Cyclic(4), Dihedral(4), Dihedral(2)], ids=repr)
def test_gather_expansion_matches_a_per_element_reference(
    group: FiniteGroup, lifting: bool
) -> None:
    _seed(5)
    expansion = FilterExpansion(group, in_fields=3, kernel_size=3, lifting=lifting)
    weight = torch.randn(2, *expansion.weight_shape, dtype=torch.float64)
    torch.testing.assert_close(expansion(weight), _reference_bank(group, weight, lifting))


@pytest.mark.parametrize("group", APPROXIMATE, ids=repr)
def test_other_rotations_use_a_steerable_basis_and_are_approximate(group: FiniteGroup) -> None:
    _seed(6)
    n = group.order
    conv = GroupConv2d(group, n, n, 5, padding=2, bias=False)
    lift = LiftingConv2d(group, 1, n, 5, padding=2)
    assert not conv.exact and conv.weight.shape[-1] == conv.expansion.num_basis
    for layer in (lift, conv):
        assert_equivariant(layer)  # the elements exact on the grid (quarter turns, flips)
    # every element, the others interpolated: a smooth input inside a disc (nothing rotates out
    # of the image) keeps the resampling error small, but not zero
    errors = equivariance_error(
        lift, x=_smooth_disc(), elements=group.elements(), interpolation=True
    )
    assert 1e-3 < errors["output"] < 0.25


def _smooth_disc(size: int = 33) -> torch.Tensor:
    x = torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    x = F.avg_pool2d(F.avg_pool2d(x, 5, 1, 2), 5, 1, 2) * 25
    c = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij")
    return x * torch.exp(-(xx**2 + yy**2) / (2 * (size / 5) ** 2))


def test_approximate_filters_rotate_exactly_in_the_basis() -> None:
    """For C8 the bank of element r is the bank of the identity rotated by 45° — evaluated on the
    continuous basis, so rotating twice is the same as rotating by 90° on the pixels."""
    expansion = FilterExpansion(Cyclic(8), in_fields=1, kernel_size=5, lifting=True)
    weight = torch.randn(1, *expansion.weight_shape, dtype=torch.float64)
    expansion = expansion.double()
    bank = expansion(weight)  # [8, 1, 5, 5]
    quarter = act_on_images(Cyclic(4).element([1]), bank[0])
    torch.testing.assert_close(bank[2], quarter, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "layer",
    [
        GroupConv2d("p4", 8, 12, ConvGeometry(3, 2, 1, padding_mode="circular")),
        LiftingConv2d("p4m", 2, 16, ConvGeometry(5, padding=2, dilation=2), bias=False),
        GroupConv2d("C8", 8, 8, 3, padding=1),  # basis-expanded filters
    ],
    ids=["circular-stride", "lifting-dilation", "approximate"],
)
def test_export_is_a_plain_conv2d_with_the_same_output(layer: torch.nn.Module) -> None:
    plain = layer.export()  # type: ignore[operator]
    assert type(plain) is torch.nn.Conv2d
    x = torch.randn(2, layer.in_channels, 11, 11)  # type: ignore[attr-defined]
    with torch.no_grad():
        torch.testing.assert_close(plain(x), layer(x), rtol=1e-5, atol=1e-6)


def test_geometry_travels_as_one_frozen_value() -> None:
    geometry = ConvGeometry(3, stride=2, padding=1, padding_mode="circular")
    conv = GroupConv2d("p4", 8, 8, geometry)
    assert conv.geometry is geometry
    assert LiftingConv2d("p4", 1, 8, 3, padding=1).geometry == ConvGeometry(3, padding=1)
    assert "kernel_size=3, stride=2, padding=1, padding_mode='circular'" in repr(conv)
    with pytest.raises(dataclasses.FrozenInstanceError):
        geometry.padding = 2  # type: ignore[misc]


def test_gradcheck_in_float64() -> None:
    _seed(7)
    conv = GroupConv2d("D2", 4, 4, 3, padding=1).double()
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64, requires_grad=True)

    def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (x,))

    params = (conv.weight.detach().requires_grad_(), conv.bias.detach().requires_grad_())
    assert torch.autograd.gradcheck(f, (x, *params))


def test_eval_cache_is_reused_and_invalidated() -> None:
    _seed(8)
    conv = GroupConv2d("p4", 8, 8, 3).eval()
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        y = conv(x)
        bank = conv._bank
        assert bank is not None and conv(x) is not None and conv._bank is bank  # reused
        conv.weight.mul_(2)  # in place: the version counter moves
        torch.testing.assert_close(conv(x), 2 * y - conv.bias.repeat_interleave(4)[:, None, None])
        assert conv._bank is not bank
    keys_eval = list(conv.state_dict())
    conv.train()
    assert conv._bank is None and list(conv.state_dict()) == keys_eval == ["weight", "bias"]
    # eval mode with gradients on: no cache, the gradient reaches the weights
    conv.eval()
    conv(x).sum().backward()
    assert conv.weight.grad is not None and conv._bank is None


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_pickle_deepcopy_and_state_dict_round_trip(mode: str) -> None:
    _seed(9)
    conv = GroupConv2d("p4m", 16, 8, 3)
    conv.train(mode == "train")
    x = torch.randn(2, 16, 6, 6)
    with torch.no_grad():
        y = conv(x)
        buffer = io.BytesIO()
        torch.save(conv.state_dict(), buffer)
        buffer.seek(0)
        fresh = GroupConv2d("p4m", 16, 8, 3).train(mode == "train")
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        for other in (pickle.loads(pickle.dumps(conv)), copy.deepcopy(conv), fresh):
            torch.testing.assert_close(other(x), y)


def test_to_double_moves_the_index_and_keeps_the_function() -> None:
    _seed(10)
    conv = LiftingConv2d("D4", 1, 8, 3).eval()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        y32 = conv(x.float())
        y64 = conv.double()(x)
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, rtol=1e-5, atol=1e-6)


def test_fan_in_initialisation_matches_nn_conv2d_scale() -> None:
    _seed(11)
    conv = GroupConv2d("p4", 64, 64, 3)
    bound = 1 / math.sqrt(16 * 4 * 9)
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: GroupConv2d("p4", 10, 8, 3),
            r"in_channels=10 is not a multiple of \|Cyclic\(4\)\| = 4.*in_channels=8 or 12",
        ),
        (
            lambda: GroupConv2d("p4m", 8, 12, 3),
            r"out_channels=12 is not a multiple of \|Dihedral\(4\)\| = 8",
        ),
        (lambda: LiftingConv2d("C4", 1, 2, 3), r"out_channels=2 .* \(use out_channels=4\)"),
        (
            lambda: GroupConv2d("SO2", 8, 8, 3),
            r"expected a planar group Cyclic\(N\), Dihedral\(N\).*SteerableConv2d",
        ),
        (
            lambda: GroupConv2d("p4", 8, 8, ConvGeometry(3, padding_mode="reflect")),
            r"ConvGeometry: expected padding_mode in \['zeros', 'circular'\] \(got 'reflect'\)",
        ),
        (lambda: GroupConv2d("p4", 8, 8, 0), r"GroupConv2d: expected an integer kernel_size >= 1"),
        (lambda: LiftingConv2d("p4", 1, 8, 3, padding=-1), r"LiftingConv2d: .* padding >= 0"),
        (lambda: ConvGeometry(3, dilation=0), r"ConvGeometry: expected an integer dilation >= 1"),
        (
            lambda: GroupConv2d("p4", 8, 8, ConvGeometry(3), padding=1),
            r"GroupConv2d: expected the padding inside the ConvGeometry \(got padding=1 beside "
            r"ConvGeometry\(kernel_size=3\)\); write ConvGeometry\(\.\.\., padding=1\)",
        ),
        (lambda: LiftingConv2d("C4", 0, 4, 3), r"in_channels >= 1 \(got 0\)"),
        (lambda: GroupConv2d("Q8", 8, 8, 3), r"unknown group name 'Q8'"),
    ],
)
def test_bad_construction_raises_clear_errors(build: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()  # type: ignore[operator]


def test_bad_inputs_raise_clear_errors() -> None:
    conv = GroupConv2d("p4", 8, 8, 3)
    with pytest.raises(
        ValueError, match=r"expected images of shape \[B, 8, H, W\] \(got \[2, 4, 5, 5\]\)"
    ):
        conv(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"\[B, 8, H, W\] \(got \[8, 5, 5\]\)"):
        conv(torch.randn(8, 5, 5))
    with pytest.raises(TypeError, match="expected a floating-point tensor"):
        conv(torch.ones(1, 8, 5, 5, dtype=torch.long))
