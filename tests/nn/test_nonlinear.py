"""Bilinear layer, gated / norm / pointwise nonlinearities and the checked container."""

from __future__ import annotations

import contextlib

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from symml.groups import SO, Cyclic, Dihedral, O, Permutations
from symml.nn import (
    EquivariantBilinear,
    EquivariantLinear,
    EquivariantSequential,
    GatedNonlinearity,
    NormNonlinearity,
    PointwiseNonlinearity,
    gated,
)
from symml.nn.bilinear import bilinear_paths
from symml.reps import quotient, regular, standard, trivial
from symml.testing import equivariance_error
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


@pytest.mark.parametrize("name", ["O3", "D4", "S4", "O3xS3"])
@given(data=st.data())
def test_fused_bilinear_equals_the_recorded_ops_with_gradients(
    name: str, data: st.DataObject
) -> None:
    """`_BilinearFunction` (one autograd node, shared GEMMs) against the same products recorded
    op by op, on reps whose types may be interleaved (e.g. V + S + V)."""
    group = GROUPS[name]
    base = data.draw(_with_tensors(name))
    extra = data.draw(reps(group, max_dim=6))
    rep_in = data.draw(st.sampled_from([base, extra + base, base + extra + base]))
    rep_out = data.draw(st.sampled_from([rep_in, extra + base, data.draw(reps(group, max_dim=8))]))
    assume(bilinear_paths(rep_in, rep_out))
    torch.manual_seed(0)
    layer = EquivariantBilinear(rep_in, rep_out).double()
    xt = torch.randn(rep_in.dim, 5, dtype=torch.float64, requires_grad=True)
    fused = layer.forward_t(xt)
    recorded = layer._forward_recorded(xt, list(layer.weights))
    torch.testing.assert_close(fused, recorded)
    grad = torch.randn_like(fused)
    inputs = [xt, *layer.weights]
    ours_all = torch.autograd.grad(fused, inputs, grad)
    theirs_all = torch.autograd.grad(recorded, inputs, grad)
    for ours, theirs in zip(ours_all, theirs_all, strict=True):
        torch.testing.assert_close(ours, theirs)


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


def test_gated_rep_adds_one_gate_per_non_scalar_part() -> None:
    group = SO(3)
    v, s = standard(group), trivial(group)
    assert gated(3 * s + 2 * v).dim == 3 + 6 + 2
    assert gated(3 * s) == 3 * s


def test_gate_formula() -> None:
    group = SO(2)
    v, s = standard(group), trivial(group)
    act = GatedNonlinearity(s + v)
    x = torch.tensor([[1.0, 2.0, 3.0, 0.5]])
    expected = torch.cat(
        [torch.nn.functional.silu(x[:, :1]), x[:, 1:3] * torch.sigmoid(x[:, 3:])], 1
    )
    torch.testing.assert_close(act(x), expected)


@pytest.mark.parametrize(
    "rep", [regular(Cyclic(6)), quotient(Dihedral(4), Cyclic(4)), 3 * trivial(Permutations(3))]
)
def test_pointwise_on_permutation_reps(rep) -> None:  # type: ignore[no-untyped-def]
    assert equivariance_error(PointwiseNonlinearity(rep))["output"] < 1e-6


def test_pointwise_refuses_non_permutation_reps() -> None:
    with pytest.raises(ValueError, match="not a permutation representation"):
        PointwiseNonlinearity(standard(SO(2)))


def test_nonlinearity_checks_width() -> None:
    with pytest.raises(ValueError, match=r"GatedNonlinearity: expected inputs \[\.\.\., 4\]"):
        GatedNonlinearity(standard(O(3)))(torch.randn(2, 3))


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


