"""`assert_equivariant` on vector inputs ``[B, d]``: it passes on maps that are equivariant and
fails on maps that are not; several outputs, float64 runs, module attributes and argument errors."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from symml.groups import O3, SO3, Cyclic, Dihedral
from symml.reps import Rep, intertwiners, regular, standard, trivial
from symml.testing import assert_equivariant, equivariance_error


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_intertwiner(rep_in: Rep, rep_out: Rep, seed: int = 0) -> Tensor:
    """A random combination ``[d_out, d_in]`` (float64) of the basis of Hom_G(rep_in, rep_out)."""
    basis = intertwiners(rep_in, rep_out)
    assert basis.shape[0] > 0, f"no intertwiners {rep_in} → {rep_out}"
    coeffs = torch.randn(basis.shape[0], generator=_generator(seed), dtype=torch.float64)
    return torch.einsum("k,kij->ij", coeffs, basis)


def _linear(w: Tensor):
    """``x ↦ W x`` in the input's dtype (W kept in float64, cast on use)."""
    return lambda x: x @ w.to(x.dtype).T


def _so3_tensor_square() -> tuple[Rep, Rep]:
    t = standard(SO3()).tensor(standard(SO3()))
    return t, t.decompose().rep


def _vector_cases() -> dict[str, tuple[Rep, Rep]]:
    d4 = regular(Dihedral(4))
    return {"regular_D4": (d4, d4), "SO3_tensor_square": _so3_tensor_square()}


CASES = _vector_cases()
DTYPES = [torch.float32, torch.float64]


# ----- linear maps from the intertwiner basis ----------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_intertwiner_combination_passes(case: str, dtype: torch.dtype) -> None:
    rep_in, rep_out = CASES[case]
    w = _random_intertwiner(rep_in, rep_out, seed=1)
    errors = assert_equivariant(_linear(w), rep_in, rep_out, dtype=dtype)
    assert set(errors) == {"output"}
    if dtype == torch.float64:
        assert errors["output"] < 1e-12


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_random_dense_matrix_fails(case: str, dtype: torch.dtype) -> None:
    rep_in, rep_out = CASES[case]
    w = torch.randn(rep_out.dim, rep_in.dim, generator=_generator(2), dtype=torch.float64)
    with pytest.raises(AssertionError, match=r"not equivariant .*output: "):
        assert_equivariant(_linear(w), rep_in, rep_out, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_small_perturbation_of_an_intertwiner_fails(case: str, dtype: torch.dtype) -> None:
    rep_in, rep_out = CASES[case]
    w = _random_intertwiner(rep_in, rep_out, seed=3)
    noise = torch.randn(w.shape, generator=_generator(4), dtype=torch.float64)
    error = equivariance_error(_linear(w + 1e-3 * noise), rep_in, rep_out, dtype=dtype)["output"]
    assert 1e-4 < error < 1e-1  # the harness resolves an error of the perturbation's size
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(_linear(w + 1e-3 * noise), rep_in, rep_out, dtype=dtype)


# ----- nonlinear invariants ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_norm_is_an_o3_invariant(dtype: torch.dtype) -> None:
    errors = assert_equivariant(
        lambda x: x.norm(dim=-1, keepdim=True), standard(O3()), trivial(O3()), dtype=dtype
    )
    assert errors["output"] < (1e-12 if dtype == torch.float64 else 1e-6)


def test_a_coordinate_is_not_an_o3_invariant() -> None:
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda x: x[:, :1], standard(O3()), trivial(O3()))


def test_norm_is_not_an_o3_vector() -> None:
    # an invariant typed as a vector output: ‖x‖·(1,1,1) does not rotate
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: x.norm(dim=-1, keepdim=True).expand(-1, 3), standard(O3()), standard(O3())
        )


# ----- several outputs ---------------------------------------------------------------------------
def _two_outputs(broken: str | None):
    rho = regular(Dihedral(4))
    w = _random_intertwiner(rho, rho, seed=5)
    bad = torch.randn(rho.dim, rho.dim, generator=_generator(6), dtype=torch.float64)

    def features(x: Tensor) -> Tensor:
        return _linear(bad if broken == "features" else w)(x)

    def pooled(x: Tensor) -> Tensor:
        return x[:, :1] if broken == "pooled" else x.mean(-1, keepdim=True)

    return rho, features, pooled


@pytest.mark.parametrize("broken", [None, "features", "pooled"])
def test_tuple_outputs_are_reported_by_position(broken: str | None) -> None:
    rho, features, pooled = _two_outputs(broken)
    rep_out = (rho, trivial(Dihedral(4)))
    errors = equivariance_error(lambda x: (features(x), pooled(x)), rho, rep_out)
    assert set(errors) == {"0", "1"}
    failing = {k for k, v in errors.items() if v > 1e-5}
    assert failing == {None: set(), "features": {"0"}, "pooled": {"1"}}[broken]


@pytest.mark.parametrize("broken", [None, "features", "pooled"])
def test_dict_outputs_are_reported_by_name(broken: str | None) -> None:
    rho, features, pooled = _two_outputs(broken)
    rep_out = {"features": rho, "pooled": trivial(Dihedral(4))}

    def f(x: Tensor) -> dict[str, Tensor]:
        return {"pooled": pooled(x), "features": features(x)}

    if broken is None:
        assert set(assert_equivariant(f, rho, rep_out)) == {"features", "pooled"}
        return
    other = ({"features", "pooled"} - {broken}).pop()
    with pytest.raises(AssertionError, match=rf"{broken}: ") as info:
        assert_equivariant(f, rho, rep_out)
    assert other not in str(info.value)  # only the broken output is named


