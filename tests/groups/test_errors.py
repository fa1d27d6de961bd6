"""Every user error raises ValueError/TypeError naming the argument, the expectation and the got."""

from __future__ import annotations

import re

import pytest
import torch

from symml.groups import (
    O2,
    SE,
    SO,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    E,
    Group,
    O,
    Orthogonal,
    Permutations,
    SemidirectProduct,
    SpecialOrthogonal,
    Translations,
    Trivial,
    cat,
    group_from_name,
    p4,
)


def _id(value: object) -> str:
    """Test ids: groups by repr, messages by their first words, nothing for the rest."""
    if isinstance(value, Group):
        return repr(value)
    return value[:48] if isinstance(value, str) else "-"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Cyclic(0), "Cyclic: expected an integer n >= 1 (got 0)"),
        (lambda: Dihedral(-1), "Dihedral: expected an integer n >= 1 (got -1)"),
        (lambda: Cyclic(2.5), "Cyclic: expected an integer n >= 1 (got 2.5)"),
        (lambda: Cyclic(True), "Cyclic: expected an integer n >= 1 (got True)"),
        (lambda: Permutations(0), "Permutations: expected n >= 1 (got 0)"),
        (lambda: Translations(0), "Translations: expected d >= 1 (got 0)"),
        (lambda: SpecialOrthogonal(3), "SpecialOrthogonal: expected n >= 4 (got 3); for n = 2, 3"),
        (lambda: Orthogonal(2), "Orthogonal: expected n >= 4 (got 2); for n = 2, 3 use O2()"),
        (lambda: SO(1), "SO: expected n >= 2 (got 1)"),
        (lambda: O(1), "O: expected n >= 2 (got 1)"),
        (lambda: SE(1), "SO: expected n >= 2 (got 1)"),
        (lambda: E(0), "O: expected n >= 2 (got 0)"),
        (
            lambda: SemidirectProduct(Permutations(3)),
            "SemidirectProduct: Permutations(3) has no action on points",
        ),
        (
            lambda: SemidirectProduct(Cyclic(3), lattice=True),
            "with lattice=True the point group must map the square grid",
        ),
    ],
    ids=_id,
)
def test_bad_group_arguments(build, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


@pytest.mark.parametrize(
    ("group", "data", "message"),
    [
        (Cyclic(4), [4], "Cyclic(4).element: expected indices in [0, 3] (got values in [4, 4])"),
        (Cyclic(4), [0, -1], "expected indices in [0, 3] (got values in [-1, 0])"),
        (Dihedral(3), [6], "Dihedral(3).element: expected indices in [0, 5]"),
        (
            Cyclic(4),
            [1.0],
            "expected a 1-D integer tensor of element indices (got dtype torch.float32",
        ),
        (
            Dihedral(4),
            [True],
            "expected a 1-D integer tensor of element indices (got dtype torch.bool",
        ),
        (Cyclic(4), [[1, 2]], "expected a 1-D integer tensor of element indices"),
        (
            Permutations(3),
            [[0, 0, 1]],
            "Permutations(3).element: each row must be a permutation of 0..2",
        ),
        (Permutations(3), [[0, 1]], "expected integer permutations of shape [B, 3]"),
        (
            Permutations(3),
            [[0.0, 1.0, 2.0]],
            "expected integer permutations of shape [B, 3] (got dtype torch.float32",
        ),
        (SO3(), torch.ones(3, 3), "SO3().element: expected orthogonal matrices (R Rᵀ = I)"),
        (
            SO3(),
            torch.diag(torch.tensor([1.0, 1.0, -1.0])),
            "expected rotations (det R = +1), got a reflection",
        ),
        (
            SO3(),
            torch.eye(2),
            "SO3().element: expected matrices of shape [B, 3, 3] (got [1, 2, 2])",
        ),
        (SO(4), -torch.eye(4)[[1, 0, 2, 3]], "SpecialOrthogonal(4).element: expected rotations"),
        (SO2(), [[0.0, 1.0]], "SO2().element: expected angles of shape [B] (got [1, 2])"),
        (O2(), [[2.0, 0.0]], "O2().element: expected the reflection flag s (column 0) in {0, 1}"),
        (O2(), [1.0, 2.0, 3.0], "O2().element: expected [s, θ] pairs of shape [B, 2] (got [3])"),
        (Translations(2, lattice=True), [[0.5, 1.0]], "expected integer shifts on the lattice Z^2"),
        (
            Translations(2),
            [[1.0, 2.0, 3.0]],
            "expected translation vectors of shape [B, 2] (got [1, 3])",
        ),
        (
            p4(),
            [[0, 1]],
            "p4().element: expected rows [point element (1 values), translation (2)] "
            "of shape [B, 3]",
        ),
        (p4(), [[4, 0, 0]], "Cyclic(4).element: expected indices in [0, 3]"),
        (E(3), torch.ones(1, 12), "O3().element: expected orthogonal matrices"),
    ],
    ids=_id,
)
def test_invalid_element_data(group: Group, data, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        group.element(data)


def test_composing_elements_of_different_groups() -> None:
    c, d = Cyclic(4).element([1]), Dihedral(4).element([1])
    message = "compose: expected elements of Cyclic(4) (got elements of Dihedral(4)); map them with"
    with pytest.raises(ValueError, match=re.escape(message)):
        c @ d  # noqa: B018
    with pytest.raises(
        ValueError, match=re.escape("expected elements of Dihedral(4) (got elements of Cyclic(4))")
    ):
        d @ c  # noqa: B018
    with pytest.raises(ValueError, match="equal: expected elements of Cyclic\\(4\\)"):
        c == d  # noqa: B015
    with pytest.raises(ValueError, match="inverse: expected elements of SO3\\(\\)"):
        SO3().inverse(c)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: Cyclic(4).compose(torch.tensor([1]), Cyclic(4).element([1])),
            "compose: expected symml Elements of Cyclic(4) (got Tensor); "
            "wrap raw tensors with `Cyclic(4).element(data)`",
        ),
        (
            lambda: Cyclic(4).inverse(torch.tensor([1])),
            "inverse: expected symml Elements of Cyclic(4) (got Tensor)",
        ),
        (
            lambda: SO2().matrices(torch.tensor([0.5])),
            "matrices: expected symml Elements of SO2() (got Tensor)",
        ),
        (
            lambda: SO3().act_on_points(torch.eye(3)[None], torch.zeros(3)),
            "act_on_points: expected symml Elements of SO3()",
        ),
        (
            lambda: Cyclic(4).element([1]) @ torch.tensor([1]),
            "compose: expected symml Elements of Cyclic(4) (got Tensor)",
        ),
    ],
    ids=["compose", "inverse", "matrices", "act_on_points", "matmul"],
)
def test_raw_tensors_instead_of_elements(call, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("group", [SO2(), O2(), SO3(), Translations(2), E(3), p4()], ids=repr)
def test_elements_of_an_infinite_group(group: Group) -> None:
    message = f"elements: {group!r} is infinite, so its elements cannot be listed; use sample(n)"
    with pytest.raises(ValueError, match=re.escape(message)):
        group.elements()


def test_listing_a_large_symmetric_group() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Permutations(9) has 362880 elements; listing them is supported for n <= 8"
        ),
    ):
        Permutations(9).elements()


