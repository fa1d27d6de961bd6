"""The self-healing cache (`symml._cache`): atomic writes, verified reads, and every cache user
(rotated MNIST, N-body trajectories, the compiled kernel) recovering from a damaged file with one
warning that names it, the file replaced by a good one, and the result of a fresh build."""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from symml import _cache
from symml._cache import (
    CorruptCacheError,
    atomic_write,
    cache_dir,
    cached_torch,
    load_or_make,
    read,
    store,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SYMML_CACHE_DIR", str(folder))
    return folder


def _corrupt(path: Path) -> str:
    """The warning a damaged ``path`` gives, as a regex."""
    return re.escape(f"{path}: corrupt cache file (") + r".*\); deleted, regenerating it$"


def _damage(path: Path, how: str) -> None:
    """Replace ``path`` by a damaged file (a new inode: a library loaded from it stays intact)."""
    good = path.read_bytes()
    path.unlink()
    damaged = {
        "empty": b"",
        "garbage": b"not a cache file\n" * 10,
        "truncated": good[: len(good) // 2],
    }
    path.write_bytes(damaged[how])


def _single_warning(record: pytest.WarningsRecorder, path: Path) -> str:
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages
    assert str(path) in messages[0] and "\n" not in messages[0]
    return messages[0]


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# ----- the cache folder -----------------------------------------------------------------------
def test_cache_dir_from_the_environment_and_created(tmp_path: Path) -> None:
    assert cache_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()


def test_cache_dir_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SYMML_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "symml" / "cache"


def test_cache_dir_that_cannot_be_created_says_how_to_move_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path / "a_file" / "cache"))
    with pytest.raises(OSError, match=r"a_file/cache: cannot create .*set SYMML_CACHE_DIR"):
        cache_dir()


def test_data_and_nn_share_the_cache_folder_rule() -> None:
    from symml.data import paths

    assert paths.cache_dir is cache_dir