# ----- modules: float64 copies and rep_in / rep_out attributes -----------------------------------
class _ReynoldsLinear(nn.Module):
    """``W = mean_g ρ_out(g) W₀ ρ_in(g)ᵀ``: equivariant in every dtype for a finite group."""

    def __init__(self, rep_in: Rep, rep_out: Rep, seed: int = 0) -> None:
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out
        g = rep_in.group.elements()
        self.register_buffer("mats_in", rep_in(g, dtype=torch.float32))
        self.register_buffer("mats_out", rep_out(g, dtype=torch.float32))
        self.weight = nn.Parameter(torch.randn(rep_out.dim, rep_in.dim, generator=_generator(seed)))

    def forward(self, x: Tensor) -> Tensor:
        w = torch.einsum("gij,jk,glk->il", self.mats_out, self.weight, self.mats_in)
        return x @ (w / self.mats_in.shape[0]).T


@pytest.mark.parametrize("group", [Cyclic(6), Dihedral(4)], ids=repr)
def test_float64_copies_and_casts_a_module(group) -> None:
    module = _ReynoldsLinear(regular(group), regular(group))
    errors = assert_equivariant(module, dtype=torch.float64)
    assert errors["output"] < 1e-12
    # the module itself was not cast: the harness ran a float64 deep copy
    assert module.weight.dtype == torch.float32
    assert module.mats_in.dtype == torch.float32
    assert float(equivariance_error(module)["output"]) < 1e-5  # float32 run still works


def test_float64_module_input_is_cast_too() -> None:
    module = _ReynoldsLinear(regular(Cyclic(4)), regular(Cyclic(4)))
    x = torch.randn(3, 4, generator=_generator(7))  # float32 input, float64 module
    assert assert_equivariant(module, x=x, dtype=torch.float64)["output"] < 1e-12


def test_reps_are_read_from_module_attributes() -> None:
    module = _ReynoldsLinear(regular(Dihedral(4)), regular(Dihedral(4)))
    assert set(assert_equivariant(module)) == {"output"}
    module.rep_out = trivial(Dihedral(4))  # now the declared output type is wrong
    with pytest.raises(ValueError, match=r"expected output 'output' of shape \[\.\.\., 1\]"):
        assert_equivariant(module)


def test_explicit_reps_override_module_attributes() -> None:
    rho = regular(Dihedral(4))
    module = _ReynoldsLinear(rho, rho)
    module.rep_in = module.rep_out = trivial(Dihedral(4))  # wrong, but overridden below
    assert set(assert_equivariant(module, rho, rho)) == {"output"}


@pytest.mark.parametrize("missing", ["rep_in", "rep_out"])
def test_module_without_reps_raises_type_error(missing: str) -> None:
    module = nn.Linear(8, 8)
    if missing == "rep_out":
        module.rep_in = regular(Dihedral(4))
    with pytest.raises(TypeError, match=rf"pass {missing}=\.\.\., or give Linear a `{missing}`"):
        assert_equivariant(module)


# ----- argument errors ---------------------------------------------------------------------------
def test_wrong_input_width_for_a_vector_rep() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"expected inputs \[B, 8\] for regular\(Dihedral\(4\)\)"):
        assert_equivariant(lambda x: x, rho, rho, x=torch.randn(4, 5))


def test_elements_of_another_group() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"elements of Cyclic\(4\) given for reps of Dihedral"):
        assert_equivariant(lambda x: x, rho, rho, elements=Cyclic(4).elements())


@pytest.mark.parametrize("rep_out", [regular(Cyclic(8)), {"a": regular(Cyclic(8))}], ids=str)
def test_rep_out_of_another_group(rep_out) -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"output '(output|a)' is typed for Cyclic\(8\)"):
        assert_equivariant(lambda x: x, rho, rep_out)


def test_f_returns_fewer_outputs_than_rep_out_names() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"rep_out names 3 outputs .* but f returned tuple"):
        assert_equivariant(lambda x: (x, x), rho, (rho, rho, rho))


@pytest.mark.parametrize("width", [1, 9])
def test_output_width_must_match_rep_out(width: int) -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(
        ValueError, match=rf"output '1' of shape \[\.\.\., 8\] .* \(got \[4, {width}\]\)"
    ):
        assert_equivariant(lambda x: (x, x[:, :1].expand(-1, width)), rho, (rho, rho))


def test_f_returns_a_dict_without_a_named_output() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(ValueError, match=r"names 2 outputs \(\['a', 'b'\]\), .* keys \['a'\]"):
        assert_equivariant(lambda x: {"a": x}, rho, {"a": rho, "b": rho})


def test_elements_as_a_raw_tensor() -> None:
    rho = regular(Dihedral(4))
    with pytest.raises(TypeError, match=r"expected `elements` as symml Elements \(got Tensor\)"):
        assert_equivariant(lambda x: x, rho, rho, elements=torch.arange(8))
