"""How fast and how lean are the graph layers of `symml.nn.gnn`?

Measured, forward + backward (gradients for node features, positions and parameters), hidden 64,
float32, on the N-body setting (a batch of 100 fully connected 5-node graphs: 2,000 edges) and on
random kNN-16 graphs of 10³, 10⁴, 10⁵ points in a cube (1.6·10⁴ … 1.6·10⁶ edges):

- `EGNNConv` against egnn-pytorch's ``EGNN_Sparse`` (the peer, hidden 64 = its feats_dim and
  m_dim; skipped with a message when egnn-pytorch is not installed), against `GNNConv` (no goal:
  both run the same fused edge pipeline) and against a straightforward EGNN layer with the same
  parameters (edge MLP on the concatenation [h_i, h_j, ‖x_i − x_j‖²], ``index_add`` scatter) —
  the reference the issue quotes; its outputs are checked against `EGNNConv`'s first;
- cost per edge of `EGNNConv` at 1.6·10⁶ edges over that at 1.6·10⁵ (section ``scaling``):
  `EGNNConv` alone on the two graphs, alternating round by round, 9 rounds. In the table above
  each of its timings follows the peers' (EGNN_Sparse needs ~10 GB at 1.6·10⁶ edges), and what
  they leave of the allocator's heap and the kernel's free pages shifts the two sizes unequally:
  that ratio swung from 0.91 to 1.70 between runs here, so it is printed too but not the check;
- peak memory per edge of forward + backward: each case runs in a fresh subprocess with glibc's
  mmap threshold at 64 KB (so every tensor above it is its own mapping, returned on free, and the
  resident set follows the live tensors); the peak resident set (VmHWM, reset through
  /proc/self/clear_refs) over the pass minus the resident set before it, divided by the edges;
- `TensorFieldConv` (32x0e + 32x1o → 32x0e + 32x1o, spherical harmonics l ≤ 2, on a kNN-16 graph
  of 2,000 points) against the same computation written directly with e3nn (spherical
  harmonics, radial MLP, ``TensorProduct``, scatter, ``Linear``, ``Gate``: the same modules), and
  against the bare e3nn ``TensorProduct`` call on the gathered inputs alone;
- `radius_graph` on 10⁵ uniform points in the unit cube with ~16 neighbours (and `knn_graph`).

Every ratio is measured interleaved in this process: each round times every candidate once
(``Timer.timeit`` with a call count calibrated to ~0.25 s), medians over the rounds.

Run: ``.venv/bin/python benchmarks/bench_gnn.py`` (about 12 minutes on 2 idle cores); parts of it
with ``--sections layers,scaling,memory,tfn,graphs`` and ``--sizes 1000,10000``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")  # before torch: OpenMP threads must not sleep

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from _machine import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path
from e3nn import o3  # noqa: E402
from torch import Tensor  # noqa: E402
from torch.utils.benchmark import Timer  # noqa: E402
from torch_geometric.utils import scatter  # noqa: E402

from symml.nn.gnn import (  # noqa: E402
    EGNNConv,
    GNNConv,
    TensorFieldConv,
    fully_connected_graph,
    knn_graph,
    radius_graph,
)

try:
    from egnn_pytorch import EGNN_Sparse  # the peer; a dev dependency, reported when missing
except ImportError:
    EGNN_Sparse = None

THREADS = 2
HIDDEN = 64
ROUNDS = 5
K = 16
SIZES = (1_000, 10_000, 100_000)
NBODY_GRAPHS = 100
ROUND_S = 0.25  # each candidate's share of a round
TFN_NODES = 2_000
RADIUS_POINTS = 100_000
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}
GOALS = {
    "speedup": 4.0,
    "bytes_per_edge": 2000.0,
    "per_edge_growth": 1.2,
    "tfn": 1.1,
    "radius": 0.2,
}

Step = Callable[[], None]


# ----- graphs and candidates -------------------------------------------------------------------
def make_graph(case: str, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """``(h [N, 64], pos [N, 3], edge_index)`` for ``"nbody"`` or ``"knn_<N>"``."""
    gen = torch.Generator().manual_seed(seed)
    if case == "nbody":
        batch = torch.arange(NBODY_GRAPHS).repeat_interleave(5)
        pos = torch.randn(len(batch), 3, generator=gen)
        edge_index = fully_connected_graph(batch=batch)
    else:
        n = int(case.split("_")[1])
        pos = torch.rand(n, 3, generator=gen)
        edge_index = knn_graph(pos, K)
    return torch.randn(len(pos), HIDDEN, generator=gen), pos, edge_index


def straightforward(
    conv: EGNNConv, h: Tensor, pos: Tensor, edge_index: Tensor
) -> tuple[Tensor, ...]:
    """The EGNN layer written the obvious way, with ``conv``'s parameters."""
    src, dst = edge_index
    diff = pos[dst] - pos[src]
    dist = (diff * diff).sum(1, keepdim=True)
    m = conv.edge_mlp(torch.cat([h[dst], h[src], dist], 1))
    shift = torch.zeros_like(pos).index_add(0, dst, diff * conv.coord_mlp(m).clamp(-100.0, 100.0))
    count = torch.zeros(len(h), 1).index_add(0, dst, torch.ones(len(dst), 1)).clamp(min=1)
    messages = torch.zeros(len(h), m.shape[1]).index_add(0, dst, m)
    return h + conv.node_mlp(torch.cat([h, messages], 1)), pos + shift / count


