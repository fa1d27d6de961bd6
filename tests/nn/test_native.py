"""The compiled contraction kernel (`symml.nn._native`) against einsum, and its fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from symml.nn import _native

needs_kernel = pytest.mark.skipif(
    not _native.available(), reason="no C++ compiler here: the kernel could not be built"
)


def _operands(
    a: int, k: int, c: int, n: int, dtype: torch.dtype, transposed: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x [a, k, n], y [k, c, n] and out [a, c, n] inside a larger buffer (rows around it)."""
    if transposed:  # as the backward passes them: transposed views, batch still innermost
        x = torch.randn(k, a, n, dtype=dtype).transpose(0, 1)
        y = torch.randn(c, k, n, dtype=dtype).transpose(0, 1)
    else:
        x, y = torch.randn(a, k, n, dtype=dtype), torch.randn(k, c, n, dtype=dtype)
    buffer = torch.randn(c, a + 2, n, dtype=dtype)
    return x, y, buffer, buffer[:, 1 : a + 1].transpose(0, 1)


@needs_kernel
@given(
    a=st.integers(0, 9),
    k=st.integers(0, 12),
    c=st.integers(1, 9),
    n=st.sampled_from([1, 5, 63, 64, 65, 130, 500]),  # around the kernel's 64-wide blocks
    double=st.booleans(),
    accumulate=st.booleans(),
    transposed=st.booleans(),
)
def test_contract_matches_einsum(
    a: int, k: int, c: int, n: int, double: bool, accumulate: bool, transposed: bool
) -> None:
    dtype = torch.float64 if double else torch.float32
    torch.manual_seed(a * 1000 + k * 100 + c * 10 + n)
    x, y, buffer, out = _operands(a, k, c, n, dtype, transposed)
    before = buffer.clone()
    assert _native.contract_into(out, x, y, accumulate)
    expected = torch.einsum("akn,kcn->acn", x.double(), y.double())
    if accumulate:
        expected = expected + before[:, 1 : a + 1].transpose(0, 1).double()
    tol = 1e-12 if double else 1e-5
    torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)
    # the rows around the target are untouched
    assert torch.equal(buffer[:, 0], before[:, 0]) and torch.equal(buffer[:, -1], before[:, -1])


@needs_kernel
@pytest.mark.parametrize("n", [7, 64, 150])
def test_contract_from_an_init_tensor(n: int) -> None:
    """``out = init + Σ_k x y`` with ``init`` another (strided) tensor, left unchanged."""
    torch.manual_seed(n)
    x, y, _, out = _operands(4, 5, 3, n, torch.float64, transposed=True)
    init = torch.randn(3, 4, n, dtype=torch.float64).transpose(0, 1)  # [4, 3, n], strided
    kept = init.clone()
    assert _native.contract_into(out, x, y, accumulate=False, init=init)
    torch.testing.assert_close(out, kept + torch.einsum("akn,kcn->acn", x, y))
    assert torch.equal(init, kept)


@needs_kernel
def test_contract_same_result_on_any_number_of_threads() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(32, 9, 500), torch.randn(9, 27, 500)
    outs = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            out = torch.empty(32, 27, 500)
            assert _native.contract_into(out, x, y, accumulate=False)
            outs.append(out)
    finally:
        torch.set_num_threads(threads)
    # each output entry is summed by one thread in one order: bit-identical
    assert all(torch.equal(outs[0], other) for other in outs[1:])


def test_contract_declines_what_it_does_not_handle() -> None:
    x, y, out = torch.randn(3, 4, 8), torch.randn(4, 5, 8), torch.empty(3, 5, 8)
    assert not _native.contract_into(out.long(), x.long(), y.long(), False)  # integer dtype
    assert not _native.contract_into(out, x.double(), y, False)  # mixed dtypes
    strided = torch.randn(3, 4, 16)[:, :, ::2]  # batch not contiguous
    assert not _native.contract_into(out, strided, y, False)
    with _native.disabled():
        assert not _native.contract_into(out, x, y, False)


def test_bilinear_layer_same_with_and_without_the_kernel() -> None:
    """The whole fused layer, forward and every gradient, on both contraction paths."""
    from symml.groups import O
    from symml.nn import EquivariantBilinear
    from symml.reps import standard, trivial

    torch.manual_seed(0)
    v, s = standard(O(3)), trivial(O(3))
    rep = 3 * s + 4 * v + 3 * v.tensor(v) + 2 * v.tensor(v).tensor(v)
    layer = EquivariantBilinear(rep, rep).double()
    x = torch.randn(rep.dim, 70, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(rep.dim, 70, dtype=torch.float64)

    def run() -> list[torch.Tensor]:
        y = layer.forward_t(x, residual=True)
        return [y, *torch.autograd.grad(y, [x, *layer.weights], grad)]

    native = run()
    with _native.disabled():
        stock = run()
    for got, expected in zip(native, stock, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_failed_build_warns_and_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_native, "_loaded", [])
    monkeypatch.setattr(_native, "_kernels", {})
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SYMML_NATIVE", raising=False)
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(UserWarning, match="could not build the native contraction kernel"):
        assert _native.library() is None
    x, y, out = torch.randn(3, 4, 8), torch.randn(4, 5, 8), torch.empty(3, 5, 8)
    assert not _native.contract_into(out, x, y, False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no half-built library left


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native, "_loaded", [])
    monkeypatch.setattr(_native, "_kernels", {})
    monkeypatch.setenv("SYMML_NATIVE", "0")
    assert _native.library() is None  # and no warning: asked for


@needs_kernel
def test_built_once_into_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_native, "_loaded", [])
    monkeypatch.setattr(_native, "_kernels", {})
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    assert _native.library() is not None
    built = list((tmp_path / "kernels").glob("contract-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(_native, "_loaded", [])  # a new process: finds it, does not rebuild
    assert _native.library() is not None
    assert built[0].stat().st_mtime_ns == stamp
