"""EquivariantLinear: equivariance for random reps of every group family, parameter count equal
to dim Hom_G by characters / irreps, initialisation scale, caching, errors."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from symml.groups import SO, Cyclic, Group, O, Translations, direct_product
from symml.nn import EquivariantLinear
from symml.reps import Rep, intertwiners, standard, trivial
from symml.testing import assert_equivariant, equivariance_error
from symml.testing.strategies import GROUPS, reps

FINITE = ["C5", "D4", "S4"]
COMPACT_DECOMPOSABLE = ["O2", "SO2", "O3", "SO3"]


def _hom_dim_by_characters(rep_in: Rep, rep_out: Rep) -> int:
    """dim Hom_G(ρ, σ) = (1/|G|) Σ_g χ_ρ(g) χ_σ(g) for real reps of a finite group."""
    g = rep_in.group.elements()
    chi = rep_in.character(g, torch.float64) * rep_out.character(g, torch.float64)
    return round(float(chi.mean()))


def _hom_dim_by_irreps(rep_in: Rep, rep_out: Rep) -> int:
    """Σ_π m_in(π) m_out(π) dim End(π): End(π) is 2-dimensional for the complex-type real irreps
    of SO(2) (frequency k >= 1), 1-dimensional for the others used here."""
    m_in = dict(rep_in.decompose().irreps)
    m_out = dict(rep_out.decompose().irreps)
    total = 0
    for pi, m in m_in.items():
        if pi in m_out:
            end = 2 if pi.group == SO(2) and getattr(pi, "key", 0) != 0 else 1
            total += m * m_out[pi] * end
    return total


def _layer(rep_in: Rep, rep_out: Rep) -> EquivariantLinear | None:
    try:
        return EquivariantLinear(rep_in, rep_out)
    except ValueError as err:  # no nonzero map: the layer refuses, and says why
        assert "Hom_G(rep_in, rep_out) is zero" in str(err)
        assert len(intertwiners(rep_in, rep_out)) == 0
        return None


def _draw_layer(name: str, data: st.DataObject) -> EquivariantLinear | None:
    """A layer between two hypothesis-drawn reps of ``GROUPS[name]`` (None: Hom is zero)."""
    group = GROUPS[name]
    rep_in, rep_out = data.draw(reps(group)), data.draw(reps(group))
    torch.manual_seed(0)
    return _layer(rep_in, rep_out)


@pytest.mark.parametrize("name", sorted(GROUPS))
@given(data=st.data())
def test_equivariant_for_random_reps(name: str, data: st.DataObject) -> None:
    layer = _draw_layer(name, data)
    assume(layer is not None)  # Hom is zero: the layer refused, `_layer` checked that it says why
    with torch.no_grad():  # a random bias too, so that the invariant-bias claim is tested
        if layer.bias_coefficients is not None:
            layer.bias_coefficients.normal_()
    errors = equivariance_error(layer, n_elements=4)
    assert errors["output"] < 1e-5, (layer.rep_in, layer.rep_out, errors)


@pytest.mark.parametrize("name", FINITE)
@given(data=st.data())
def test_parameter_count_is_dim_hom_by_characters(name: str, data: st.DataObject) -> None:
    group = GROUPS[name]
    rep_in, rep_out = data.draw(reps(group)), data.draw(reps(group))
    layer = _layer(rep_in, rep_out)
    expected = _hom_dim_by_characters(rep_in, rep_out)
    if layer is None:
        assert expected == 0
        return
    assert layer.weight_coefficients.numel() == expected
    bias = 0 if layer.bias_coefficients is None else layer.bias_coefficients.numel()
    assert bias == _hom_dim_by_characters(trivial(group), rep_out)


@pytest.mark.parametrize("name", COMPACT_DECOMPOSABLE)
@given(data=st.data())
def test_parameter_count_is_dim_hom_by_irreps(name: str, data: st.DataObject) -> None:
    group = GROUPS[name]
    rep_in, rep_out = data.draw(reps(group, max_dim=12)), data.draw(reps(group, max_dim=12))
    layer = _layer(rep_in, rep_out)
    expected = _hom_dim_by_irreps(rep_in, rep_out)
    assert (0 if layer is None else layer.weight_coefficients.numel()) == expected


def test_product_group_parameter_count_by_characters() -> None:
    group = direct_product(Cyclic(3), GROUPS["D4"])
    from symml.reps import regular

    rep_in, rep_out = regular(group), 2 * standard(group)
    layer = EquivariantLinear(rep_in, rep_out)
    assert layer.weight_coefficients.numel() == _hom_dim_by_characters(rep_in, rep_out)


def test_o3_inertia_reps() -> None:
    group = O(3)
    v, s = standard(group), trivial(group)
    layer = EquivariantLinear(5 * s + 5 * v, v.tensor(v))
    # Hom(S, V⊗V) is the identity matrix, Hom(V, V⊗V) = 0 for O(3): 5 weights, 1 bias (trace)
    assert layer.weight_coefficients.numel() == 5
    assert layer.bias_coefficients is not None and layer.bias_coefficients.numel() == 1
    assert_equivariant(layer, atol=1e-5)


def test_float64_and_gradcheck() -> None:
    group = SO(3)
    v = standard(group)
    layer = EquivariantLinear(2 * v + trivial(group), v.tensor(v)).double()
    assert equivariance_error(layer, dtype=torch.float64)["output"] < 1e-12
    x = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_output_variance_is_about_one() -> None:
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    rep = 40 * s + 8 * v + 2 * v.tensor(v)
    layer = EquivariantLinear(rep, rep, bias=False)
    with torch.no_grad():
        y = layer(torch.randn(4000, rep.dim))
        energy = (layer.weight() ** 2).sum(1)
    var = y.var(0)[energy > 0]
    assert 0.5 < float(var.mean()) < 1.5


def test_eval_cache_follows_parameter_updates() -> None:
    torch.manual_seed(0)
    layer = EquivariantLinear(2 * standard(SO(3)), standard(SO(3))).eval()
    x = torch.randn(2, 6)
    with torch.no_grad():
        first = layer(x)
        layer.weight_coefficients.mul_(2.0)
        second = layer(x)
    torch.testing.assert_close(second, 2 * first)


def test_state_dict_pickle_deepcopy_round_trip() -> None:
    torch.manual_seed(0)
    layer = EquivariantLinear(3 * standard(Cyclic(4)), 2 * trivial(Cyclic(4)) + standard(Cyclic(4)))
    x = torch.randn(5, 6)
    keys_train = set(layer.state_dict())
    layer.eval()
    with torch.no_grad():
        expected = layer(x)  # fills the eval cache
    assert set(layer.state_dict()) == keys_train
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        torch.testing.assert_close(clone(x), expected)
    fresh = EquivariantLinear(layer.rep_in, layer.rep_out)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x), expected)


def test_reps_of_different_groups() -> None:
    with pytest.raises(
        ValueError, match=r"rep_in is a representation of O3\(\).*expected one group"
    ):
        EquivariantLinear(standard(O(3)), standard(SO(3)))


def test_not_a_rep() -> None:
    with pytest.raises(TypeError, match="expected rep_out to be a symml Rep"):
        EquivariantLinear(standard(O(3)), 3)  # type: ignore[arg-type]


def test_empty_basis_names_reps_and_fix() -> None:
    v = standard(O(3))
    with pytest.raises(
        ValueError, match=r"Hom_G\(rep_in, rep_out\) is zero .*standard\(O3\(\)\).*Add"
    ):
        EquivariantLinear(v, v.tensor(v), bias=False)


def test_group_the_solver_cannot_handle() -> None:
    group: Group = Translations(2)
    with pytest.raises(ValueError, match="cannot solve for equivariant maps of Translations"):
        EquivariantLinear(2 * trivial(group), trivial(group))


def test_wrong_input_width() -> None:
    layer = EquivariantLinear(standard(O(3)), standard(O(3)))
    with pytest.raises(ValueError, match=r"expected inputs \[\.\.\., 3\].*got \[2, 4\]"):
        layer(torch.randn(2, 4))


def _slow_weight(layer: EquivariantLinear) -> torch.Tensor:
    """W = Σ θ_{pqk} B^{ab}_k placed copy by copy, from the bases of each pair of field types."""
    from symml.nn._types import field_types

    theta = layer.weight_coefficients.detach().to(torch.float64)
    w = torch.zeros(layer.rep_out.dim, layer.rep_in.dim, dtype=torch.float64)
    start = 0
    for b in field_types(layer.rep_out):
        for a in field_types(layer.rep_in):
            basis = intertwiners(a.rep, b.rep)
            for p, row in enumerate(b.offsets):
                for q, col in enumerate(a.offsets):
                    for k in range(len(basis)):
                        block = w[row : row + b.rep.dim, col : col + a.rep.dim]
                        block += theta[start + (p * a.copies + q) * len(basis) + k] * basis[k]
            start += b.copies * a.copies * len(basis)
    return w


@pytest.mark.parametrize("layout", ["sorted", "interleaved"])
def test_block_assembly_matches_a_slow_reference(layout: str) -> None:
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    t = v.tensor(v)
    rep = 3 * s + 2 * v + t if layout == "sorted" else s + v + t + 2 * s + v + t + s
    layer = EquivariantLinear(rep, rep + s + v).double()
    torch.testing.assert_close(layer.weight(), _slow_weight(layer))
    bias = layer.bias()
    assert bias is not None and layer.bias_coefficients is not None
    with torch.no_grad():
        layer.bias_coefficients.normal_()
    x = torch.randn(4, rep.dim, dtype=torch.float64)
    expected = x @ _slow_weight(layer).T + layer.bias()
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.forward_t(x.T), expected.T)


def _structured_matches_dense(layer: EquivariantLinear, batch: int = 3) -> None:
    """forward_t (type by type, W never built) against ``W x + b`` with the reference W, outputs
    and gradients (inputs, θ, bias), in float64."""
    layer = layer.double().train()
    if layer.bias_coefficients is not None:
        with torch.no_grad():
            layer.bias_coefficients.normal_()
    x = torch.randn(layer.rep_in.dim, batch, dtype=torch.float64, requires_grad=True)
    params = [x, *layer.parameters()]
    y = layer.forward_t(x)
    bias = layer.bias()
    expected = layer.weight() @ x + (0 if bias is None else bias[:, None])
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-12)
    grad = torch.randn_like(y)
    for got, want in zip(
        torch.autograd.grad(y, params, grad, allow_unused=True, materialize_grads=True),
        torch.autograd.grad(expected, params, grad, allow_unused=True, materialize_grads=True),
        strict=True,
    ):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["O3", "SO2", "D4", "S4"])
@given(data=st.data())
def test_structured_forward_matches_dense_weight(name: str, data: st.DataObject) -> None:
    layer = _draw_layer(name, data)
    assume(layer is not None)  # Hom is zero: the layer refused, `_layer` checked that it says why
    _structured_matches_dense(layer)


def test_structured_forward_interleaved_reps() -> None:
    """Interleaved copies in and out; S, V, T(2) and T(3) blocks in every pair that has one."""
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    t2, t3 = v.tensor(v), v.tensor(v).tensor(v)
    rep_in = 6 * s + v + t2 + 2 * s + 3 * v + t3 + t2 + s
    rep_out = t2 + 4 * s + 2 * v + t3 + t2 + 3 * s + v
    for bias in (True, False):
        _structured_matches_dense(EquivariantLinear(rep_in, rep_out, bias=bias), batch=5)
    _structured_matches_dense(EquivariantLinear(s, t2 + s + t2), batch=1)  # bias-only types
    # input types that no block reads (T(2) → V is zero for O(3)), between read ones: their
    # gradient rows must come out zero, not left unwritten
    _structured_matches_dense(EquivariantLinear(t2 + v + t2 + v + t2, v), batch=4)
    layer = EquivariantLinear(rep_in, rep_out)
    assert layer.forward_t(torch.randn(rep_in.dim, 0)).shape == (rep_out.dim, 0)


def test_structured_forward_double_backward() -> None:
    """Second derivatives (``create_graph=True``) replay the layer with recorded ops: checked
    for the input, θ and the bias, on interleaved reps (the type-ordered layout is permuted)."""
    torch.manual_seed(0)
    group = O(3)
    v, s = standard(group), trivial(group)
    rep_in, rep_out = v + 2 * s + v.tensor(v) + v, s + v + v.tensor(v) + s
    layer = EquivariantLinear(rep_in, rep_out).double().train()
    feature_major = _FeatureMajor(layer)

    def f(x: torch.Tensor, theta: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        params = {"layer.weight_coefficients": theta, "layer.bias_coefficients": beta}
        out: torch.Tensor = torch.func.functional_call(feature_major, params, (x,))
        return out

    x = torch.randn(rep_in.dim, 2, dtype=torch.float64, requires_grad=True)
    theta = layer.weight_coefficients.detach().clone().requires_grad_()
    beta = torch.randn_like(layer.bias_coefficients).requires_grad_()  # type: ignore[arg-type]
    assert torch.autograd.gradgradcheck(f, (x, theta, beta))


class _FeatureMajor(torch.nn.Module):
    def __init__(self, layer: EquivariantLinear) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, xt: torch.Tensor) -> torch.Tensor:
        return self.layer.forward_t(xt)