@pytest.mark.parametrize("group", [Cyclic(5), SO2(), SO3(), E(2), Permutations(4)], ids=repr)
def test_batch_sizes_that_do_not_broadcast(group: Group) -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = group.sample(2, generator=gen), group.sample(3, generator=gen)
    with pytest.raises(
        ValueError,
        match=re.escape("compose: batch sizes 2 and 3 do not broadcast (expected equal or 1)"),
    ):
        a @ b  # noqa: B018
    with pytest.raises(ValueError, match=re.escape("equal: batch sizes 3 and 2 do not broadcast")):
        b == a  # noqa: B015


def test_group_from_an_unknown_name() -> None:
    with pytest.raises(
        ValueError,
        match=r"group_from_name: unknown group name 'X9'; expected one of: trivial, C<n>",
    ):
        group_from_name("X9")
    with pytest.raises(ValueError, match="unknown group name 'C'"):
        group_from_name("C")


@pytest.mark.parametrize(
    ("group", "points", "error", "message"),
    [
        (
            SO3(),
            torch.zeros(4, 2),
            ValueError,
            "act_on_points: expected points with last dimension 3 for SO3() (got shape [4, 2])",
        ),
        (
            Translations(2),
            torch.zeros(4, 3),
            ValueError,
            "act_on_points: expected points with last dimension 2 (got [4, 3])",
        ),
        (E(2), torch.zeros(4, 3), ValueError, "expected points with last dimension 2 for O2()"),
    ],
    ids=["SO3", "Translations", "E2"],
)
def test_points_of_the_wrong_dimension(group: Group, points, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        group.act_on_points(group.identity(), points)


@pytest.mark.parametrize("group", [SO3(), Cyclic(4), Translations(3), E(3)], ids=repr)
def test_points_with_the_wrong_batch_size(group: Group) -> None:
    g = group.sample(3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(
        ValueError, match=re.escape("expected a leading batch dimension of 3 (one per element)")
    ):
        group.act_on_points(g, torch.zeros(5, 4, group.point_dim))


def test_misc_errors() -> None:
    with pytest.raises(ValueError, match="sample: expected n >= 0 \\(got -1\\)"):
        SO3().sample(-1)
    with pytest.raises(
        ValueError, match="cat: expected at least one batch of elements \\(got none\\)"
    ):
        cat([])
    with pytest.raises(
        ValueError,
        match="cat: expected elements of Cyclic\\(4\\) \\(got elements of Cyclic\\(5\\)\\)",
    ):
        cat([Cyclic(4).identity(), Cyclic(5).identity()])
    with pytest.raises(TypeError, match="Trivial\\(\\) has no standard action on points"):
        Trivial().matrices(Trivial().identity())
    with pytest.raises(TypeError, match="unhashable"):
        hash(Cyclic(4).identity())
