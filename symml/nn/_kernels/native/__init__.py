"""CPU kernels torch lacks, compiled on first use; every caller keeps a stock-torch fallback.

One kernel so far: `run_program`, a list of the per-sample small matrix products with the batch
innermost that the bilinear kernel (`symml.nn._kernels.bilinear`) is made of, in one call (see
``contract.cpp`` for why stock ops are slow at them). The source is compiled once per machine with
the system C++ compiler (about a second: it includes only ``ATen/Parallel.h``) into ``kernels/``
of symml's cache directory (``$SYMML_CACHE_DIR``, default ``~/.cache/symml/cache``), keyed by the
source, the torch version, the compiler and the CPU, and loaded with ctypes; it runs on torch's
own OpenMP threads. The library is written atomically and checked before loading (`symml._cache`):
a truncated or damaged file is reported with a warning naming it, deleted and rebuilt. Without a
compiler, on a failed build (a warning says why), with ``SYMML_NATIVE=0`` or inside `disabled()`,
`run_program` returns False and the caller uses stock torch ops, which compute the same sums.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from symml._cache import CorruptCacheError, cache_dir, load_or_make

_SOURCE = Path(__file__).with_name("contract.cpp")
_lock = threading.Lock()
_loaded: list[ctypes.CDLL | None] = []  # [the library, or None once loading failed]; [] untried
_kernels: dict[torch.dtype, Callable[..., None]] = {}  # the contraction per dtype, once loaded
_enabled = [True]
_SYMBOLS = ("symml_contract_program_f32", "symml_contract_program_f64")
JOB_FIELDS = 31  # int64 fields per job (contract.cpp)


def _cpu_signature() -> str:
    # -march=native code must not be shared between different CPUs (a shared home directory)
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _compile(compiler: str, out: Path) -> None:
    """Build the kernel into ``out`` (`symml._cache.atomic_write`'s temporary file)."""
    torch_dir = Path(torch.__file__).parent
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    cmd = [
        *shlex.split(compiler), "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC",
        "-std=c++17", f"-D_GLIBCXX_USE_CXX11_ABI={abi}", f"-I{torch_dir / 'include'}",
        str(_SOURCE), "-o", str(out),
        f"-L{torch_dir / 'lib'}", "-ltorch_cpu", "-lc10", f"-Wl,-rpath,{torch_dir / 'lib'}",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-2000:] or f"exit code {done.returncode}")


def _check_elf(path: Path) -> None:
    """Raise `CorruptCacheError` unless ``path`` is a whole 64-bit little-endian ELF file.

    Checked before dlopen because the loader does not check it: a truncated library maps pages
    past the end of the file and the process dies of SIGBUS, with no exception to catch. Whole
    means every segment and the section header table (written last, at the end) lie within the
    file.
    """
    data = path.read_bytes()
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise CorruptCacheError(f"not a 64-bit little-endian ELF library ({len(data)} bytes)")
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    end = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    if end <= len(data):
        for i in range(phnum):  # Elf64_Phdr: p_offset at byte 8, p_filesz at byte 32
            (offset,) = struct.unpack_from("<Q", data, phoff + i * phentsize + 8)
            (filesz,) = struct.unpack_from("<Q", data, phoff + i * phentsize + 32)
            end = max(end, offset + filesz)
    if end > len(data):
        raise CorruptCacheError(f"truncated: {len(data)} bytes, but its headers reach byte {end}")


def _open(path: Path) -> ctypes.CDLL:
    """The checked library at ``path`` with its kernels' signatures set."""
    _check_elf(path)
    lib = ctypes.CDLL(str(path))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for name in _SYMBOLS:
        try:
            fn = getattr(lib, name)
        except AttributeError as err:
            raise CorruptCacheError(f"no symbol {name}") from err
        fn.argtypes = [ptr, ptr, i64, i64]
        fn.restype = None
    return lib


def _build(compiler: str, out: Path) -> ctypes.CDLL:
    # loaded before it is renamed into place: a build that does not load is never cached
    _compile(compiler, out)
    return _open(out)


def _load() -> ctypes.CDLL | None:
    if os.environ.get("SYMML_NATIVE", "1") == "0" or sys.platform != "linux":
        return None
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        warnings.warn(
            "symml: no C++ compiler found (set CXX or install g++), so EquivariantBilinear "
            "runs its contractions with stock torch ops (same results, slower)",
            stacklevel=3,
        )
        return None
    key = hashlib.sha256(
        b"\0".join(
            [_SOURCE.read_bytes(), torch.__version__.encode(), _cpu_signature().encode(),
             compiler.encode()]
        )
    ).hexdigest()[:16]  # fmt: skip
    try:
        target = cache_dir() / "kernels" / f"contract-{key}.so"
        # a damaged file warns, is deleted and rebuilt (symml._cache.read)
        return load_or_make(target, _open, lambda tmp: _build(compiler, tmp))
    except (OSError, RuntimeError, subprocess.SubprocessError, CorruptCacheError) as err:
        warnings.warn(
            f"symml: could not build the native contraction kernel ({err}); EquivariantBilinear "
            "falls back to stock torch ops (same results, slower). Set SYMML_NATIVE=0 to skip "
            "the attempt",
            stacklevel=3,
        )
        return None


def library() -> ctypes.CDLL | None:
    """The compiled kernels (built on first call), or None where they are unavailable."""
    if not _loaded:
        with _lock:
            if not _loaded:
                lib = _load()
                if lib is not None:
                    _kernels[torch.float32] = lib.symml_contract_program_f32
                    _kernels[torch.float64] = lib.symml_contract_program_f64
                _loaded.append(lib)
    return _loaded[0]


def available() -> bool:
    """Whether the native kernels are built and loaded (building them if needed)."""
    return library() is not None


@contextmanager
def disabled() -> Iterator[None]:
    """Within the block, `run_program` declines and callers take their stock-torch path
    (for tests and benchmarks that compare the two). Nests: leaving the block restores the state
    it found, so an inner block does not switch the kernel back on inside an outer one."""
    before = _enabled[0]
    _enabled[0] = False
    try:
        yield
    finally:
        _enabled[0] = before


def run_program(jobs: Tensor, buffers: list[Tensor]) -> bool:
    """Run a contraction program natively; False if it is not handled here.

    ``jobs`` is ``[n_jobs, JOB_FIELDS]`` int64 on the CPU (`symml.nn._kernels.contract.Program`
    lays it out); ``buffers`` are the ``[rows, N]`` tensors its views index, contiguous, one CPU
    dtype (float32 or float64), one batch size N. Runs on torch's intra-op threads. Nothing is
    recorded for autograd (call it where no graph is being built).
    """
    if not _loaded:
        library()
    fn = _kernels.get(buffers[0].dtype)
    if fn is None or not _enabled[0]:
        return False
    dtype, n = buffers[0].dtype, buffers[0].shape[1]
    for b in buffers:
        if not (b.is_cpu and b.dtype == dtype and b.dim() == 2 and b.shape[1] == n):
            return False
        if not b.is_contiguous():
            return False
    pointers = torch.tensor([b.data_ptr() for b in buffers], dtype=torch.int64)
    fn(pointers.data_ptr(), jobs.data_ptr(), jobs.shape[0], n)
    return True
