"""`assert_equivariant` on images ``[B, C, H, W]`` typed by `GridRep`: pointwise maps, pooling,
group convolutions with circular padding under p4 (translations included), interpolated rotations,
and the maps that must fail (plain convolutions, fibres rotated the wrong way)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from symml.groups import Cyclic, Dihedral, Elements, FiniteGroup, act_on_images, p4
from symml.reps import intertwiners, pullback, regular, trivial
from symml.testing import GridRep, assert_equivariant, equivariance_error

FIBRE_GROUPS = [Cyclic(4), Dihedral(4)]
DTYPES = [torch.float32, torch.float64]


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _p4_elements() -> Elements:
    """Every rotation of p4, each with a different pixel translation (and one without)."""
    shifts = torch.tensor([[0, 0], [1, 2], [-3, 1], [2, -5], [7, 0]])
    turns = Cyclic(4).element([0, 1, 2, 3, 2])
    return p4().element_from(turns, shifts)


# ----- pointwise maps and pooling on regular fibres ----------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", FIBRE_GROUPS, ids=repr)
def test_pointwise_nonlinearity_passes(group: FiniteGroup, dtype: torch.dtype) -> None:
    field = GridRep(regular(group))
    errors = assert_equivariant(torch.tanh, field, field, dtype=dtype)
    assert errors["output"] < (1e-12 if dtype == torch.float64 else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", FIBRE_GROUPS, ids=repr)
def test_one_by_one_conv_by_an_intertwiner_passes(group: FiniteGroup, dtype: torch.dtype) -> None:
    rho = regular(group)
    basis = intertwiners(rho, rho)
    w = torch.einsum("k,kij->ij", torch.randn(len(basis), generator=_generator(1)).double(), basis)

    def conv1x1(x: Tensor) -> Tensor:
        return torch.einsum("ij,bjhw->bihw", w.to(x.dtype), x)

    assert_equivariant(conv1x1, GridRep(rho), GridRep(rho), dtype=dtype)
    noise = 1e-3 * torch.randn(w.shape, generator=_generator(2), dtype=w.dtype)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: torch.einsum("ij,bjhw->bihw", (w + noise).to(x.dtype), x),
            GridRep(rho),
            GridRep(rho),
            dtype=dtype,
        )


@pytest.mark.parametrize("group", FIBRE_GROUPS, ids=repr)
def test_global_pooling_to_an_invariant_passes(group: FiniteGroup) -> None:
    field = GridRep(regular(group))
    assert_equivariant(lambda x: x.mean(dim=(1, 2, 3))[:, None], field, trivial(group))
    # pooling over space only keeps the fibre: an image → a vector of the regular rep
    assert_equivariant(lambda x: x.amax(dim=(2, 3)), field, regular(group))


@pytest.mark.parametrize("group", FIBRE_GROUPS, ids=repr)
def test_pooling_a_corner_is_not_invariant(group: FiniteGroup) -> None:
    field = GridRep(regular(group))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: x[:, :, :4, :4].mean(dim=(1, 2, 3))[:, None], field, trivial(group)
        )


# ----- fibre permutations ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("group", "side", "equivariant"),
    [
        (Cyclic(4), "left", True),  # abelian: left and right shifts both commute with ρ
        (Dihedral(4), "right", True),  # h ↦ h·r commutes with the left regular action
        (Dihedral(4), "left", False),  # h ↦ r·h does not: D4 is not abelian
    ],
    ids=["C4-left", "D4-right", "D4-left"],
)
def test_shifting_the_fibre(group: FiniteGroup, side: str, equivariant: bool) -> None:
    table = group.cayley_table
    r = int(group.index_of(group.generators[0])[0])
    target = table[r] if side == "left" else table[:, r]  # channel h goes to channel r·h / h·r

    def shift(x: Tensor) -> Tensor:
        out = torch.empty_like(x)
        out[:, target] = x
        return out

    field = GridRep(regular(group))
    if equivariant:
        assert_equivariant(shift, field, field)
    else:
        with pytest.raises(AssertionError, match="not equivariant"):
            assert_equivariant(shift, field, field)


def _group_conv(x: Tensor, psi: Tensor, *, orientation: int = 1, circular: bool = True) -> Tensor:
    """C4 group convolution of a regular field ``[B, 4, H, W]`` with filters ``psi [4, 3, 3]``:
    ``out_h = Σ_h' x_h' ⋆ r^h·ψ_(h'-h)``. With ``orientation=-1`` the filters turn against the
    channel shift (a fibre permuted the wrong way)."""
    c4 = Cyclic(4)
    pad = F.pad(x, (1, 1, 1, 1), mode="circular") if circular else F.pad(x, (1, 1, 1, 1))
    outs = []
    for h in range(4):
        filters = psi[[(hp - h) % 4 for hp in range(4)]]
        turned = act_on_images(c4.element([(orientation * h) % 4]), filters)
        outs.append(F.conv2d(pad, turned[None].to(x.dtype)))
    return torch.cat(outs, 1)


PSI = torch.randn(4, 3, 3, generator=_generator(3), dtype=torch.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", [Cyclic(4), p4()], ids=repr)
def test_group_conv_passes(group, dtype: torch.dtype) -> None:
    field = GridRep(regular(group) if group == Cyclic(4) else pullback(regular(Cyclic(4)), group))
    elements = _p4_elements() if group == p4() else None
    errors = assert_equivariant(
        lambda x: _group_conv(x, PSI), field, field, elements=elements, dtype=dtype
    )
    if dtype == torch.float64:
        assert errors["output"] < 1e-12


@pytest.mark.parametrize("group", [Cyclic(4), p4()], ids=repr)
def test_group_conv_with_filters_turned_the_wrong_way_fails(group) -> None:
    field = GridRep(regular(group) if group == Cyclic(4) else pullback(regular(Cyclic(4)), group))
    elements = _p4_elements() if group == p4() else None
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: _group_conv(x, PSI, orientation=-1), field, field, elements=elements
        )


def test_zero_padding_breaks_only_translations() -> None:
    field = GridRep(pullback(regular(Cyclic(4)), p4()))

    def conv(x: Tensor) -> Tensor:
        return _group_conv(x, PSI, circular=False)

    assert_equivariant(conv, field, field)  # default p4 elements: rotations about the centre
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(conv, field, field, elements=_p4_elements())


@pytest.mark.parametrize("group", [Cyclic(4), Dihedral(4), p4()], ids=repr)
def test_plain_3x3_conv_fails(group) -> None:
    fibre = pullback(regular(Cyclic(4)), group) if group == p4() else regular(group)
    weight = torch.randn(fibre.dim, fibre.dim, 3, 3, generator=_generator(4))
    field = GridRep(fibre)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda x: F.conv2d(x, weight.to(x.dtype), padding=1), field, field)


# ----- rotations that are not exact on the grid --------------------------------------------------
def _radial_bump(n: int = 33) -> Tensor:
    coords = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    return torch.exp(-(xx**2 + yy**2) / 30.0)[None, None]


def _blur(x: Tensor) -> Tensor:
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=x.dtype) / 16
    return F.conv2d(x, kernel[None, None], padding=1)


def test_non_grid_rotation_as_exact_raises() -> None:
    field = GridRep(trivial(Cyclic(8)))
    r = Cyclic(8).element([1])
    with pytest.raises(
        ValueError, match=r"element .*r\^1.* is not exact on the pixel grid .*interpolation=True"
    ):
        assert_equivariant(_blur, field, field, x=_radial_bump(), elements=r)


def test_default_image_elements_are_the_exact_ones() -> None:
    field = GridRep(trivial(Cyclic(8)))
    # r^0, r^2, r^4, r^6 only: the blur's kernel has the square's symmetry, so this is exact
    assert assert_equivariant(_blur, field, field, x=_radial_bump())["output"] < 1e-6


def test_interpolated_rotation_reports_a_small_error() -> None:
    field = GridRep(trivial(Cyclic(8)))
    r = Cyclic(8).elements()  # includes the 45° rotations
    kwargs = {"x": _radial_bump(), "elements": r, "interpolation": True}
    error = equivariance_error(_blur, field, field, **kwargs)["output"]
    assert 1e-4 < error < 0.05  # resampling error, not a broken map
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(_blur, field, field, **kwargs)
    assert_equivariant(_blur, field, field, atol=0.05, **kwargs)
    # the identity resamples both sides the same way, so its error is exactly zero
    assert equivariance_error(lambda x: x, field, field, **kwargs)["output"] == 0.0


def test_interpolation_still_catches_a_broken_map() -> None:
    field = GridRep(trivial(Cyclic(8)))
    kwargs = {"x": _radial_bump(), "elements": Cyclic(8).elements(), "interpolation": True}
    shifted = equivariance_error(lambda x: torch.roll(x, 3, dims=-1), field, field, **kwargs)
    assert shifted["output"] > 0.5


# ----- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 15, 15), (2, 8, 15, 15), (4, 15, 15)])
def test_images_with_the_wrong_channel_count(shape: tuple[int, ...]) -> None:
    field = GridRep(regular(Cyclic(4)))
    got = str(list(shape)).replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(
        ValueError,
        match=rf"expected images \[B, 4, H, W\] for fibre regular\(Cyclic\(4\)\) \(got {got}\)",
    ):
        assert_equivariant(torch.tanh, field, field, x=torch.randn(shape))


def test_image_output_with_the_wrong_channel_count() -> None:
    field = GridRep(regular(Cyclic(4)))
    with pytest.raises(ValueError, match=r"expected output 'output' of shape \[B, 4, H, W\]"):
        assert_equivariant(lambda x: x[:, :2], field, field)
