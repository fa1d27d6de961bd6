"""EMLP: how long solving the weight bases and building the model take, and what a training step
costs against the plain MLP of the same width.

Measured for the two tasks of Finzi et al. (2021), docs/published.md §5 — O(5): 2V → scalar; O(3)
inertia: 5 scalars + 5 vectors → symmetric 2-tensor — with 384 hidden channels, 3 layers:

- solve (first): every intertwiner basis the model needs, after `clear_cache()` and with fresh
  rep objects (median of rounds);
- solve (memo): the same with the bases memoised;
- build: `symml.models.build("emlp", ...)` in a fresh Python process (imports excluded), the
  cold case a user meets;
- step: forward + backward at batch 500, EMLP and MLP interleaved round by round (median of
  rounds); the ratio is the figure. Goals: build < 2 s, step <= 3x the MLP;
- parallel regions: the OpenMP parallel regions one training step forks, counted in a child
  process through a preloaded shim (`_machine.region_counter_library`). Each costs a thread
  wake-up, 40-80 us when waking is slow (``OMP_WAIT_POLICY=PASSIVE``, a busy machine), so this
  count, which no timing state changes, is what the PASSIVE ratio grows with.

The bilinear layers' per-sample contractions run in symml's compiled CPU kernel
(`symml.nn._kernels.native`, built on first use); the same EMLP with them on stock torch ops is
timed in the same rounds too (``stock contractions``), so the kernel's share of the figure is
visible. The EMLP's layers multiply through oneDNN (`symml.nn._kernels.gemm`), which on this AMD
CPU is about twice as fast as the MKL kernels behind ``nn.Linear``. So that the figure is not read
as more than it is, the same MLP with its products routed through oneDNN too is timed in the same
rounds (``MLP*``), and the ratio against it is printed next to the figure.

Run: ``.venv/bin/python benchmarks/bench_emlp.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")  # before torch: OpenMP threads must not sleep

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from _machine import (  # noqa: E402 - benchmarks/ is on sys.path
    cpu_model,
    load_average,
    parallel_regions,
    region_counter_library,
)

from symml.models import build, parameter_count  # noqa: E402
from symml.models.emlp import EMLP, resolve_rep  # noqa: E402
from symml.nn import _expansion  # noqa: E402
from symml.nn._kernels import gemm, native  # noqa: E402
from symml.nn._types import field_types  # noqa: E402
from symml.nn.bilinear import bilinear_paths  # noqa: E402
from symml.reps import intertwiners  # noqa: E402
from symml.reps.intertwiners import clear_cache  # noqa: E402

THREADS = 2
BATCH = 500
HIDDEN = 384
LAYERS = 3
ROUNDS = 7
STEPS_PER_ROUND = 5
TASKS = {
    "o5": {"rep_in": "2*V", "rep_out": "S", "group": "O5"},
    "inertia": {"rep_in": "5*S + 5*V", "rep_out": "T(2)", "group": "O3"},
}

_BUILD_SNIPPET = """
import json, sys, time
import torch
torch.set_num_threads({threads})
from symml.models import build
start = time.perf_counter()
build("emlp", hidden={hidden}, num_layers={layers}, **json.loads(sys.argv[1]))
print(time.perf_counter() - start)
"""


def _clear_all() -> None:
    clear_cache()
    _expansion.expansion.cache_clear()
    field_types.cache_clear()
    bilinear_paths.cache_clear()


def _solve_all(model: EMLP) -> None:
    """Every intertwiner basis ``model``'s linear layers use, solved (or memoised)."""
    for module in model.modules():
        rep_in, rep_out = getattr(module, "rep_in", None), getattr(module, "rep_out", None)
        if type(module).__name__ != "EquivariantLinear":
            continue
        for b in field_types(rep_out):
            for a in field_types(rep_in):
                intertwiners(a.rep, b.rep)


def _solve_times(task: dict[str, str]) -> tuple[float, float]:
    model = build("emlp", hidden=HIDDEN, num_layers=LAYERS, **task)
    first, memo = [], []
    for _ in range(ROUNDS):
        _clear_all()
        start = time.perf_counter()
        _solve_all(model)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        _solve_all(model)
        memo.append(time.perf_counter() - start)
    return statistics.median(first), statistics.median(memo)


def _fresh_build_seconds(task: dict[str, str]) -> float:
    code = _BUILD_SNIPPET.format(threads=THREADS, hidden=HIDDEN, layers=LAYERS)
    times = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(task)],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


class _OneDNNLinear(torch.autograd.Function):
    """``x Wᵀ + b`` with forward and backward products through `symml.nn._kernels.gemm` (oneDNN)."""

    @staticmethod
    def forward(ctx, x, w, b):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x, w)
        return gemm.linear(x, w, b)

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        x, w = ctx.saved_tensors
        return gemm.mm(g, w), gemm.mm(g.t(), x), g.sum(0)


