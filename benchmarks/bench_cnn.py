"""How close are symml's group convolutions to a plain conv2d, and how fast are they to build?

Measured, with ratios taken against a baseline timed interleaved in the same process: medians
over ``--rounds`` rounds (31), each round timing one short block (~0.06 s, the same number of
calls) of each side with ``Timer.timeit``, the order alternating. The sandbox's 2 cores are
shared with other jobs; short blocks and many rounds let load bursts hit both sides alike.

1. Group convolution on regular fields (p4: 16 fields of C4, p4m: 8 fields of D4, so 64 channels
   in and out), 28×28, batch 64 and 8, kernels 3 and 5 (padding k//2), against the *floor*: one
   ``F.conv2d`` with the same expanded filter bank. Modes: train (the bank is expanded from the
   free weights every call) forward and forward+backward; eval forward (``no_grad``, cached
   bank) and eval forward+backward (frozen weights, input gradients: cached bank). escnn's
   ``R2Conv`` on the same p4 field types is timed against its own floor (train mode) for
   comparison. Goal: every symml ratio ≤ 1.05.
2. Filter-bank expansion alone (64×64×5×5 and ×3×3 banks), forward+backward: symml's gather
   against escnn's basis expansion. Goal: ≥ 2× faster.
3. Construction: ``p4cnn`` (goal < 0.2 s); ``steerable_cnn`` on C16 and D8 with the benchmark
   widths in a fresh process (goal ≤ 1 s; median of 5 processes, also with 1 thread), also on a
   *fresh install* of escnn (a copy of the package without its on-disk joblib cache and
   bytecode, first on ``PYTHONPATH``); escnn's own six ``R2Conv`` layers (default
   initialisation, one process each) in the same two settings; ``import symml`` (goal < 1 s)
   and, for context, ``import escnn``. Expansion timings are also taken with 1 thread: on a busy
   2-core machine a 2-thread op of ~50 µs often waits milliseconds for its second thread.
4. Whole models, train forward+backward at batch 128: ``p4cnn`` against ``z2cnn`` (reported).
5. ``torch.compile`` (inductor) of ``p4cnn``: compile time and agreement with eager.
6. ``steerable_cnn`` (benchmark widths) on C8, D8, SO(2): invariance error under the exact grid
   elements and under other angles (45° steps, or 8 random angles; bilinear resampling).

Run: ``.venv/bin/python benchmarks/bench_cnn.py`` (about 12 minutes on 2 cores; ``--quick`` for a
smoke run with fewer rounds and no escnn builds / inductor compile).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")  # before torch: OpenMP threads must not sleep

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _machine import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path
from torch.utils.benchmark import Timer  # noqa: E402

from symml.models import build  # noqa: E402
from symml.nn.cnn import GroupConv2d  # noqa: E402
from symml.testing import equivariance_error  # noqa: E402

THREADS = 2
CHANNELS = 64
SIZE = 28
GOAL_RATIO = 1.05
GOAL_EXPANSION_SPEEDUP = 2.0
GOAL_P4CNN_BUILD_S = 0.2
GOAL_STEERABLE_BUILD_S = 1.0
GOAL_IMPORT_S = 1.0
WIDTH_GROUPS = {"p4": 16, "p4m": 8}  # regular fields making 64 channels

Fn = Callable[[], object]


# ----- timing ------------------------------------------------------------------------------------
def _timer(fn: Fn, threads: int) -> Timer:
    return Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)


def _time(fn: Fn, block_s: float, threads: int = THREADS) -> float:
    """Median seconds per call over blocks of about ``block_s``."""
    return _timer(fn, threads).blocked_autorange(min_run_time=block_s).median


def _rounds(
    candidate: Fn, baseline: Fn, rounds: int, block_s: float, threads: int = THREADS
) -> tuple[float, float]:
    """(median over rounds of candidate / baseline, min candidate / min baseline).

    Each round times one block of each side (about ``block_s``, the same number of calls), the
    order alternating between rounds: short blocks and many rounds, so that bursts of load from
    other jobs hit both sides alike."""
    candidate(), baseline()  # warm-up (allocator, caches)
    calls = max(1, round(block_s / _timer(baseline, threads).timeit(1).mean))
    a_timer, b_timer = _timer(candidate, threads), _timer(baseline, threads)
    a_times, b_times = [], []
    for r in range(rounds):
        if r % 2:
            b_times.append(b_timer.timeit(calls).mean)
            a_times.append(a_timer.timeit(calls).mean)
        else:
            a_times.append(a_timer.timeit(calls).mean)
            b_times.append(b_timer.timeit(calls).mean)
    ratios = [a / b for a, b in zip(a_times, b_times, strict=True)]
    return statistics.median(ratios), min(a_times) / min(b_times)


def _interleaved(
    candidate: Fn, baseline: Fn, rounds: int, block_s: float, threads: int = THREADS
) -> float:
    """Median over interleaved rounds of candidate / baseline (see `_rounds`)."""
    return _rounds(candidate, baseline, rounds, block_s, threads)[0]


# ----- 1. group conv vs the floor ------------------------------------------------------------
def _conv_case(
    group: str, batch: int, k: int, mode: str, rounds: int, min_t: float
) -> tuple[float, float]:
    """(median of symml / floor over interleaved rounds, 1 + the time of the work symml adds
    — expanding the bank, and its backward — over the floor's time)."""
    torch.manual_seed(0)
    layer = GroupConv2d(group, CHANNELS, CHANNELS, k, padding=k // 2)
    x = torch.randn(batch, CHANNELS, SIZE, SIZE)
    grad_out = torch.randn(batch, CHANNELS, SIZE, SIZE)
    with torch.no_grad():
        bank0, bias0 = layer._expand()
    assert bias0 is not None
    if mode == "train_fwd":
        layer.train()
        bank, bias = bank0.clone().requires_grad_(), bias0.clone().requires_grad_()

        def ours() -> object:
            return layer(x)

        def floor() -> object:
            return F.conv2d(x, bank, bias, padding=k // 2)

    elif mode == "train_fwdbwd":
        layer.train()
        bank, bias = bank0.clone().requires_grad_(), bias0.clone().requires_grad_()
        xg = x.clone().requires_grad_()

        def ours() -> object:
            layer.zero_grad(set_to_none=True)
            xg.grad = None
            layer(xg).backward(grad_out)
            return None

        def floor() -> object:
            bank.grad = bias.grad = xg.grad = None
            F.conv2d(xg, bank, bias, padding=k // 2).backward(grad_out)
            return None

    elif mode == "eval_fwd":
        layer.eval()

        def ours() -> object:
            with torch.no_grad():
                return layer(x)

        def floor() -> object:
            with torch.no_grad():
                return F.conv2d(x, bank0, bias0, padding=k // 2)

    else:  # eval_fwdbwd: frozen weights, gradients to the input only
        layer.eval().requires_grad_(False)
        xg = x.clone().requires_grad_()

        def ours() -> object:
            xg.grad = None
            layer(xg).backward(grad_out)
            return None

        def floor() -> object:
            xg.grad = None
            F.conv2d(xg, bank0, bias0, padding=k // 2).backward(grad_out)
            return None

    grad_bank = torch.randn_like(bank0)

    def extra() -> object:  # what symml adds to the floor's work
        if mode == "train_fwd":
            return layer.filter_bank()
        if mode == "train_fwdbwd":
            layer.zero_grad(set_to_none=True)
            bank, bias = layer.filter_bank()
            torch.autograd.backward([bank, bias], [grad_bank, torch.ones_like(bias)])
            return None
        with torch.no_grad():
            return layer.filter_bank()

    median = _rounds(ours, floor, rounds, min_t)[0]
    implied = 1 + _time(extra, min_t, 1) / _time(floor, min_t)
    return median, implied


def _escnn_case(batch: int, k: int, mode: str, rounds: int, min_t: float) -> float:
    """escnn's R2Conv (train mode) against a conv2d with its own expanded filter."""
    from escnn import gspaces
    from escnn import nn as enn

    torch.manual_seed(0)
    gs = gspaces.rot2dOnR2(4)
    field = enn.FieldType(gs, WIDTH_GROUPS["p4"] * [gs.regular_repr])
    conv = enn.R2Conv(field, field, k, padding=k // 2).train()
    x = torch.randn(batch, CHANNELS, SIZE, SIZE)
    grad_out = torch.randn(batch, CHANNELS, SIZE, SIZE)
    with torch.no_grad():
        bank0, bias0 = conv.expand_parameters()
    bank, bias = bank0.clone().requires_grad_(), bias0.clone().requires_grad_()
    xg = x.clone().requires_grad_()
    if mode == "train_fwd":

        def theirs() -> object:
            return conv(field(x)).tensor

        def floor() -> object:
            return F.conv2d(x, bank, bias, padding=k // 2)

    else:

        def theirs() -> object:
            conv.zero_grad(set_to_none=True)
            xg.grad = None
            conv(field(xg)).tensor.backward(grad_out)
            return None

        def floor() -> object:
            bank.grad = bias.grad = xg.grad = None
            F.conv2d(xg, bank, bias, padding=k // 2).backward(grad_out)
            return None

    return _interleaved(theirs, floor, rounds, min_t)


# ----- 2. filter expansion -------------------------------------------------------------------
def _expansion_speedup(
    group: str, k: int, rounds: int, min_t: float, threads: int
) -> tuple[float, float]:
    """(escnn / symml time ratio, symml µs) for expansion forward+backward of one bank."""
    from escnn import gspaces
    from escnn import nn as enn

    torch.manual_seed(0)
    layer = GroupConv2d(group, CHANNELS, CHANNELS, k, bias=False)
    gs = gspaces.rot2dOnR2(4) if group == "p4" else gspaces.flipRot2dOnR2(4, axis=0.0)
    field = enn.FieldType(gs, WIDTH_GROUPS[group] * [gs.regular_repr])
    conv = enn.R2Conv(field, field, k, bias=False, initialize=False)
    grad = torch.randn(CHANNELS, CHANNELS, k, k)

    def ours() -> object:
        layer.weight.grad = None
        layer.expansion(layer.weight).backward(grad)
        return None

    def theirs() -> object:
        conv.weights.grad = None
        conv.expand_parameters()[0].backward(grad)
        return None

    speedup = _interleaved(theirs, ours, rounds, min_t, threads)
    return speedup, _time(ours, min_t, threads) * 1e6


# ----- 3. construction -------------------------------------------------------------------------
def _build_p4cnn_s(rounds: int) -> float:
    build("p4cnn")  # first build fills the group tables
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        build("p4cnn")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_BUILD_SCRIPT = """
import time, sys
import torch
torch.set_num_threads({threads})
from symml.models import build
{imports}
start = time.perf_counter()
{build}
print(time.perf_counter() - start)
"""

_SYMML_BUILD = "build('steerable_cnn', group='{group}')"
_ESCNN_IMPORTS = "from escnn import gspaces, nn as enn"
_ESCNN_BUILD = """
gs = gspaces.rot2dOnR2(16) if '{group}' == 'C16' else gspaces.flipRot2dOnR2(8, axis=0.0)
t = enn.FieldType(gs, [gs.trivial_repr])
for c, k in zip((16, 24, 32, 32, 48, 64), (7, 5, 5, 5, 5, 5)):
    out = enn.FieldType(gs, c * [gs.regular_repr])
    enn.R2Conv(t, out, k)
    t = out
"""


def _fresh_escnn(tmp: Path) -> Path:
    """A copy of escnn without its on-disk cache and bytecode: what a fresh install has."""
    spec = importlib.util.find_spec("escnn")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).parent
    target = tmp / "site"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        source, target / "escnn", ignore=shutil.ignore_patterns("__pycache__", "joblib")
    )
    return target


def _subprocess_s(code: str, fresh_install: bool, tmp: Path) -> float:
    env = dict(os.environ)
    if fresh_install:
        env["PYTHONPATH"] = os.pathsep.join([str(_fresh_escnn(tmp)), env.get("PYTHONPATH", "")])
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _steerable_build_s(
    group: str, fresh_install: bool, rounds: int, tmp: Path, threads: int = THREADS
) -> list[float]:
    code = _BUILD_SCRIPT.format(
        threads=threads, imports=_ESCNN_IMPORTS, build=_SYMML_BUILD.format(group=group)
    )
    return [_subprocess_s(code, fresh_install, tmp) for _ in range(rounds)]


def _escnn_build_s(group: str, fresh_install: bool, tmp: Path) -> float:
    code = _BUILD_SCRIPT.format(
        threads=THREADS, imports=_ESCNN_IMPORTS, build=_ESCNN_BUILD.format(group=group)
    )
    return _subprocess_s(code, fresh_install, tmp)


def _import_s(module: str, rounds: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


# ----- 4., 5. whole models -------------------------------------------------------------------
def _model_ratio(rounds: int, min_t: float) -> float:
    torch.manual_seed(0)
    p4, z2 = build("p4cnn").train(), build("z2cnn").train()
    x = torch.randn(128, 1, SIZE, SIZE)

    def step(model: torch.nn.Module) -> Fn:
        def run() -> object:
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
            return None

        return run

    return _interleaved(step(p4), step(z2), rounds, min_t)


def _compile_p4cnn() -> tuple[float, float, float]:
    """(compile seconds, max |compiled - eager|, compiled / eager time at batch 128, eval)."""
    torch.manual_seed(0)
    model = build("p4cnn").eval()
    x = torch.randn(128, 1, SIZE, SIZE)
    compiled = torch.compile(model)
    with torch.no_grad():
        start = time.perf_counter()
        y = compiled(x)
        seconds = time.perf_counter() - start
        diff = float((y - model(x)).abs().max())

        def eager() -> object:
            with torch.no_grad():
                return model(x)

        def fast() -> object:
            with torch.no_grad():
                return compiled(x)

        ratio = _interleaved(fast, eager, 11, 0.3)
    return seconds, diff, ratio


# ----- 6. steerable equivariance -------------------------------------------------------------
def _smooth_disc(size: int = SIZE) -> torch.Tensor:
    x = torch.randn(2, 1, size, size, generator=torch.Generator().manual_seed(0))
    x = F.avg_pool2d(F.avg_pool2d(x, 5, 1, 2), 5, 1, 2) * 25
    c = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij")
    return x * torch.exp(-(xx**2 + yy**2) / (2 * (size / 6) ** 2))


def _steerable_errors(group: str) -> tuple[float, float]:
    torch.manual_seed(0)
    model = build("steerable_cnn", group=group)
    with torch.no_grad():
        for seed in range(2):  # running statistics for batch norm
            gen = torch.Generator().manual_seed(seed)
            model(torch.randn(16, 1, SIZE, SIZE, generator=gen))
    model.eval()
    x = _smooth_disc()
    exact = equivariance_error(model, x=x)["output"]
    point = model.group
    others = (
        point.elements()
        if point.order is not None
        else point.sample(8, generator=torch.Generator().manual_seed(0))
    )
    approximate = equivariance_error(model, x=x, elements=others, interpolation=True)["output"]
    return exact, approximate


# ----- sections -------------------------------------------------------------------------------
Figures = dict[str, float]
MODES = ("train_fwd", "train_fwdbwd", "eval_fwd", "eval_fwdbwd")


def _section_conv(figures: Figures, rounds: int, min_t: float, has_escnn: bool) -> None:
    print("1. group conv / floor (conv2d with the same expanded bank): median ratio of")
    print("   interleaved rounds (in brackets: 1 + time of the expansion work alone / floor)")
    print(f"{'group':<6}{'batch':>6}{'k':>3}" + "".join(f"{m:>16}" for m in MODES))
    for group in ("p4", "p4m"):
        for batch in (64, 8):
            for k in (3, 5):
                row = f"{group:<6}{batch:>6}{k:>3}"
                for mode in MODES:
                    median, implied = _conv_case(group, batch, k, mode, rounds, min_t)
                    figures[f"{group}_{mode}_ratio_b{batch}_k{k}"] = median
                    figures[f"{group}_{mode}_implied_b{batch}_k{k}"] = implied
                    row += f"{median:>9.3f} ({implied:.3f})"
                print(row, flush=True)
    if has_escnn:
        print("   escnn R2Conv (p4 fields) / its own floor, train mode")
        for batch in (64, 8):
            for k in (3, 5):
                row = f"{'escnn':<6}{batch:>6}{k:>3}"
                for mode in MODES[:2]:
                    median = _escnn_case(batch, k, mode, rounds, min_t)
                    figures[f"escnn_p4_{mode}_ratio_b{batch}_k{k}"] = median
                    row += f"{median:>9.3f}        "
                print(row, flush=True)
    print()


def _section_expansion(figures: Figures, rounds: int, min_t: float) -> None:
    print("2. filter-bank expansion forward+backward: escnn time / symml time")
    for threads in (THREADS, 1):
        for group in ("p4", "p4m"):
            for k in (3, 5):
                speedup, ours_us = _expansion_speedup(group, k, rounds, min_t, threads)
                tag = f"{group}_k{k}" + ("" if threads == THREADS else "_1thread")
                figures[f"expansion_speedup_vs_escnn_{tag}"] = speedup
                figures[f"expansion_fwdbwd_us_{tag}"] = ours_us
                print(
                    f"   {threads} thread(s), {group} 64x64x{k}x{k}: {speedup:.2f}x faster "
                    f"(symml {ours_us:.0f} µs)",
                    flush=True,
                )
    print()


def _section_construction(figures: Figures, rounds: int, quick: bool, has_escnn: bool) -> None:
    print("3. construction")
    figures["p4cnn_build_s"] = _build_p4cnn_s(rounds)
    print(f"   p4cnn, in process: {figures['p4cnn_build_s'] * 1e3:.1f} ms")
    figures["import_symml_s"] = _import_s("symml", 5)
    figures["import_symml_nn_cnn_s"] = _import_s("symml.nn.cnn", 5)
    print(
        f"   import symml: {figures['import_symml_s']:.3f} s; import symml.nn.cnn (torch "
        f"included): {figures['import_symml_nn_cnn_s']:.2f} s"
    )
    if not has_escnn:
        print()
        return
    figures["import_escnn_s"] = _import_s("escnn.nn", 3)
    print(f"   import escnn.nn (context): {figures['import_escnn_s']:.2f} s")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        builds = 3 if quick else 5
        for group in ("C16", "D8"):
            times = _steerable_build_s(group, False, builds, tmp)
            single = statistics.median(_steerable_build_s(group, False, builds, tmp, threads=1))
            fresh = statistics.median(_steerable_build_s(group, True, builds, tmp))
            warm = statistics.median(times)
            figures[f"steerable_cnn_{group}_build_s"] = warm
            figures[f"steerable_cnn_{group}_build_max_s"] = max(times)
            figures[f"steerable_cnn_{group}_build_1thread_s"] = single
            figures[f"steerable_cnn_{group}_build_fresh_install_s"] = fresh
            line = (
                f"   steerable_cnn {group}, fresh process: median {warm:.2f} s (max "
                f"{max(times):.2f}, 1 thread {single:.2f}); fresh escnn install: {fresh:.2f} s"
            )
            if not quick:
                e_warm = _escnn_build_s(group, False, tmp)
                e_fresh = _escnn_build_s(group, True, tmp)
                figures[f"escnn_{group}_build_s"] = e_warm
                figures[f"escnn_{group}_build_fresh_install_s"] = e_fresh
                figures[f"steerable_cnn_{group}_build_speedup_vs_escnn"] = e_warm / warm
                figures[f"steerable_cnn_{group}_build_fresh_install_speedup_vs_escnn"] = (
                    e_fresh / fresh
                )
                line += f" | escnn's R2Conv layers: {e_warm:.1f} s / {e_fresh:.1f} s"
            print(line, flush=True)
    print()


def _section_models(figures: Figures, rounds: int, min_t: float, quick: bool) -> None:
    print("4. whole models, train forward+backward, batch 128")
    figures["p4cnn_over_z2cnn_fwdbwd_b128"] = _model_ratio(rounds, max(min_t, 0.5))
    print(f"   p4cnn / z2cnn: {figures['p4cnn_over_z2cnn_fwdbwd_b128']:.2f}")
    print()
    if quick:
        return
    print("5. torch.compile (inductor) of p4cnn, eval, batch 128")
    seconds, diff, ratio = _compile_p4cnn()
    figures["p4cnn_compile_s"] = seconds
    figures["p4cnn_compile_max_abs_diff"] = diff
    figures["p4cnn_compiled_over_eager_b128"] = ratio
    print(
        f"   compile {seconds:.1f} s, max |compiled - eager| = {diff:.1e}, "
        f"compiled / eager time {ratio:.2f}"
    )
    print()


def _section_errors(figures: Figures) -> None:
    print("6. steerable_cnn invariance error (benchmark widths, smooth input, eval mode)")
    for group in ("C8", "D8", "SO2"):
        exact, approximate = _steerable_errors(group)
        figures[f"steerable_cnn_{group}_exact_error"] = exact
        figures[f"steerable_cnn_{group}_other_angles_error"] = approximate
        print(f"   {group}: exact grid elements {exact:.1e}, other angles {approximate:.3f}")
    print()


def _checks(figures: Figures) -> dict[str, bool]:
    checks = {}
    ratios = [v for k, v in figures.items() if k.startswith(("p4_", "p4m_")) and "_ratio_" in k]
    implied = [v for k, v in figures.items() if k.startswith(("p4_", "p4m_")) and "_implied_" in k]
    if ratios:
        checks[f"every group conv / floor median <= {GOAL_RATIO}"] = max(ratios) <= GOAL_RATIO
        checks[f"every implied ratio <= {GOAL_RATIO}"] = max(implied) <= GOAL_RATIO
    for key, goal in (("p4cnn_build_s", GOAL_P4CNN_BUILD_S), ("import_symml_s", GOAL_IMPORT_S)):
        if key in figures:
            checks[f"{key} < {goal}"] = figures[key] < goal
    for key in [k for k in figures if k.startswith("expansion_speedup")]:
        checks[f"{key} >= {GOAL_EXPANSION_SPEEDUP}"] = figures[key] >= GOAL_EXPANSION_SPEEDUP
    for group in ("C16", "D8"):
        for suffix in ("build_s", "build_fresh_install_s"):
            key = f"steerable_cnn_{group}_{suffix}"
            if key in figures:
                checks[f"{key} <= {GOAL_STEERABLE_BUILD_S}"] = (
                    figures[key] <= GOAL_STEERABLE_BUILD_S
                )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds per ratio")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 rounds, short timers")
    parser.add_argument("--sections", default="123456", help="which sections to run, e.g. 12")
    args = parser.parse_args()
    rounds = 5 if args.quick else max(5, args.rounds)
    min_t = 0.02 if args.quick else 0.06
    has_escnn = importlib.util.find_spec("escnn") is not None

    torch.set_num_threads(THREADS)
    print("bench_cnn: group convolutions vs plain conv2d, construction, whole models")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device cpu, float32")
    print(f"cpu: {cpu_model()} ({os.cpu_count()} logical cores visible)")
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, python {platform.python_version()}")
    print(f"load average (1, 5, 15 min) at start: {load_average()}")
    print(f"conv: {CHANNELS} channels in/out (p4: 16 fields of C4, p4m: 8 of D4), {SIZE}×{SIZE}")
    print(f"ratios: median of {rounds} interleaved rounds, blocks of ~{min_t} s per side")
    print(f"escnn available: {has_escnn}; sections {args.sections}")
    print()

    figures: Figures = {}
    if "1" in args.sections:
        _section_conv(figures, rounds, min_t, has_escnn)
    if "2" in args.sections and has_escnn:
        _section_expansion(figures, rounds, min_t)
    if "3" in args.sections:
        _section_construction(figures, rounds, args.quick, has_escnn)
    if "4" in args.sections or "5" in args.sections:
        _section_models(figures, rounds, min_t, args.quick or "5" not in args.sections)
    if "6" in args.sections and has_escnn:
        _section_errors(figures)
    for name, ok in _checks(figures).items():
        print(f"check: {name}: {'yes' if ok else 'NO'}")
    print(f"load average (1, 5, 15 min) at the end: {load_average()}")
    for name, value in figures.items():
        print(f"figure: {name} = {value:.4g}" if math.isfinite(value) else f"figure: {name} = nan")


if __name__ == "__main__":
    main()