def candidates(h: Tensor, pos: Tensor, edge_index: Tensor) -> dict[str, Step]:
    """One forward + backward per call, for every candidate available."""
    torch.manual_seed(0)
    egnn, gnn = EGNNConv(HIDDEN, hidden=HIDDEN), GNNConv(HIDDEN, hidden=HIDDEN)

    def run_egnn() -> None:
        hh, xx = h.clone().requires_grad_(), pos.clone().requires_grad_()
        out, x = egnn(hh, xx, edge_index)
        (out.sum() + x.sum()).backward()

    def run_gnn() -> None:
        gnn(h.clone().requires_grad_(), edge_index).sum().backward()

    def run_straightforward() -> None:
        hh, xx = h.clone().requires_grad_(), pos.clone().requires_grad_()
        out, x = straightforward(egnn, hh, xx, edge_index)
        (out.sum() + x.sum()).backward()

    steps = {"EGNNConv": run_egnn, "GNNConv": run_gnn, "straightforward": run_straightforward}
    if EGNN_Sparse is not None:
        peer = EGNN_Sparse(feats_dim=HIDDEN, pos_dim=3, m_dim=HIDDEN)
        # egnn-pytorch aggregates at edge_index[0]; flip so both pass messages j -> i
        flipped = edge_index.flip(0)

        def run_peer() -> None:
            features = torch.cat([pos, h], 1).requires_grad_()
            peer(features, flipped).sum().backward()

        steps["EGNN_Sparse"] = run_peer
    return steps


# ----- timing ----------------------------------------------------------------------------------
def _number(step: Step) -> int:
    """Calls per round for ~ROUND_S seconds (after a warm-up call, which times slow steps)."""
    start = time.perf_counter()
    step()  # warm up
    once = time.perf_counter() - start
    if once < ROUND_S:
        start = time.perf_counter()
        step()
        once = time.perf_counter() - start
    return max(1, math.ceil(ROUND_S / max(once, 1e-9)))