class _OneDNNMLPLinear(torch.nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = _OneDNNLinear.apply(x, self.weight, self.bias)
        return out


def _onednn_mlp(mlp: torch.nn.Module) -> torch.nn.Module:
    """The same MLP (same weights) with every ``nn.Linear`` multiplying through oneDNN."""
    for i, layer in enumerate(mlp):
        if isinstance(layer, torch.nn.Linear):
            twin = _OneDNNMLPLinear(layer.in_features, layer.out_features)
            twin.load_state_dict(layer.state_dict())
            mlp[i] = twin
    return mlp


def _step_times(task: dict[str, str]) -> tuple[float, float, float, float, int, int]:
    torch.manual_seed(0)
    emlp = build("emlp", hidden=HIDDEN, num_layers=LAYERS, **task)
    mlp = build("mlp", hidden=HIDDEN, num_layers=LAYERS, **task)
    mlp_star = _onednn_mlp(build("mlp", hidden=HIDDEN, num_layers=LAYERS, **task))
    group = emlp.group
    d_in = resolve_rep(task["rep_in"], group).dim
    x = torch.randn(BATCH, d_in)

    def step(model: torch.nn.Module) -> float:
        start = time.perf_counter()
        for _ in range(STEPS_PER_ROUND):
            model.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
        return (time.perf_counter() - start) / STEPS_PER_ROUND

    def stock_step(model: torch.nn.Module) -> float:
        with native.disabled():
            return step(model)

    step(emlp), stock_step(emlp), step(mlp), step(mlp_star)  # warm-up: allocator, first calls
    emlp_times, stock_times, mlp_times, star_times = [], [], [], []
    for _ in range(ROUNDS):  # interleaved, so drifting load hits all alike
        # (EMLP after MLP*, MLP after an EMLP, as before the stock timing was added)
        emlp_times.append(step(emlp))
        stock_times.append(stock_step(emlp))
        mlp_times.append(step(mlp))
        star_times.append(step(mlp_star))
    return (
        statistics.median(emlp_times),
        statistics.median(stock_times),
        statistics.median(mlp_times),
        statistics.median(star_times),
        parameter_count(emlp),
        parameter_count(mlp),
    )


def _count_regions(task: dict[str, str]) -> tuple[int, int]:
    """Parallel regions of one EMLP and one MLP training step (in this process, which must have
    been started with the counting shim preloaded)."""
    counts = []
    for kind in ("emlp", "mlp"):
        model = build(kind, hidden=HIDDEN, num_layers=LAYERS, **task)
        x = torch.randn(BATCH, resolve_rep(task["rep_in"], model.group).dim)
        for _ in range(3):  # first calls: allocator, plans
            model.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
        before = parallel_regions()
        model.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        after = parallel_regions()
        assert before is not None and after is not None
        counts.append(after - before)
    return counts[0], counts[1]


def _region_counts(task: dict[str, str]) -> str:
    """``EMLP / MLP`` parallel regions per step, from a child process with the shim preloaded
    (or why they are not counted)."""
    library = region_counter_library()
    if library is None:
        return "not counted (no C compiler)"
    env = dict(os.environ, LD_PRELOAD=library)
    child = subprocess.run(
        [sys.executable, __file__, "--count-regions", json.dumps(task)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    emlp_regions, mlp_regions = json.loads(child.stdout.strip().splitlines()[-1])
    return f"{emlp_regions} / {mlp_regions}"


def main() -> None:
    if sys.argv[1:2] == ["--count-regions"]:
        torch.set_num_threads(THREADS)
        print(json.dumps(_count_regions(json.loads(sys.argv[2]))))
        return
    torch.set_num_threads(THREADS)
    print(f"# bench_emlp: torch {torch.__version__}, python {platform.python_version()}")
    print(f"# cpu: {cpu_model()}, torch threads {THREADS}, load average {load_average()}")
    print(f"# hidden {HIDDEN} channels (uniform_rep), {LAYERS} layers, batch {BATCH}")
    print(f"# medians of {ROUNDS} rounds; fresh-process build: median of 3 processes")
    kernel = (
        "compiled (symml.nn._kernels.native)" if native.available() else "unavailable: stock ops"
    )
    print(f"# contraction kernel: {kernel}\n")
    figures: dict[str, float] = {}
    header = "| task | solve first (s) | solve memo (ms) | build, fresh process (s) | "
    header += "EMLP step (ms) | MLP step (ms) | step ratio | MLP* step (ms) | ratio vs MLP* | "
    header += "EMLP, stock contractions (ms) | its ratio | params EMLP / MLP | "
    header += "parallel regions per step EMLP / MLP |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, task in TASKS.items():
        first, memo = _solve_times(task)
        fresh = _fresh_build_seconds(task)
        emlp_s, stock_s, mlp_s, star_s, p_emlp, p_mlp = _step_times(task)
        ratio = emlp_s / mlp_s
        print(
            f"| {name} | {first:.3f} | {memo * 1e3:.2f} | {fresh:.2f} | {emlp_s * 1e3:.1f} | "
            f"{mlp_s * 1e3:.1f} | {ratio:.2f} | {star_s * 1e3:.1f} | {emlp_s / star_s:.2f} | "
            f"{stock_s * 1e3:.1f} | {stock_s / mlp_s:.2f} | {p_emlp} / {p_mlp} | "
            f"{_region_counts(task)} |"
        )
        figures[f"{name}_solve_first_s"] = first
        figures[f"{name}_solve_memo_ms"] = memo * 1e3
        figures[f"{name}_build_fresh_s"] = fresh
        figures[f"{name}_step_ratio_vs_mlp"] = ratio
        figures[f"{name}_step_ratio_vs_onednn_mlp"] = emlp_s / star_s
        figures[f"{name}_step_ratio_stock_contractions"] = stock_s / mlp_s
    print(f"\n# load average at the end: {load_average()}")
    for name, value in figures.items():
        print(f"figure: {name} = {value:.3g}")


if __name__ == "__main__":
    main()