@pytest.mark.parametrize("shape", [(3, 2, 4), (5, 25, 5), (2, 9, 40)])
def test_batch_last_contraction_matches_einsum_and_gradcheck(shape: tuple[int, int, int]) -> None:
    from symml.nn.bilinear import _Contract

    torch.manual_seed(0)
    a, k, c = shape
    x = torch.randn(a, k, 7, dtype=torch.float64, requires_grad=True)
    y = torch.randn(k, c, 7, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(_Contract.apply(x, y), torch.einsum("akn,kcn->acn", x, y))
    assert torch.autograd.gradcheck(_Contract.apply, (x, y))


def test_large_contraction_matches_einsum_with_gradients() -> None:
    """A long k with a large product takes the unrolled branch (too big for gradcheck's
    finite differences): values and gradients against einsum's autograd."""
    from symml.nn.bilinear import _broadcast, _Contract

    torch.manual_seed(0)
    assert not _broadcast(20, 9, 40, 700)
    x = torch.randn(20, 9, 700, dtype=torch.float64, requires_grad=True)
    y = torch.randn(9, 40, 700, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(20, 40, 700, dtype=torch.float64)
    ours = torch.autograd.grad(_Contract.apply(x, y), (x, y), grad)
    reference = torch.autograd.grad(torch.einsum("akn,kcn->acn", x, y), (x, y), grad)
    for got, expected in zip(ours, reference, strict=True):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("shape", [(3, 1, 4), (3, 5, 4), (4, 12, 2), (20, 9, 40), (3, 32, 27)])
def test_contract_into_strided_operands_matches_einsum(
    shape: tuple[int, int, int], accumulate: bool, native: bool
) -> None:
    """`_contract_into` as the backward calls it: transposed operands and a strided target,
    written over or added to; the compiled kernel and every branch of the stock-op fallback
    (one product, broadcast, the unrolled loop)."""
    from symml.nn import _native
    from symml.nn.bilinear import _contract_into

    torch.manual_seed(1)
    a, k, c = shape
    n = 6
    x = torch.randn(k, a, n, dtype=torch.float64).transpose(0, 1)  # [a, k, n], not contiguous
    y = torch.randn(c, k, n, dtype=torch.float64).transpose(0, 1)  # [k, c, n], not contiguous
    buffer = torch.randn(c, a + 2, n, dtype=torch.float64)
    out = buffer[:, 1 : a + 1].transpose(0, 1)  # [a, c, n] inside a larger tensor
    before = buffer.clone()
    with contextlib.nullcontext() if native else _native.disabled():
        _contract_into(out, x, y, accumulate=accumulate)
    expected = torch.einsum("akn,kcn->acn", x, y)
    if accumulate:
        expected = expected + before[:, 1 : a + 1].transpose(0, 1)
    torch.testing.assert_close(out, expected)
    # the rows around the target are untouched
    torch.testing.assert_close(buffer[:, 0], before[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(buffer[:, a + 1], before[:, a + 1], rtol=0, atol=0)


@pytest.mark.parametrize("theta_first", [False, True])
def test_bilinear_both_contraction_orders_match(theta_first: bool) -> None:
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    rep = s + v + v.tensor(v) + 2 * s + v + v.tensor(v)  # interleaved copies
    layer = EquivariantBilinear(rep, rep).double()
    x = torch.randn(6, rep.dim, dtype=torch.float64)
    expected = layer(x)
    layer._plans = [plan._replace(theta_first=theta_first) for plan in layer._plans]
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.forward_t(x.T.contiguous()), expected.T)


def test_gate_feature_major_matches() -> None:
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    for rep in (2 * s + 3 * v, v + s + v, 3 * s):
        gate = GatedNonlinearity(rep)
        x = torch.randn(5, gated(rep).dim)
        torch.testing.assert_close(gate.forward_t(x.T), gate(x).T)


def test_gate_runs_fast_path_matches_general_path() -> None:
    """Scalars-first layout (gates broadcast per run of equal-dimension parts) against the
    general per-coordinate gate, values and gradients, both layouts."""
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    t = v.tensor(v)
    for rep in (2 * s + v + t + v + t.tensor(v), 3 * s + 4 * v, v + t):
        fast, general = GatedNonlinearity(rep), GatedNonlinearity(rep)
        assert fast._scalar_prefix >= 0
        general._scalar_prefix = -1
        width = gated(rep).dim
        for x, dim in ((torch.randn(2, 3, width), -1), (torch.randn(width, 4), 0)):
            x = x.double().requires_grad_()
            y, expected = fast._gate(x, dim), general._gate(x, dim)
            torch.testing.assert_close(y, expected)
            grad = torch.randn_like(y)
            torch.testing.assert_close(
                torch.autograd.grad(y, x, grad)[0], torch.autograd.grad(expected, x, grad)[0]
            )


def test_gates_after_scalars_is_the_same_gate_in_another_layout() -> None:
    group = O(3)
    v, s = standard(group), trivial(group)
    rep = 3 * s + 2 * v + v.tensor(v)
    appended, after = GatedNonlinearity(rep), GatedNonlinearity(rep, gates_after_scalars=True)
    assert after.rep_in.dim == appended.rep_in.dim == rep.dim + 3
    x = torch.randn(6, rep.dim + 3)
    # move the 3 gates (last columns) to right after the 3 scalars
    moved = torch.cat([x[:, :3], x[:, -3:], x[:, 3:-3]], 1)
    torch.testing.assert_close(after(moved), appended(x))
    torch.testing.assert_close(after.forward_t(moved.t()), appended(x).t())
    assert equivariance_error(after, n_elements=4)["output"] < 1e-5
    with pytest.raises(ValueError, match="scalars all come first"):
        gated(v + s, gates_after_scalars=True)


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


@pytest.mark.parametrize("after", [False, True], ids=["appended", "after_scalars"])
def test_feature_major_gate_node_matches_recorded_ops(after: bool) -> None:
    """`forward_t`'s one-node gate against the same gate recorded op by op: values, gradients
    and second derivatives, in float64."""
    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    rep = 3 * s + 2 * v + v + v.tensor(v) + v.tensor(v).tensor(v)
    gate = GatedNonlinearity(rep, gates_after_scalars=after).double()
    xt = torch.randn(gate.rep_in.dim, 4, dtype=torch.float64, requires_grad=True)
    fused, recorded = gate.forward_t(xt), gate._gate_recorded(xt)
    torch.testing.assert_close(fused, recorded)
    grad = torch.randn_like(fused)
    (ours,) = torch.autograd.grad(fused, xt, grad)
    (theirs,) = torch.autograd.grad(recorded, xt, grad)
    torch.testing.assert_close(ours, theirs)
    assert torch.autograd.gradgradcheck(gate.forward_t, (xt,))
