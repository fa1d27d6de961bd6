"""Building and loading the compiled contraction kernel (`symml.nn._kernels.native`): thread
counts, what it declines, a failed build, the environment switch, the on-disk cache. Its sums
against einsum, and the stock fallback's, are in test_kernels.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from symml.nn._kernels import contract, native

needs_kernel = pytest.mark.skipif(
    not native.available(), reason="no C++ compiler here: the kernel could not be built"
)


def _program(a: int, k: int, c: int) -> contract.Program:
    """``out [a, c] = x [a, k] · y [k, c]`` per sample, on buffers ``[x, y, out]``."""
    views = (contract.View(i, 0, (s, 0, 1, 0)) for i, s in ((2, c), (0, k), (1, c)))
    return contract.program([contract.Job(*views, (a, 1, k, 1, c, 1))])  # type: ignore[call-arg]


@needs_kernel
def test_same_result_on_any_number_of_threads() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(32 * 9, 500), torch.randn(9 * 27, 500)
    outs = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            out = torch.empty(32 * 27, 500)
            assert native.run_program(_program(32, 9, 27).table, [x, y, out])
            outs.append(out)
    finally:
        torch.set_num_threads(threads)
    # each output entry is summed by one thread in one order: bit-identical
    assert all(torch.equal(outs[0], other) for other in outs[1:])


def test_declines_what_it_does_not_handle() -> None:
    table = _program(3, 4, 5).table
    x, y, out = torch.randn(12, 8), torch.randn(20, 8), torch.empty(15, 8)
    assert not native.run_program(table, [x.long(), y.long(), out.long()])  # integer dtype
    assert not native.run_program(table, [x, y.double(), out])  # mixed dtypes
    assert not native.run_program(table, [x, torch.randn(20, 16)[:, ::2], out])  # not contiguous
    assert not native.run_program(table, [x, y[:, :4], out])  # another batch size
    with native.disabled():
        assert not native.run_program(table, [x, y, out])


def test_failed_build_warns_and_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(native, "_loaded", [])
    monkeypatch.setattr(native, "_kernels", {})
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SYMML_NATIVE", raising=False)
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(UserWarning, match="could not build the native contraction kernel"):
        assert native.library() is None
    buffers = [torch.randn(12, 8), torch.randn(20, 8), torch.empty(15, 8)]
    assert not native.run_program(_program(3, 4, 5).table, buffers)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no half-built library left


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_loaded", [])
    monkeypatch.setattr(native, "_kernels", {})
    monkeypatch.setenv("SYMML_NATIVE", "0")
    assert native.library() is None  # and no warning: asked for


@needs_kernel
def test_built_once_into_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(native, "_loaded", [])
    monkeypatch.setattr(native, "_kernels", {})
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path))
    assert native.library() is not None
    built = list((tmp_path / "kernels").glob("contract-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(native, "_loaded", [])  # a new process: finds it, does not rebuild
    assert native.library() is not None
    assert built[0].stat().st_mtime_ns == stamp
