"""Planar groups acting on images: exact pixel permutations, and interpolated rotations."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.groups import (
    O2,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    Group,
    Translations,
    Trivial,
    act_on_images,
    grid_exact,
    p4,
    p4m,
)

EXACT_GROUPS: list[Group] = [
    Trivial(),
    Cyclic(2),
    Cyclic(4),
    Dihedral(4),
    p4(),
    p4m(),
    Translations(2, lattice=True),
]
SEEDS = st.integers(0, 2**32 - 1)


def _setup(group: Group, seed: int, k: int, size: tuple[int, int]):
    gen = torch.Generator().manual_seed(seed)
    g = group.sample(k, generator=gen)
    h = group.sample(k, generator=gen)
    images = torch.randn(k, 2, *size, generator=gen)
    return g, h, images


def _sizes(group: Group) -> list[tuple[int, int]]:
    # only translations may act on non-square images
    return [(6, 6), (7, 7)] + ([(5, 8)] if isinstance(group, (Translations, Trivial)) else [])


CASES = [(G, size) for G in EXACT_GROUPS for size in _sizes(G)]


@pytest.mark.parametrize(("group", "size"), CASES, ids=repr)
@given(seed=SEEDS)
def test_exact_image_action_is_an_action(group: Group, size: tuple[int, int], seed: int) -> None:
    g, h, x = _setup(group, seed, 4, size)
    assert bool(grid_exact(g).all())
    assert torch.equal(act_on_images(g, act_on_images(h, x)), act_on_images(g @ h, x))
    assert torch.equal(act_on_images(group.identity(4), x), x)
    assert torch.equal(act_on_images(~g, act_on_images(g, x)), x)


@pytest.mark.parametrize(("group", "size"), CASES, ids=repr)
@given(seed=SEEDS)
def test_batched_elements_act_one_per_image(group: Group, size: tuple[int, int], seed: int) -> None:
    g, _, x = _setup(group, seed, 5, size)
    separately = torch.cat([act_on_images(g[i], x[i : i + 1]) for i in range(5)])
    assert torch.equal(act_on_images(g, x), separately)
    # one element acts on every image, and on an unbatched [C, H, W] image
    one = act_on_images(g[0], x)
    assert torch.equal(one[3], act_on_images(g[0], x[3]))


@pytest.mark.parametrize(
    ("group", "size"), [c for c in CASES if c[0].point_dim is not None], ids=repr
)
@given(seed=SEEDS, data=st.data())
def test_pixels_move_like_points(
    group: Group, size: tuple[int, int], seed: int, data: st.DataObject
) -> None:
    """A one-hot pixel at (i, j) sits at x = j - (W-1)/2, y = (H-1)/2 - i and moves to g·(x, y);
    pixel shifts wrap around (the grid is a torus)."""
    h, w = size
    i, j = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    g = group.sample(1, generator=torch.Generator().manual_seed(seed))
    image = torch.zeros(h, w)
    image[i, j] = 1.0
    point = torch.tensor([j - (w - 1) / 2, (h - 1) / 2 - i], dtype=torch.float64)
    x, y = group.act_on_points(g, point).tolist()
    i2, j2 = round((h - 1) / 2 - y) % h, round(x + (w - 1) / 2) % w
    expected = torch.zeros(h, w)
    expected[i2, j2] = 1.0
    assert torch.equal(act_on_images(g, image), expected)


@pytest.mark.parametrize("turns", [-5, -1, 0, 1, 2, 3, 4, 7])
def test_so2_quarter_turns_equal_cyclic4(turns: int) -> None:
    x = torch.randn(3, 2, 7, 7, generator=torch.Generator().manual_seed(turns + 10))
    so2 = SO2().element(torch.tensor([turns * math.pi / 2]))
    c4 = Cyclic(4).element([turns % 4])
    assert torch.equal(act_on_images(so2, x), act_on_images(c4, x))
    o2 = O2().element(torch.tensor([[1.0, turns * math.pi / 2]], dtype=torch.float64))
    d4 = Dihedral(4).element([4 + turns % 4])
    assert torch.equal(act_on_images(o2, x), act_on_images(d4, x))


def test_quarter_turn_and_flip_on_a_small_image() -> None:
    image = torch.tensor([[1, 2], [3, 4]])
    # counter-clockwise: the top-right pixel goes to the top left
    assert torch.equal(act_on_images(Cyclic(4).element([1]), image), torch.tensor([[2, 4], [1, 3]]))
    # f: (x, y) ↦ (x, -y) swaps the top and bottom rows
    assert torch.equal(
        act_on_images(Dihedral(4).element([4]), image), torch.tensor([[3, 4], [1, 2]])
    )
    # a shift by t = (1, 0) moves pixels right (circularly), t = (0, 1) moves them up
    shift = Translations(2, lattice=True)
    assert torch.equal(
        act_on_images(shift.element([[1, 0]]), image), torch.tensor([[2, 1], [4, 3]])
    )
    assert torch.equal(
        act_on_images(shift.element([[0, 1]]), image), torch.tensor([[3, 4], [1, 2]])
    )


def _blob(size: int, centre: tuple[float, float], sigma: float, dtype: torch.dtype):
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    x, y = coords[None, :], -coords[:, None]  # x right, y up
    blob = torch.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma**2))
    return blob.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("element", "degrees", "reflect"),
    [(SO2().element([math.radians(30)]), 30.0, False)]
    + [(SO2().element([math.radians(-110)]), -110.0, False)]
    + [(O2().element([[1.0, math.radians(30)]]), 30.0, True)]
    + [(Dihedral(8).element([1]), 45.0, False), (Cyclic(12).element([5]), 150.0, False)],
    ids=["SO2-30", "SO2-m110", "O2-f30", "D8-r", "C12-r5"],
)
def test_interpolated_rotation_matches_the_analytic_one(
    element, degrees: float, reflect: bool, dtype: torch.dtype
) -> None:
    centre = (7.0, 3.0)
    image = _blob(41, centre, sigma=3.0, dtype=dtype)[None]
    assert not bool(grid_exact(element).all())
    out = act_on_images(element, image, interpolation=True)
    assert out.dtype == dtype and out.shape == image.shape
    cx, cy = centre[0], -centre[1] if reflect else centre[1]  # r_θ f: reflect first

    def rotated(t: float) -> torch.Tensor:
        moved = (cx * math.cos(t) - cy * math.sin(t), cx * math.sin(t) + cy * math.cos(t))
        return _blob(41, moved, sigma=3.0, dtype=dtype)[None]

    assert (out - rotated(math.radians(degrees))).abs().max() < 0.05
    # the opposite rotation is far off, so the check above can fail
    assert (out - rotated(-math.radians(degrees))).abs().max() > 0.5


def test_interpolation_keeps_exact_elements_exact() -> None:
    x = torch.randn(2, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    g = SO2().element(torch.tensor([math.pi / 2, math.pi]))
    assert torch.equal(act_on_images(g, x, interpolation=True), act_on_images(g, x))


def test_batched_interpolated_elements_act_one_per_image() -> None:
    x = torch.randn(3, 2, 15, 15, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = SO2().element(torch.tensor([0.3, 2.0, -1.0], dtype=torch.float64))
    separately = torch.cat(
        [act_on_images(g[i], x[i : i + 1], interpolation=True) for i in range(3)]
    )
    torch.testing.assert_close(act_on_images(g, x, interpolation=True), separately)


@given(k=st.integers(-8, 8), delta=st.floats(0.01, 89.99))
def test_grid_exact_exactly_at_quarter_turns(k: int, delta: float) -> None:
    angles = torch.tensor([math.radians(90 * k), math.radians(90 * k + delta)])
    assert grid_exact(SO2().element(angles)).tolist() == [True, False]
    o2 = torch.tensor([[1.0, angles[0]], [1.0, angles[1]]], dtype=torch.float64)
    assert grid_exact(O2().element(o2)).tolist() == [True, False]


@pytest.mark.parametrize(
    ("group", "exact"),
    [
        (Cyclic(8), [k % 2 == 0 for k in range(8)]),
        (Dihedral(8), [k % 2 == 0 for k in range(16)]),
        (Cyclic(3), [True, False, False]),
        (Dihedral(4), [True] * 8),
    ],
    ids=repr,
)
def test_grid_exact_for_finite_groups(group: Group, exact: list[bool]) -> None:
    assert grid_exact(group.elements()).tolist() == exact


def test_non_exact_element_needs_interpolation() -> None:
    x = torch.randn(1, 9, 9)
    with pytest.raises(ValueError, match=r"rotates by 30°, not a multiple of 90°.*interpolation"):
        act_on_images(SO2().element([math.radians(30)]), x)
    with pytest.raises(ValueError, match=r"rotates by 45°, not a multiple of 90°"):
        act_on_images(Cyclic(8).element([0, 1]), torch.randn(2, 1, 9, 9))


@pytest.mark.parametrize(
    "element",
    [Cyclic(4).element([1]), Dihedral(4).element([4]), p4m().element([[1, 2, 0]])],
    ids=["C4-r", "D4-f", "p4m-r"],
)
def test_rotations_need_square_images(element) -> None:
    with pytest.raises(ValueError, match=r"need square images \(got 5x8\)"):
        act_on_images(element, torch.randn(2, 5, 8))


def test_non_square_images_allow_the_identity_and_shifts() -> None:
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(act_on_images(Cyclic(4).identity(), x), x)
    shifted = act_on_images(p4().element([[0, 3, 0]]), x)
    assert torch.equal(shifted, torch.roll(x, 3, dims=-1))


def test_image_action_errors() -> None:
    with pytest.raises(ValueError, match="got 3 elements for images of shape \\[2, 1, 5, 5\\]"):
        act_on_images(Cyclic(4).element([0, 1, 2]), torch.randn(2, 1, 5, 5))
    with pytest.raises(ValueError, match="expected images \\[..., H, W\\]"):
        act_on_images(Cyclic(4).element([1]), torch.randn(5))
    with pytest.raises(TypeError, match="SO3\\(\\) does not act on 2-D images"):
        act_on_images(SO3().identity(), torch.randn(1, 5, 5))
