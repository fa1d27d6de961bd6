"""Bilinear layer, gated / norm / pointwise nonlinearities and the checked container.

The nonlinearities are one family: each test of a class runs on vector features (a `Rep`,
``[..., C]``) and on image fields (a `GridRep`, ``[B, C, H, W]``), which must compute the same map.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from symml.groups import O2, SO, SO2, Cyclic, Dihedral, O, Permutations
from symml.nn import (
    EquivariantBilinear,
    EquivariantLinear,
    EquivariantSequential,
    GatedNonlinearity,
    NormNonlinearity,
    PointwiseNonlinearity,
    gated,
)
from symml.nn._types import is_trivial, parts
from symml.nn.bilinear import bilinear_paths
from symml.reps import GridRep, Rep, irrep, quotient, regular, standard, trivial
from symml.testing import assert_equivariant, equivariance_error
from symml.testing.strategies import GROUPS, reps


@pytest.mark.parametrize("name", sorted(GROUPS))
@given(data=st.data())
def test_gated_and_norm_nonlinearities_are_equivariant(name: str, data: st.DataObject) -> None:
    rep = data.draw(reps(GROUPS[name]))
    torch.manual_seed(0)
    norm = NormNonlinearity(rep)
    with torch.no_grad():
        norm.bias.normal_()
    for module in (GatedNonlinearity(rep), norm):
        assert equivariance_error(module, n_elements=4)["output"] < 1e-5, (module, rep)


def _with_tensors(group_name: str) -> st.SearchStrategy:
    """Reps that contain a field and its tensor square, so that products exist."""
    group = GROUPS[group_name]

    @st.composite
    def build(draw: st.DrawFn):  # type: ignore[no-untyped-def]
        base = draw(reps(group, max_dim=4))
        return base + base.tensor(base) + trivial(group)

    return build()


@pytest.mark.parametrize("name", sorted(GROUPS))
@given(data=st.data())
def test_bilinear_is_equivariant(name: str, data: st.DataObject) -> None:
    rep_in = data.draw(_with_tensors(name))
    rep_out = data.draw(st.sampled_from([rep_in, data.draw(reps(GROUPS[name], max_dim=8))]))
    assume(bilinear_paths(rep_in, rep_out))
    torch.manual_seed(0)
    layer = EquivariantBilinear(rep_in, rep_out)
    assert equivariance_error(layer, n_elements=4)["output"] < 1e-5, (rep_in, rep_out)


def test_bilinear_is_quadratic_and_matches_a_slow_reference() -> None:
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    rep = 2 * s + 3 * v + 2 * v.tensor(v)
    layer = EquivariantBilinear(rep, rep).double()
    x = torch.randn(4, rep.dim, dtype=torch.float64)
    torch.testing.assert_close(layer(3 * x), 9 * layer(x))
    # reference: build W(x) densely, block by block, from the same paths and weights
    from symml.nn._types import field_types

    types = field_types(rep)
    expected = torch.zeros(4, rep.dim, dtype=torch.float64)
    for path, theta in zip(layer._paths, layer.weights, strict=True):
        a, b, src = types[path.a], types[path.b], types[path.source]
        for p, out_off in enumerate(b.offsets):
            for q, in_off in enumerate(a.offsets):
                for src_copy in range(path.sources):
                    off = src.offsets[src_copy]
                    w = x[:, off : off + src.rep.dim].reshape(4, b.rep.dim, a.rep.dim)
                    xq = x[:, in_off : in_off + a.rep.dim]
                    contribution = theta[p, q, src_copy] * torch.einsum("bij,bj->bi", w, xq)
                    expected[:, out_off : out_off + b.rep.dim] += contribution
    torch.testing.assert_close(layer(x), expected)


def test_bilinear_gradcheck() -> None:
    torch.manual_seed(0)
    v = standard(SO(3))
    rep = trivial(SO(3)) + v + v.tensor(v)
    layer = EquivariantBilinear(rep, rep).double()
    x = torch.randn(2, rep.dim, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_fused_bilinear_double_backward_and_frozen_weights() -> None:
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    rep = v + s + v.tensor(v) + v  # interleaved: the layer reorders it type by type
    layer = EquivariantBilinear(rep, rep).double()
    x = torch.randn(3, rep.dim, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(layer, (x,))
    layer.requires_grad_(False)  # only the input needs a gradient
    assert torch.autograd.gradcheck(layer, (x,))
    w = torch.randn_like(x, requires_grad=True)
    (g,) = torch.autograd.grad(layer(w).sum(), [w])
    assert g.shape == w.shape and layer.weights[0].grad is None


def test_bilinear_without_products_says_how_to_fix() -> None:
    group = O(3)
    with pytest.raises(ValueError, match=r"no field of rep_in .* include tensor-product fields"):
        EquivariantBilinear(2 * standard(group), standard(group))


# ----- nonlinearities: one family on vectors and images -----------------------------------------
def _as_images(x: torch.Tensor) -> torch.Tensor:
    """Vector features ``[B, C]`` as 1×1 images ``[B, C, 1, 1]``: the same numbers, image layout."""
    return x[:, :, None, None]


def _gate_reference(rep: Rep, x: torch.Tensor) -> torch.Tensor:
    """The gate field by field on ``[B, F + C]``: the F gates first; SiLU on scalar fields,
    ``v · sigmoid(own gate)`` on the others."""
    fields = parts(rep)
    gate, start, out = 0, sum(not is_trivial(p) for p in fields), []
    for p in fields:
        v = x[:, start : start + p.dim]
        if is_trivial(p):
            out.append(torch.nn.functional.silu(v))
        else:
            out.append(v * torch.sigmoid(x[:, gate : gate + 1]))
            gate += 1
        start += p.dim
    return torch.cat(out, 1)


def _steerable(group: SO2 | O2) -> Rep:
    """Scalars and 2-D irreps of SO(2) / O(2), interleaved."""
    first = irrep(group, 1) if isinstance(group, SO2) else irrep(group, (1, 1))
    second = irrep(group, 2) if isinstance(group, SO2) else irrep(group, (1, 2))
    return trivial(group) + 2 * first + second + trivial(group)


def test_gated_rep_puts_one_gate_per_non_scalar_field_first() -> None:
    group = SO(3)
    v, s = standard(group), trivial(group)
    assert gated(3 * s + 2 * v).dim == 2 + 3 + 6
    assert gated(3 * s) == 3 * s
    assert gated(GridRep(s + v)) == GridRep(gated(s + v))


def test_gate_formula_gates_first_in_both_layouts() -> None:
    group = SO(2)
    v, s = standard(group), trivial(group)
    x = torch.tensor([[0.5, 1.0, 2.0, 3.0]])  # gate, scalar, vector
    expected = torch.cat(
        [torch.nn.functional.silu(x[:, 1:2]), x[:, 2:] * torch.sigmoid(x[:, :1])], 1
    )
    torch.testing.assert_close(GatedNonlinearity(s + v)(x), expected)
    image = GatedNonlinearity(GridRep(s + v))(_as_images(x))
    torch.testing.assert_close(image, _as_images(expected))


def test_norm_formula_in_both_layouts() -> None:
    rep = irrep(SO2(), 1) + trivial(SO2())
    x = torch.tensor([[3.0, 4.0, -0.5]])
    # ‖(3, 4)‖ = 5 → relu(5 - 2)/5 = 0.6; the scalar -0.5 → relu(0.5 + 1)/0.5 = 3
    expected = torch.tensor([[1.8, 2.4, -1.5]])
    for layer, data in ((NormNonlinearity(rep), x), (NormNonlinearity(GridRep(rep)), x)):
        with torch.no_grad():
            layer.bias.copy_(torch.tensor([-2.0, 1.0]))
            images = isinstance(layer.rep_in, GridRep)
            y = layer(_as_images(data)).flatten(1) if images else layer(data)
        torch.testing.assert_close(y, expected)
    assert NormNonlinearity(rep, bias=False).bias is None


def test_norm_with_a_pointwise_activation_on_the_scalar_fields() -> None:
    """Weiler & Cesa's SO(2) nonlinearity: ELU on frequency 0, norm-ReLU (with bias) on the
    other fields; equivariant, the same map in both layouts and in its export."""
    rep = trivial(SO2()) + irrep(SO2(), 1) + trivial(SO2()) + irrep(SO2(), 2)
    layer = NormNonlinearity(rep, scalars="elu")
    assert layer.bias is not None and layer.bias.shape == (2,)  # the two non-scalar fields
    x = torch.tensor([[-0.5, 3.0, 4.0, 2.0, 0.6, 0.8]])
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([-2.0, 0.5]))
        # ELU on the scalars; (3, 4): relu(5 - 2)/5 = 0.6; (0.6, 0.8): relu(1 + 0.5)/1 = 1.5
        expected = torch.tensor([[torch.nn.functional.elu(torch.tensor(-0.5)), 1.8, 2.4, 2.0]])
        expected = torch.cat([expected, torch.tensor([[0.9, 1.2]])], 1)
        torch.testing.assert_close(layer(x), expected)
        images = NormNonlinearity(GridRep(rep), scalars="elu")
        images.bias.copy_(layer.bias)
        torch.testing.assert_close(images(_as_images(x)).flatten(1), expected)
        torch.testing.assert_close(images.export()(_as_images(x)).flatten(1), expected)
    assert_equivariant(layer, atol=1e-5)
    assert_equivariant(images, atol=1e-5)
    assert "scalars='elu'" in repr(layer)
    with pytest.raises(ValueError, match="NormNonlinearity: .*scalars.*'swish'"):
        NormNonlinearity(rep, scalars="swish")


def test_norm_gradient_is_zero_at_a_zero_field() -> None:
    layer = NormNonlinearity(standard(O(3)) + trivial(O(3))).double()
    x = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(layer(x).sum(), x)
    assert torch.isfinite(grad).all()


def _o3_gate_reps() -> list[tuple[Rep, bool]]:
    """Reps and whether the feature-major gate is the fused kernel (scalars first, gates > 0)."""
    v, s = standard(O(3)), trivial(O(3))
    t = v.tensor(v)
    return [
        (2 * s + v + t + v + t.tensor(v), True),
        (3 * s + 4 * v, True),
        (v + t, True),  # no scalars
        (v + s + v, False),  # a scalar between vectors: the general layout
        (3 * s, False),  # no gates
    ]


@pytest.mark.parametrize(("rep", "fused"), _o3_gate_reps(), ids=lambda r: str(r))
def test_gate_matches_a_field_by_field_reference_in_every_layout(rep: Rep, fused: bool) -> None:
    """Vectors, images and feature-major vectors (`forward_t`, EMLP's path): values and
    gradients against the reference, in float64."""
    torch.manual_seed(0)
    act, image = GatedNonlinearity(rep).double(), GatedNonlinearity(GridRep(rep)).double()
    assert (act._layout is not None) == fused
    x = torch.randn(5, gated(rep).dim, dtype=torch.float64, requires_grad=True)
    expected = _gate_reference(rep, x)
    grad = torch.randn_like(expected)
    (expected_grad,) = torch.autograd.grad(expected, x, grad)
    for y in (act(x), image(_as_images(x)).flatten(1), act.forward_t(x.T).T):
        torch.testing.assert_close(y, expected)
        torch.testing.assert_close(torch.autograd.grad(y, x, grad)[0], expected_grad)
    batched = torch.randn(2, 3, gated(rep).dim, dtype=torch.float64)  # any leading axes
    torch.testing.assert_close(
        act(batched), _gate_reference(rep, batched.flatten(0, 1)).view(2, 3, -1)
    )


def _family_cases() -> list[tuple[str, Rep | GridRep]]:
    """(class, rep) in both layouts: vectors of SO(3) / O(3) / D4 and image fields of C4, D4
    (regular and 2-D), SO(2), O(2)."""
    o3, so3, c4, d4 = O(3), SO(3), Cyclic(4), Dihedral(4)
    v = standard(o3)
    vectors = [trivial(o3) + 2 * v + v.tensor(v), standard(so3) + trivial(so3) + standard(so3)]
    images = [
        GridRep(2 * regular(c4) + trivial(c4)),
        GridRep(regular(d4) + standard(d4) + trivial(d4)),
        GridRep(_steerable(SO2())),
        GridRep(_steerable(O2())),
    ]
    permutation = [regular(d4) + trivial(d4), GridRep(2 * regular(c4)), GridRep(regular(d4))]
    cases: list[tuple[str, Rep | GridRep]] = [("pointwise", r) for r in permutation]
    return cases + [(kind, r) for kind in ("norm", "gated") for r in vectors + images]


def _build(kind: str, rep: Rep | GridRep) -> torch.nn.Module:
    if kind == "pointwise":
        return PointwiseNonlinearity(rep, "elu")
    if kind == "gated":
        return GatedNonlinearity(rep)
    norm = NormNonlinearity(rep)
    with torch.no_grad():
        norm.bias.uniform_(-1.0, 1.0, generator=torch.Generator().manual_seed(0))
    return norm


@pytest.mark.parametrize(("kind", "rep"), _family_cases(), ids=lambda c: str(c))
def test_every_nonlinearity_is_equivariant_in_its_layout(kind: str, rep: Rep | GridRep) -> None:
    layer = _build(kind, rep)
    assert layer.rep_out == rep
    for dtype in (torch.float32, torch.float64):
        assert_equivariant(layer, dtype=dtype)


@pytest.mark.parametrize(("kind", "rep"), _family_cases(), ids=lambda c: str(c))
def test_both_layouts_compute_the_same_map(kind: str, rep: Rep | GridRep) -> None:
    """One convention: the image layer on 1×1 images is the vector layer on their channels."""
    fibre = rep.fibre if isinstance(rep, GridRep) else rep
    vector, image = _build(kind, fibre), _build(kind, GridRep(fibre))
    x = torch.randn(4, vector.rep_in.dim, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(image(_as_images(x)).flatten(1), vector(x))


@pytest.mark.parametrize("kind", ["norm", "gated"])
def test_gradcheck_in_float64_in_both_layouts(kind: str) -> None:
    rep = _steerable(SO2())
    for typed in (rep, GridRep(rep)):
        layer = _build(kind, typed).double()
        shape = (3, layer.rep_in.dim) if typed is rep else (2, layer.rep_in.channels, 2, 2)
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(layer, (x,))


def test_pointwise_on_permutation_reps() -> None:
    for rep in (regular(Cyclic(6)), quotient(Dihedral(4), Cyclic(4)), 3 * trivial(Permutations(3))):
        assert equivariance_error(PointwiseNonlinearity(rep))["output"] < 1e-6


def test_nonlinearities_pickle_with_their_activation_names() -> None:
    x = torch.randn(2, 16, 3, 3)
    for layer in (
        PointwiseNonlinearity(GridRep(2 * regular(Cyclic(8))), "gelu"),
        NormNonlinearity(GridRep(2 * regular(Cyclic(8))), "softplus"),
    ):
        copy = pickle.loads(pickle.dumps(layer))
        assert copy.activation == layer.activation
        torch.testing.assert_close(copy(x), layer(x))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: PointwiseNonlinearity(standard(SO(2))),
            ValueError,
            r"PointwiseNonlinearity: expected permutation fields .*\(got standard\(SO2\(\)\)\); "
            "use NormNonlinearity or GatedNonlinearity",
        ),
        (
            lambda: PointwiseNonlinearity(regular(Cyclic(4)), torch.relu),
            TypeError,
            r"PointwiseNonlinearity: expected activation as a name in \['relu', .*\(got "
            r"builtin_function_or_method .*\); pass the name, e\.g\. activation='relu'",
        ),
        (
            lambda: NormNonlinearity(regular(Cyclic(4)), "swish"),
            ValueError,
            r"NormNonlinearity: expected activation in \['relu', .*\] \(got 'swish'\)",
        ),
        (
            lambda: GatedNonlinearity(8),
            TypeError,
            r"GatedNonlinearity: expected rep to be a symml Rep \(vector features\).* or a "
            r"GridRep \(image fields\) \(got int 8\)",
        ),
        (
            lambda: GatedNonlinearity(standard(O(3)))(torch.randn(2, 3)),
            ValueError,
            r"GatedNonlinearity: expected inputs \[\.\.\., 4\]",
        ),
        (
            lambda: NormNonlinearity(GridRep(standard(O(2))))(torch.randn(2, 2)),
            ValueError,
            r"NormNonlinearity: expected images of shape \[B, 2, H, W\] \(got \[2, 2\]\)",
        ),
    ],
)
def test_bad_arguments_and_inputs_raise_one_line_errors(
    build: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build()


def test_sequential_checks_chaining_at_construction() -> None:
    v = standard(O(3))
    with pytest.raises(ValueError, match=r"module 1 \(EquivariantLinear\) expects rep_in"):
        EquivariantSequential(EquivariantLinear(v, 2 * v), EquivariantLinear(v, v))
    with pytest.raises(TypeError, match="declares no rep_in"):
        EquivariantSequential(EquivariantLinear(v, v), torch.nn.ReLU())


def test_sequential_is_checked_like_a_layer() -> None:
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    net = EquivariantSequential(
        EquivariantLinear(v + s, gated(2 * v + s)),
        GatedNonlinearity(2 * v + s),
        EquivariantLinear(2 * v + s, v),
    )
    assert equivariance_error(net)["output"] < 1e-5


def test_bilinear_residual_adds_the_input_with_its_gradients() -> None:
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    rep = 2 * s + v + v.tensor(v)
    layer = EquivariantBilinear(rep, rep).double()
    xt = torch.randn(rep.dim, 4, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(layer.forward_t(xt, residual=True), layer.forward_t(xt) + xt)
    # with no scalars, no path writes the T(2) outputs: the residual alone must carry them
    bare = v + v.tensor(v)
    no_scalars = EquivariantBilinear(bare, bare).double()
    x_bare = torch.randn(bare.dim, 4, dtype=torch.float64)
    torch.testing.assert_close(
        no_scalars.forward_t(x_bare, residual=True), no_scalars.forward_t(x_bare) + x_bare
    )
    assert torch.autograd.gradcheck(lambda x: layer.forward_t(x, residual=True), (xt,))
    assert torch.autograd.gradgradcheck(lambda x: layer.forward_t(x, residual=True), (xt,))
    other = EquivariantBilinear(rep, 2 * v).double()
    with pytest.raises(ValueError, match="residual needs rep_in = rep_out"):
        other.forward_t(xt, residual=True)


def test_bilinear_scale_multiplies_the_products_and_is_checked() -> None:
    torch.manual_seed(0)
    v = standard(O(3))
    rep = trivial(O(3)) + v + v.tensor(v)
    layer = EquivariantBilinear(rep, rep).double()
    scaled = EquivariantBilinear(rep, rep, scale=0.1).double()
    scaled.load_state_dict(layer.state_dict())
    x = torch.randn(4, rep.dim, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(scaled(x), 0.1 * layer(x))
    assert torch.autograd.gradgradcheck(scaled, (x,))  # the fused kernel and its reference agree
    for bad in (0, -1.0, True, "0.1"):
        with pytest.raises(ValueError, match=r"EquivariantBilinear: scale must be a positive"):
            EquivariantBilinear(rep, rep, scale=bad)  # type: ignore[arg-type]
