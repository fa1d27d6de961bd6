"""A fair comparison in a few seconds: EMLP against a plain MLP and the MLP trained with random
O(5) augmentation on emlp's O(5)-invariant task, every model given the same budget of optimizer
steps at every training size, its learning rate tuned on the validation split, and its convergence
judged from its validation curve. The test metric is in the raw units of the target. Sixty
steps keep the example to seconds, and most runs say so: "not converged", with by how much.

Run: python examples/fair_comparison.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from symml.training import build_report, run_sweep

EXPERIMENT = {
    "experiment": "o5_fair",
    "data": {"name": "o5_synthetic", "val_size": 200, "test_size": 500, "standardize": True},
    "model": {"name": "emlp"},
    "trainer": {
        "budget": {"steps": 60, "evaluations": 10},  # the same 60 steps at N = 30 and N = 300
        "batch_size": 30,
        "progress": False,
    },
    "tune": {"trainer.optimizer.lr": [1e-3, 3e-3]},  # chosen per run on validation only
    "sweep": {
        "model": [
            {"name": "emlp", "options": {"hidden": 32, "num_layers": 2}},
            {"name": "mlp", "options": {"hidden": 32, "num_layers": 2}},
            {"name": "mlp", "options": {"hidden": 32, "num_layers": 2}, "data": {"augment": True}},
        ],
        "data.train_size": [30, 300],
    },
}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder) / "runs"
        outcome = run_sweep(EXPERIMENT, runs, console=Console(quiet=True))
        for r in sorted(outcome.results, key=lambda r: (r.label, r.train_size)):
            verdict = "converged" if r.converged else r.convergence or "not judged"
            print(
                f"{r.label:>8} N={r.train_size:<4} test MSE {r.test:8.4f} "
                f"({r.metric_units}), {r.steps} steps, "
                f"lr {r.tuned['trainer.optimizer.lr']:g} — {verdict}"
            )
        report = build_report(runs / "o5_fair")
        print("report:", ", ".join(p.name for p in report.files if p.suffix == ".md"))


if __name__ == "__main__":
    main()
