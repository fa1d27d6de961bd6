"""CPU kernels torch lacks, compiled on first use; every caller keeps a stock-torch fallback.

One kernel so far: `contract_into`, the per-sample small matrix product with the batch innermost
that `symml.nn.bilinear` runs dozens of times per layer (see ``contract.cpp`` for why stock ops
are slow at it). The source is compiled once per machine with the system C++ compiler (about a
second: it includes only ``ATen/Parallel.h``) into ``kernels/`` of symml's cache directory
(``$SYMML_CACHE_DIR``, default ``~/.cache/symml/cache``), keyed by the source, the torch version,
the compiler and the CPU, and loaded with ctypes; it runs on torch's own OpenMP threads. The
library is written atomically and checked before loading (`symml._cache`): a truncated or damaged
file is reported with a warning naming it, deleted and rebuilt. Without a compiler, on a failed
build (a warning says why), with ``SYMML_NATIVE=0`` or inside `disabled()`, `contract_into`
returns False and the caller uses stock torch ops, which compute the same sums.
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
_SYMBOLS = ("symml_contract_f32", "symml_contract_f64")


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
        fn.argtypes = [ptr, ptr, ptr, ptr, *[i64] * 12]
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
                    _kernels[torch.float32] = lib.symml_contract_f32
                    _kernels[torch.float64] = lib.symml_contract_f64
                _loaded.append(lib)
    return _loaded[0]


def available() -> bool:
    """Whether the native kernels are built and loaded (building them if needed)."""
    return library() is not None


@contextmanager
def disabled() -> Iterator[None]:
    """Within the block, `contract_into` declines and callers take their stock-torch path
    (for tests and benchmarks that compare the two)."""
    _enabled[0] = False
    try:
        yield
    finally:
        _enabled[0] = True


def contract_into(
    out: Tensor, x: Tensor, y: Tensor, accumulate: bool, init: Tensor | None = None
) -> bool:
    """``out[a, c, n] = base + Σ_k x[a, k, n] · y[k, c, n]`` natively; False if not handled here.

    ``base`` is ``init [a, c, n]`` if given, else ``out`` itself with ``accumulate``, else 0.
    Handled: CPU float32 / float64 tensors of one dtype, all with the batch dimension n of
    stride 1 (other strides free), ``out`` not overlapping the operands (``init`` may be ``out``).
    Runs on torch's intra-op threads. Nothing is recorded for autograd (call it where no graph is
    being built).
    """
    if not _loaded:
        library()
    fn = _kernels.get(out.dtype)
    if fn is None or not (_enabled[0] and out.is_cpu and x.is_cpu and y.is_cpu):
        return False
    so, sx, sy = out.stride(), x.stride(), y.stride()
    if so[2] != 1 or sx[2] != 1 or sy[2] != 1 or x.dtype != out.dtype or y.dtype != out.dtype:
        return False
    if init is None:
        init_ptr, si = (out.data_ptr(), so) if accumulate else (0, so)
    else:
        si = init.stride()
        if si[2] != 1 or init.dtype != out.dtype or not init.is_cpu:
            return False
        init_ptr = init.data_ptr()
    a, k, n = x.shape
    fn(out.data_ptr(), init_ptr, x.data_ptr(), y.data_ptr(), a, k, y.shape[1], n,
       sx[0], sx[1], sy[0], sy[1], so[0], so[1], si[0], si[1])  # fmt: skip
    return True
