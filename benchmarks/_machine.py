"""What the benchmarks print about the machine they ran on (shared by the bench_*.py scripts)."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    # the sandbox is shared: a busy machine explains outlying runs
    loadavg = Path("/proc/loadavg")
    return " ".join(loadavg.read_text().split()[:3]) if loadavg.exists() else "unknown"


# Counting OpenMP parallel regions. Each one wakes torch's other threads; when waking a thread is
# slow (OMP_WAIT_POLICY=PASSIVE, a busy machine) that costs 40-80 us a region on this machine, so
# the count is a timing-state-independent measure of that cost. It is read through a shim that
# libgomp's GOMP_parallel (the entry point of `#pragma omp parallel`, used by ATen, oneDNN and
# symml's kernel) goes through when it is preloaded; nothing else exposes the count.
_SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
typedef void (*parallel_fn)(void (*)(void*), void*, unsigned, unsigned);
static long regions = 0;
long bench_parallel_regions(void) { return regions; }
void GOMP_parallel(void (*fn)(void*), void* data, unsigned threads, unsigned flags) {
  static parallel_fn real = 0;
  if (!real) real = (parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
  if (threads != 1) ++regions;  /* a region forced to one thread wakes no one */
  real(fn, data, threads, flags);
}
"""


def region_counter_library() -> str | None:
    """Path of the compiled counting shim (built once into the temp directory), or None when
    no C compiler is found."""
    import hashlib
    import shutil
    import subprocess
    import tempfile

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    digest = hashlib.sha256(_SHIM_SOURCE.encode()).hexdigest()[:12]
    library = Path(tempfile.gettempdir()) / f"symml-bench-regions-{digest}.so"
    if not library.exists():
        source = library.with_suffix(".c")
        source.write_text(_SHIM_SOURCE)
        partial = library.with_suffix(".tmp")
        cmd = [compiler, "-O2", "-shared", "-fPIC", str(source), "-o", str(partial), "-ldl"]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return None
        partial.replace(library)
    return str(library)


def parallel_regions() -> int | None:
    """OpenMP parallel regions this process has run so far with more than one thread, or None
    unless it was started with `region_counter_library()` in ``LD_PRELOAD``."""
    import ctypes
    import os

    shims = [p for p in os.environ.get("LD_PRELOAD", "").split(":") if "symml-bench-regions" in p]
    if not shims:
        return None
    count = ctypes.CDLL(shims[0]).bench_parallel_regions
    count.restype = ctypes.c_long
    return int(count())