# ----- atomic writes --------------------------------------------------------------------------
def test_half_written_file_is_never_visible_under_the_final_name(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "x.bin"
    atomic_write(path, lambda tmp: tmp.write_bytes(b"old"))
    seen: list[bytes] = []

    def write_half_then_die(tmp: Path) -> None:
        tmp.write_bytes(b"half of the ne")
        seen.append(path.read_bytes())  # mid-write, the final name still holds the old file
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        atomic_write(path, write_half_then_die)
    assert seen == [b"old"] and path.read_bytes() == b"old"
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.bin"]  # temp file removed


def test_atomic_write_creates_the_folder_and_returns_the_value(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "x.pt"

    def write(tmp: Path) -> str:
        torch.save([1, 2], tmp)
        return "made"

    assert atomic_write(path, write) == "made"
    assert torch.load(path, weights_only=True) == [1, 2]


def test_stale_temp_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    old, fresh = tmp_path / ".x.pt.dead1234.tmp", tmp_path / ".x.pt.live5678.tmp"
    other = tmp_path / ".y.pt.dead9999.tmp"  # another file's: not ours to judge
    for p in (old, fresh, other):
        p.write_bytes(b"partial")
    an_hour_ago = time.time() - _cache.STALE_TEMP_S - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    atomic_write(path, lambda tmp: tmp.write_bytes(b"ok"))
    assert not old.exists() and fresh.exists() and other.exists()


def test_concurrent_makers_both_end_with_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    both_missed = threading.Barrier(2, timeout=30)
    calls: list[int] = []
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def make(who: int) -> dict[str, torch.Tensor]:
        calls.append(who)
        both_missed.wait()  # neither has written yet: both make and write the file
        return {"x": torch.arange(100_000) * 3}

    def run(who: int) -> None:
        try:
            results[who] = cached_torch(path, lambda: make(who))
        except BaseException as err:  # reported below, with the thread's traceback
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(calls) == [0, 1]
    expected = torch.arange(100_000) * 3
    assert all(torch.equal(results[i]["x"], expected) for i in range(2))
    assert torch.equal(torch.load(path, weights_only=True)["x"], expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


# ----- verified reads -------------------------------------------------------------------------
def test_maker_called_once_when_the_cache_is_good(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    calls = []

    def make() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"x": torch.arange(5)}

    first = cached_torch(path, make)
    again = cached_torch(path, make)
    assert len(calls) == 1 and torch.equal(first["x"], again["x"])


def test_read_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read(tmp_path / "absent.pt", _cache.load_torch) is None


def _must_hold_x(value: object) -> None:
    if not (isinstance(value, dict) and isinstance(value.get("x"), torch.Tensor)):
        raise CorruptCacheError("expected a dict with a tensor `x`")


@pytest.mark.parametrize("how", ["empty", "garbage", "truncated", "fails_check", "not_tensors"])
def test_damaged_file_warns_once_is_replaced_and_remade(tmp_path: Path, how: str) -> None:
    path = tmp_path / "x.pt"
    make = lambda: {"x": torch.arange(10_000)}  # noqa: E731
    fresh = cached_torch(path, make, _must_hold_x)
    if how == "fails_check":
        torch.save({"y": 1}, path)
    elif how == "not_tensors":
        torch.save({"x": Path("not/a/tensor")}, path)  # refused by weights_only loading
    else:
        _damage(path, how)
    with pytest.warns(RuntimeWarning, match=_corrupt(path)) as record:
        again = cached_torch(path, make, _must_hold_x)
    message = _single_warning(record, path)
    if how == "fails_check":
        assert "(expected a dict with a tensor `x`)" in message
    elif how == "empty":
        assert "(empty file)" in message
    assert torch.equal(again["x"], fresh["x"])
    assert torch.equal(_cache.load_torch(path, _must_hold_x)["x"], fresh["x"])  # a good file now
    assert _no_temp_files(tmp_path)


def test_a_bug_in_the_loader_is_not_mistaken_for_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    torch.save({"x": torch.ones(2)}, path)

    def buggy(_: Path) -> None:
        raise TypeError("a bug, not a damaged file")

    with pytest.raises(TypeError, match="a bug"):
        read(path, buggy)
    assert path.exists()  # kept


def test_file_replaced_by_another_process_is_read_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(b"damaged")
    attempts = []

    def load(p: Path) -> bytes:
        attempts.append(1)
        if len(attempts) == 1:  # meanwhile another process repairs the file
            atomic_write(p, lambda tmp: tmp.write_bytes(b"good"))
            raise CorruptCacheError("read the damaged bytes")
        return p.read_bytes()

    assert read(path, load) == b"good"  # no warning: the filterwarnings=error setting would fail
    assert len(attempts) == 2


def test_damaged_file_that_cannot_be_deleted_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(b"garbage")

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(OSError, match=r"x\.pt: corrupt cache file .*cannot be deleted.*by hand"):
        read(path, _cache.load_torch)


def test_load_or_make_errors_from_the_maker_propagate_and_leave_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lib.so"

    def failing_build(tmp: Path) -> None:
        tmp.write_bytes(b"partial output")
        raise RuntimeError("compiler failed")

    with pytest.raises(RuntimeError, match="compiler failed"):
        load_or_make(path, lambda p: p.read_bytes(), failing_build)
    assert not list(tmp_path.iterdir())


def test_a_failed_cache_write_warns_and_keeps_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.pt"

    def disk_full(value: object, tmp: Path) -> None:
        tmp.write_bytes(b"par")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cache, "save_torch", disk_full)
    with pytest.warns(RuntimeWarning, match=r"x\.pt: could not write the cache file .*No space"):
        value = cached_torch(path, lambda: {"x": torch.arange(3)})
    assert torch.equal(value["x"], torch.arange(3))
    assert not list(tmp_path.iterdir())  # nothing partial left


def test_store_reports_success(tmp_path: Path) -> None:
    assert store(tmp_path / "x.bin", lambda tmp: tmp.write_bytes(b"ok"))
    assert (tmp_path / "x.bin").read_bytes() == b"ok"


# ----- the cache users ------------------------------------------------------------------------
needs_mnist = pytest.mark.skipif(
    not os.environ.get("SYMML_DATA_DIR"),
    reason="SYMML_DATA_DIR is not set: point it at a folder holding mnist/ (e.g. shared/data)",
)


@needs_mnist
@pytest.mark.parametrize("how", ["garbage", "truncated", "other_parameters"])
def test_rotated_mnist_heals_a_damaged_cache_file(_private_cache: Path, how: str) -> None:
    from symml.data.mnist import rotated_mnist_arrays

    options: dict[str, Any] = {"seed": 3, "n_train": 30, "n_test": 10}
    rotated_mnist_arrays(**options)
    (path,) = _private_cache.glob("rotated_mnist-*.pt")
    if how == "other_parameters":
        arrays = torch.load(path, weights_only=True)
        torch.save({**arrays, "params": {**arrays["params"], "seed": 4}}, path)
    else:
        _damage(path, how)
    with pytest.warns(RuntimeWarning, match=_corrupt(path)) as record:
        healed = rotated_mnist_arrays(**options)
    _single_warning(record, path)
    fresh = rotated_mnist_arrays(**options, cache=False)
    assert set(healed) == set(fresh) | {"params"}
    assert all(torch.equal(healed[k], fresh[k]) for k in fresh)
    reread = rotated_mnist_arrays(**options)  # the file is good again: no warning
    assert all(torch.equal(reread[k], fresh[k]) for k in fresh)
    assert sorted(_private_cache.iterdir()) == [path]


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_nbody_heals_a_damaged_cache_file(_private_cache: Path, how: str) -> None:
    from symml.data.nbody import NBodyCharged

    def tensors(ds: NBodyCharged) -> dict[str, torch.Tensor]:
        return {"pos": ds.pos, "vel": ds.vel, "target": ds.target, "charge": ds.charge}

    NBodyCharged("val", size=3)
    (path,) = _private_cache.glob("nbody_charged-*.pt")
    _damage(path, how)
    with pytest.warns(RuntimeWarning, match=_corrupt(path)) as record:
        healed = tensors(NBodyCharged("val", size=3))
    _single_warning(record, path)
    fresh = tensors(NBodyCharged("val", size=3, cache=False))
    assert all(torch.equal(healed[k], fresh[k]) for k in fresh)
    reread = tensors(NBodyCharged("val", size=3))  # the file is good again: no warning
    assert all(torch.equal(reread[k], fresh[k]) for k in fresh)
    assert sorted(_private_cache.iterdir()) == [path]


@pytest.mark.parametrize("how", ["empty", "garbage", "truncated"])
def test_kernel_heals_a_damaged_library(
    _private_cache: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from symml.nn._kernels import contract
    from symml.nn._kernels import native as _native

    if sys.platform != "linux" or not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("no C++ compiler here: the kernel cannot be built")
    monkeypatch.delenv("SYMML_NATIVE", raising=False)
    monkeypatch.setattr(_native, "_loaded", [])
    monkeypatch.setattr(_native, "_kernels", {})
    assert _native.library() is not None
    (path,) = (_private_cache / "kernels").iterdir()
    good = path.read_bytes()
    _damage(path, how)  # a truncated library would kill the process (SIGBUS) if dlopen-ed
    monkeypatch.setattr(_native, "_loaded", [])  # a new process
    monkeypatch.setattr(_native, "_kernels", {})
    with pytest.warns(RuntimeWarning, match=_corrupt(path)) as record:
        assert _native.library() is not None
    _single_warning(record, path)
    assert path.stat().st_size == len(good)  # rebuilt whole, and it computes the contraction
    x, y, out = torch.randn(3, 4, 70), torch.randn(4, 5, 70), torch.empty(3, 5, 70)
    # out[a, c] = Σ_k x[a, k] y[k, c] per sample, each operand as rows of a [rows, 70] buffer
    rows = contract.View
    job = contract.Job(rows(2, 0, (5, 0, 1, 0)), rows(0, 0, (4, 0, 1, 0)), rows(1, 0, (5, 0, 1, 0)),
                       (3, 1, 4, 1, 5, 1))  # fmt: skip
    table = contract.program([job]).table
    assert _native.run_program(table, [x.view(12, 70), y.view(20, 70), out.view(15, 70)])
    torch.testing.assert_close(out, torch.einsum("akn,kcn->acn", x, y))
    assert sorted((_private_cache / "kernels").iterdir()) == [path]