def interleaved(steps: dict[str, Step], rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds per call of each step, measured round by round."""
    numbers = {name: _number(step) for name, step in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            timer = Timer("step()", globals={"step": step}, num_threads=THREADS)
            times[name].append(timer.timeit(numbers[name]).mean)
    return {name: statistics.median(t) for name, t in times.items()}


# ----- memory (subprocess) ---------------------------------------------------------------------
def _status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def measure_peak(candidate: str, case: str) -> dict[str, float]:
    """In this (fresh) process: peak extra resident bytes of one forward + backward."""
    torch.set_num_threads(THREADS)
    h, pos, edge_index = make_graph(case)
    small = make_graph("knn_1000", seed=1)
    candidates(*small)[candidate]()  # load kernels and lazy state on a small graph first
    step = candidates(h, pos, edge_index)[candidate]
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark VmHWM
    before = _status_bytes("VmRSS:")
    step()
    peak = _status_bytes("VmHWM:") - before
    return {"bytes": float(peak), "edges": float(edge_index.shape[1])}


def peak_in_subprocess(candidate: str, case: str) -> dict[str, float] | None:
    env = {**os.environ, **MEMORY_ENV}
    cmd = [sys.executable, __file__, "--peak-memory", candidate, case]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  memory of {candidate} on {case} failed: {done.stderr.strip()[-300:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def calibrate_memory() -> float:
    """The method's error: measured peak of a pass that allocates exactly 100 MB."""
    env = {**os.environ, **MEMORY_ENV}
    code = (
        "import torch, pathlib\n"
        "def s(k):\n"
        "    for l in pathlib.Path('/proc/self/status').read_text().splitlines():\n"
        "        if l.startswith(k): return int(l.split()[1]) * 1024\n"
        "pathlib.Path('/proc/self/clear_refs').write_text('5'); b = s('VmRSS:')\n"
        "x = torch.ones(25_000_000); del x\n"
        "print(s('VmHWM:') - b)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return int(done.stdout.strip()) / 1e8


# ----- tensor field convolution ----------------------------------------------------------------
def tfn_steps() -> dict[str, Step]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(TFN_NODES, 3, generator=gen) * 2.0
    edge_index = knn_graph(pos, K)
    conv = TensorFieldConv("32x0e + 32x1o", "32x0e + 32x1o", lmax=2, max_radius=1.0)
    x = torch.randn(TFN_NODES, conv.in_dim, generator=gen)
    src, dst = edge_index
    n = TFN_NODES

    def layer() -> None:
        conv(x.clone().requires_grad_(), pos, edge_index).sum().backward()

    def e3nn_by_hand() -> None:  # the same computation with the same e3nn modules, no wrapper
        xx = x.clone().requires_grad_()
        vec = pos.index_select(0, src) - pos.index_select(0, dst)
        sh = o3.spherical_harmonics(conv.sh_irreps, vec, True, normalization="component")
        weights = conv.radial(conv.embed(vec.norm(dim=1)))
        messages = conv.tp(xx.index_select(0, src), sh, weights)
        out = conv.linear(scatter(messages, dst, 0, dim_size=n, reduce="mean"))
        conv.gate(out + conv.self_interaction(xx)).sum().backward()

    vec = pos[src] - pos[dst]
    sh = o3.spherical_harmonics(conv.sh_irreps, vec, True, normalization="component")
    w0 = conv.radial(conv.embed(vec.norm(dim=1))).detach()

    x_src = x.index_select(0, src)

    def bare_tp() -> None:
        conv.tp(x_src.clone().requires_grad_(), sh, w0.clone().requires_grad_()).sum().backward()

    return {"TensorFieldConv": layer, "e3nn by hand": e3nn_by_hand, "bare TP": bare_tp}


# ----- main ------------------------------------------------------------------------------------
SECTIONS = ("layers", "scaling", "memory", "tfn", "graphs")
SCALING_ROUNDS = 9


def run_layers(cases: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    results: dict[str, dict[str, float]] = {}
    edges: dict[str, int] = {}
    for case in cases:
        h, pos, edge_index = make_graph(case)
        edges[case] = edge_index.shape[1]
        torch.manual_seed(0)
        check = EGNNConv(HIDDEN, hidden=HIDDEN)
        with torch.no_grad():
            a, b = check(h, pos, edge_index), straightforward(check, h, pos, edge_index)
        gap = max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))
        results[case] = interleaved(candidates(h, pos, edge_index))
        print(f"{case}: {edges[case]:,} edges, max |EGNNConv - straightforward| = {gap:.1e}")
    print()
    names = list(results[cases[0]])
    header = f"{'graph':<12}{'edges':>11}" + "".join(f"{n + ' ms':>20}" for n in names)
    header += f"{'ns/edge':>10}{'peer/ours':>11}{'EGNN/GNN':>10}"
    print(header)
    print("-" * len(header))
    for case in cases:
        r = results[case]
        row = f"{case:<12}{edges[case]:>11,}" + "".join(f"{r[n] * 1e3:>20.2f}" for n in names)
        speed = r["EGNN_Sparse"] / r["EGNNConv"] if "EGNN_Sparse" in r else math.nan
        row += f"{r['EGNNConv'] / edges[case] * 1e9:>10.0f}{speed:>11.2f}"
        row += f"{r['EGNNConv'] / r['GNNConv']:>10.2f}"
        print(row)
    print()
    return results, edges


def run_scaling(cases: list[str]) -> float:
    """Cost per edge of `EGNNConv` on the last case over the one before, alone, alternating."""
    steps, edges = {}, {}
    for case in cases:
        h, pos, edge_index = make_graph(case)
        edges[case] = edge_index.shape[1]
        steps[case] = candidates(h, pos, edge_index)["EGNNConv"]
    seconds = interleaved(steps, rounds=SCALING_ROUNDS)
    per_edge = {case: seconds[case] / edges[case] * 1e9 for case in cases}
    mid, big = cases
    growth = per_edge[big] / per_edge[mid]
    listed = ", ".join(f"{case} {per_edge[case]:.0f} ns/edge" for case in cases)
    print(f"EGNNConv alone, alternating ({SCALING_ROUNDS} rounds): {listed}; ratio {growth:.2f}\n")
    return growth


def run_memory(cases: list[str]) -> dict[tuple[str, str], float]:
    scale = calibrate_memory()
    print(f"peak memory per edge (forward + backward; a 100 MB allocation reads {scale:.3f}x)")
    memory: dict[tuple[str, str], float] = {}
    for case in cases:
        for name in ("EGNNConv", "GNNConv", "straightforward", "EGNN_Sparse"):
            if name == "EGNN_Sparse" and (EGNN_Sparse is None or case == "knn_100000"):
                continue  # the peer would need ~10 GB at 1.6e6 edges
            got = peak_in_subprocess(name, case)
            if got is not None:
                memory[(name, case)] = got["bytes"] / got["edges"]
                print(f"  {case:<12}{name:<16}{memory[(name, case)]:>10.0f} B/edge")
    print()
    return memory


def run_tfn() -> dict[str, float]:
    tfn = interleaved(tfn_steps())
    print(f"TensorFieldConv 32x0e+32x1o -> 32x0e+32x1o, l <= 2, {TFN_NODES} points kNN-{K}:")
    for name, t in tfn.items():
        print(f"  {name:<18}{t * 1e3:>10.2f} ms")
    print()
    return tfn


def run_graphs() -> tuple[float, float]:
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(RADIUS_POINTS, 3, generator=gen, dtype=torch.float64)
    r = (K * 3 / (4 * math.pi * RADIUS_POINTS)) ** (1 / 3)
    radius_times, knn_times = [], []
    for _ in range(7):
        start = time.perf_counter()
        graph = radius_graph(points, r)
        radius_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        knn_graph(points, K)
        knn_times.append(time.perf_counter() - start)
    radius_s, knn_s = statistics.median(radius_times), statistics.median(knn_times)
    print(
        f"radius_graph: {RADIUS_POINTS:,} points, r = {r:.4f}, "
        f"{graph.shape[1] / RADIUS_POINTS:.1f} neighbours on average: {radius_s:.3f} s; "
        f"knn_graph (k = {K}): {knn_s:.3f} s (medians of 7)"
    )
    print()
    return radius_s, knn_s


def main(sections: tuple[str, ...], sizes: tuple[int, ...]) -> None:
    torch.set_num_threads(THREADS)
    print("bench_gnn: graph layers, forward + backward, float32")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device cpu, float32")
    print(f"cpu: {cpu_model()} ({os.cpu_count()} logical cores visible)")
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, python {platform.python_version()}")
    print(f"load average (1, 5, 15 min) at start: {load_average()}")
    print(f"sections: {', '.join(sections)}; hidden {HIDDEN}; kNN-{K} graphs of ")
    print(f"{', '.join(f'{n:,}' for n in sizes)} points; N-body: {NBODY_GRAPHS} fully connected ")
    print(f"5-node graphs; medians of {ROUNDS} rounds")
    if EGNN_Sparse is None:
        print("egnn-pytorch is not installed (pip install egnn-pytorch, in symml's dev extra): ")
        print("the EGNN_Sparse comparison is skipped")
    print()
    cases = ["nbody"] + [f"knn_{n}" for n in sizes]
    results, edges = run_layers(cases) if "layers" in sections else ({}, {})
    memory_cases = [c for c in cases if c in ("knn_10000", "knn_100000")]
    memory = run_memory(memory_cases) if "memory" in sections else {}
    tfn = run_tfn() if "tfn" in sections else {}
    radius_s, knn_s = run_graphs() if "graphs" in sections else (math.nan, math.nan)

    big, mid = "knn_100000", "knn_10000"
    in_table = math.nan
    if big in results and mid in results:
        in_table = (results[big]["EGNNConv"] / edges[big]) / (results[mid]["EGNNConv"] / edges[mid])
    growth = math.nan
    if "scaling" in sections and big in cases and mid in cases:
        growth = run_scaling([mid, big])
    speedups = {
        c: r["EGNN_Sparse"] / r["EGNNConv"] for c, r in results.items() if "EGNN_Sparse" in r
    }
    ours = [v for (n, _), v in memory.items() if n == "EGNNConv"]
    checks = [
        ("EGNNConv >= 4x faster than EGNN_Sparse at every size",
         min(speedups.values()) >= GOALS["speedup"] if speedups else None),
        ("peak memory <= 2.0 KB per edge", max(ours) <= GOALS["bytes_per_edge"] if ours else None),
        ("cost per edge within 1.2x from 1.6e5 to 1.6e6 edges",
         growth <= GOALS["per_edge_growth"] if not math.isnan(growth) else None),
        ("TensorFieldConv <= 1.1x the same e3nn computation by hand",
         tfn["TensorFieldConv"] / tfn["e3nn by hand"] <= GOALS["tfn"] if tfn else None),
        ("radius graph of 1e5 points <= 0.2 s",
         radius_s <= GOALS["radius"] if not math.isnan(radius_s) else None),
    ]  # fmt: skip
    for text, ok in checks:
        if ok is not None:
            print(f"check: {text}: {'yes' if ok else 'NO'}")

    for case, r in results.items():
        if case in speedups:
            print(f"figure: egnnconv_speedup_vs_egnn_sparse_{case} = {speedups[case]:.3g}")
        print(f"figure: egnnconv_over_gnnconv_{case} = {r['EGNNConv'] / r['GNNConv']:.3g}")
        naive = r["straightforward"] / r["EGNNConv"]
        print(f"figure: straightforward_over_egnnconv_{case} = {naive:.3g}")
        print(f"figure: egnnconv_ns_per_edge_{case} = {r['EGNNConv'] / edges[case] * 1e9:.4g}")
    if not math.isnan(growth):
        print(f"figure: egnnconv_cost_per_edge_1.6e6_over_1.6e5 = {growth:.3g}")
    if not math.isnan(in_table):
        print(f"figure: egnnconv_cost_per_edge_1.6e6_over_1.6e5_in_table = {in_table:.3g}")
    for (name, case), v in memory.items():
        print(f"figure: peak_bytes_per_edge_{name}_{case} = {v:.4g}")
    if tfn:
        print(f"figure: tfn_over_e3nn_by_hand = {tfn['TensorFieldConv'] / tfn['e3nn by hand']:.3g}")
        print(f"figure: tfn_over_bare_tp = {tfn['TensorFieldConv'] / tfn['bare TP']:.3g}")
    if not math.isnan(radius_s):
        print(f"figure: radius_graph_1e5_s = {radius_s:.4g}")
        print(f"figure: knn_graph_1e5_s = {knn_s:.4g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="kNN graph sizes (points), e.g. 1000,10000",
    )
    parser.add_argument(
        "--peak-memory", nargs=2, metavar=("CANDIDATE", "CASE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.peak_memory:
        print(json.dumps(measure_peak(*args.peak_memory)))
    else:
        chosen = tuple(x for x in args.sections.split(",") if x)
        unknown = sorted(set(chosen) - set(SECTIONS))
        if unknown:
            parser.error(f"unknown sections {unknown}; choose from {SECTIONS}")
        main(chosen, tuple(int(n) for n in args.sizes.split(",") if n))
