"""Reports of runs that record how they were trained: the budget rule, tuned values with every
candidate, the loop's convergence verdict and learning curves (``metrics.jsonl``); and the
terminal tables at 80 columns."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpl_image
from rich.console import Console

from symml.training._report_console import runs_table
from symml.training._report_curves import read_curves
from symml.training._report_plots import learning_curves_figure
from symml.training._report_protocol import notes_cell, tuned_cell
from symml.training.report import Report, build_report, find_runs, to_markdown
from symml.training.run_result import RunResult

from .test_report import _aggregate, _result

DATASET, GROUP = "o5_synthetic", "Orthogonal(5)"
SIZES, SEEDS, STEPS, EVERY = (100, 1000), (0, 1, 2), 3000, 60
RULE = "3,000 optimizer steps at every training size"
LR = "trainer.optimizer.lr"
# (label, model, group, augment, parameters)
MODELS = [
    ("emlp", "emlp", GROUP, False, 12_345),
    ("mlp", "mlp", "none", False, 150_000),
    ("mlp+aug", "mlp", "none", True, 150_000),
]
FLAGGED = ("emlp", 1000, 0)  # the one run the loop judged not converged
# mlp's selected learning rate per seed, and the candidate that diverged (seed, lr)
SELECTED, DIVERGED = {0: 0.001, 1: 0.001, 2: 0.003}, (1, 0.003)


def _curve(rng: np.random.Generator, tau: float, floor: float) -> list[dict[str, Any]]:
    """metrics.jsonl rows: validation every EVERY steps, decaying towards ``floor``."""
    rows = []
    for i, step in enumerate(range(EVERY, STEPS + 1, EVERY), start=1):
        val = floor + math.exp(-step / tau) * (1 + 0.02 * rng.standard_normal())
        rows.append(
            {
                "epoch": i,
                "step": step,
                "train_loss": 0.8 * val,
                "val_metric": val,
                "lr": 1e-3,
                "seconds": 0.1 * i,
                "equivariance_error": None,
            }
        )
    return rows


def _fair_runs(root: Path) -> list[dict[str, Any]]:
    """Write new-style runs (with metrics.jsonl) of one dataset; return their results."""
    rng = np.random.default_rng(0)
    results = []
    for label, model, group, augment, params in MODELS:
        for size in SIZES:
            for seed in SEEDS:
                flagged = (label, size, seed) == FLAGGED
                rows = _curve(rng, 2000.0 if flagged else 300.0, 0.5 / math.sqrt(size))
                best = min(range(len(rows)), key=lambda i: rows[i]["val_metric"])
                best_step = rows[best]["step"]
                result = _result(
                    run_id=f"{label}-{size}-{seed}",
                    experiment="fair",
                    model=model,
                    model_group=group,
                    augment=augment,
                    label=label,
                    dataset=DATASET,
                    train_size=size,
                    seed=seed,
                    parameters=params,
                    test=0.7777 + 0.001 * seed,  # a number the tuning table must not show
                    val=rows[best]["val_metric"],
                    metric_units="raw target units",
                    budget={
                        "rule": RULE,
                        "epochs": STEPS * 16 // size,
                        "steps": STEPS,
                        "steps_per_epoch": size // 16 or 1,
                        "eval_every": EVERY,
                    },
                    steps=STEPS,
                    best_step=best_step,
                    early_stopped=False,
                    converged=not flagged,
                    convergence=f"not converged: best at step {best_step:,} of {STEPS:,} "
                    "(validation improved 12% over the last 20% of the budget)"
                    if flagged
                    else "",
                    train_seconds=10.0 + seed,
                    eval_seconds=2.0,
                )
                if label == "mlp":
                    result["tuned"] = {LR: SELECTED[seed]}
                    result["candidates"] = [
                        {
                            "values": {LR: lr},
                            "val": None if (seed, lr) == DIVERGED else 0.1 + abs(lr - 0.001),
                            "best_step": None if (seed, lr) == DIVERGED else 2400,
                            "converged": None if (seed, lr) == DIVERGED else True,
                            "error": "loss became nan" if (seed, lr) == DIVERGED else None,
                        }
                        for lr in (0.0003, 0.001, 0.003)
                    ]
                run = root / "fair" / result["run_id"]
                run.mkdir(parents=True)
                (run / "result.json").write_text(json.dumps(result))
                (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
                if label == "mlp":  # a tuned run keeps its candidates' logs inside its folder
                    (run / "candidates" / "lr=0.001").mkdir(parents=True)
                    (run / "candidates" / "lr=0.001" / "metrics.jsonl").write_text("")
                results.append(result)
    return results


@pytest.fixture(scope="module")
def fair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("fair") / "runs"
    results = _fair_runs(root)
    return build_report(root), results


def _md_row(text: str, label: str, size: int) -> list[str]:
    """The cells of one row of the main table in results.md."""
    line = next(
        x for x in text.splitlines() if x.startswith(f"| {label} | ") and f" {size:,} |" in x
    )
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_candidates_are_part_of_their_run(fair: tuple[Report, Any]) -> None:
    report, results = fair
    finished, unfinished = find_runs(report.runs_dir)
    assert len(finished) == len(results) == 18 and unfinished == []
    assert (report.finished, report.unfinished) == (18, 0)


def test_budget_and_metric_are_stated(fair: tuple[Report, Any]) -> None:
    text = fair[0].markdown
    section = text.split(f"## {DATASET}")[1]
    assert section.startswith(
        f"\n\nBudget: {RULE}; validation every 60 steps; checkpoint at the best validation "
        "metric.\n\nMetric: test MSE (raw target units), lower is better.\n"
    )
    assert "| test MSE (raw target units), mean ± std | published | tuned | notes |" in text


def test_tuned_column(fair: tuple[Report, Any]) -> None:
    text = fair[0].markdown
    for size in SIZES:
        assert _md_row(text, "mlp", size)[6] == "lr 0.001 (2/3 seeds), 0.003 (1/3)"
        assert _md_row(text, "emlp", size)[6] == "—"


def test_not_converged_is_flagged_where_the_loop_said_so(fair: tuple[Report, Any]) -> None:
    report, results = fair
    text = report.markdown
    flagged = next(r for r in results if r["run_id"] == "emlp-1000-0")
    step = f"{flagged['best_step']:,}"
    assert _md_row(text, "emlp", 1000)[7] == (
        f"not converged (1/3 seeds): best at step {step} of 3,000"
    )
    for label, _, _, _, _ in MODELS:  # every other row converged: no note
        for size in SIZES:
            if (label, size) != FLAGGED[:2]:
                assert _md_row(text, label, size)[7] == "—"
    paragraph = text.split("**Not converged**")[1].split("\n\n![")[0]
    assert paragraph.startswith(" (1 of 6 rows): the validation metric was still improving")
    assert "under-trained" in paragraph and "`trainer.budget`" in paragraph
    assert f"- emlp, N = 1,000, seed 0: {flagged['convergence']}" in paragraph
    assert text.count("- emlp, N = ") == 1


def test_tuning_table_lists_every_candidate_without_test_numbers(fair: tuple[Report, Any]) -> None:
    report, results = fair
    table = report.markdown.split(f"### Tuning on {DATASET}")[1].split("###")[0]
    header = "| model | train size | seed | lr | validation MSE (raw target units) | best step |"
    assert f"{header} converged | selected |" in table
    lines = [x for x in table.splitlines() if x.startswith("| mlp |")]
    assert len(lines) == len(SIZES) * len(SEEDS) * 3  # every candidate of every tuned run
    assert "| mlp | 100 | 0 | 0.0003 | 0.1007 | 2,400 | yes |  |" in lines
    assert "| mlp | 100 | 0 | 0.001 | 0.1 | 2,400 | yes | **selected** |" in lines
    assert "| mlp | 1,000 | 1 | 0.003 | — | — | — | failed: loss became nan |" in lines
    assert "| mlp | 1,000 | 2 | 0.003 | 0.102 | 2,400 | yes | **selected** |" in lines
    assert sum("**selected**" in x for x in lines) == len(SIZES) * len(SEEDS)
    assert not {f"{r['test']:.4g}" for r in results} & set(re.split(r"[ |]+", table))


def test_csv_columns(fair: tuple[Report, Any]) -> None:
    report, _ = fair
    with (report.out_dir / "results.csv").open(newline="") as f:
        table = {(r["label"], int(r["train_size"])): r for r in csv.DictReader(f)}
    emlp, mlp = table[("emlp", 1000)], table[("mlp", 100)]
    assert (emlp["budget_rule"], float(emlp["steps_mean"])) == (RULE, 3000.0)
    assert (emlp["not_converged"], mlp["not_converged"]) == ("1", "0")
    assert (emlp["tuned"], mlp["tuned"]) == ("", "lr 0.001 (2/3 seeds), 0.003 (1/3)")
    assert float(emlp["train_seconds_mean"]) == pytest.approx(11.0)
    assert float(emlp["eval_seconds_mean"]) == pytest.approx(2.0)
    assert emlp["metric_units"] == "raw target units"


def test_learning_curves_are_drawn(fair: tuple[Report, Any]) -> None:
    report, results = fair
    names = {p.name for p in report.files}
    assert {f"learning_curves_{DATASET}.png", f"learning_curves_{DATASET}.svg"} <= names
    assert f"![learning curves on {DATASET}](learning_curves_{DATASET}.png)" in report.markdown
    pixels = mpl_image.imread(report.out_dir / f"learning_curves_{DATASET}.png")
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1200 and pixels.std() > 0
    svg = (report.out_dir / f"learning_curves_{DATASET}.svg").read_text()
    for text in ("optimizer step", "training loss (MSE)", "validation MSE (raw target units)"):
        assert text in svg
    for text in ("N = 100", "N = 1,000", "mlp+aug", "one thin line"):
        assert text in svg


def test_learning_curve_lines_and_best_dots(fair: tuple[Report, Any]) -> None:
    report, results = fair
    curves = read_curves(
        (report.runs_dir / "fair" / r["run_id"], RunResult.from_dict(r, r["run_id"]))
        for r in results
    )
    fig = learning_curves_figure(curves)
    assert len(fig.axes) == 6  # 2 rows (training loss, validation) × 3 models
    top, bottom = fig.axes[0], fig.axes[3]  # emlp: the first label
    assert (top.get_title(), top.get_yscale(), bottom.get_yscale()) == ("emlp", "log", "log")
    lines = [line for line in bottom.get_lines() if line.get_marker() == "None"]
    dots = [line for line in bottom.get_lines() if line.get_marker() == "o"]
    assert len(lines) == len(dots) == len(SIZES) * len(SEEDS)
    emlp = [r for r in results if r["label"] == "emlp"]
    log = (report.runs_dir / "fair" / "emlp-1000-0" / "metrics.jsonl").read_text().splitlines()
    want = np.array([[row["step"], row["val_metric"]] for row in map(json.loads, log)])
    assert any(np.array_equal(np.asarray(line.get_xydata()), want) for line in lines)
    expected = sorted((float(r["best_step"]), float(r["val"])) for r in emlp)
    points = [np.asarray(dot.get_xydata())[0] for dot in dots]
    assert sorted((float(x), float(y)) for x, y in points) == expected


def test_learning_curves_skipped_without_metrics(tmp_path: Path) -> None:
    run = tmp_path / "exp" / "a"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps(_result()))
    (run / "metrics.jsonl").write_text("")  # a run killed before its first evaluation
    report = build_report(tmp_path)
    assert not [p for p in report.files if "learning_curves" in p.name]
    assert "learning curves" not in report.markdown


def test_older_metrics_without_steps_plot_by_epoch(tmp_path: Path) -> None:
    run = tmp_path / "a"
    run.mkdir()
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_metric": 2.0 / e} for e in (1, 2, 3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (curve,) = read_curves([(run, RunResult.from_dict(_result(), "a"))])
    assert (curve.by_step, curve.x, curve.best) == (False, (1.0, 2.0, 3.0), 2)
    fig = learning_curves_figure([curve])
    assert fig.axes[1].get_xlabel() == "epoch"
    assert fig.axes[1].get_ylabel() == "validation MSE"  # no units recorded by older runs


def test_corrupt_metrics_line_names_file_and_line(tmp_path: Path) -> None:
    run = tmp_path / "exp" / "a"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps(_result()))
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1, "val_metric": 1}\n{"ep')
    with pytest.raises(ValueError, match=re.escape(f"{run / 'metrics.jsonl'}:2: corrupt")):
        build_report(tmp_path)
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:1: no 'val_metric'; delete .* re-run"):
        build_report(tmp_path)


def test_different_budget_rules_are_listed_each() -> None:
    budget = {"epochs": 30, "steps": 300, "steps_per_epoch": 10, "eval_every": 10}
    rows = _aggregate(
        [
            _result(run_id="a", budget={**budget, "rule": "30 epochs"}),
            _result(run_id="b", train_size=10, budget={**budget, "rule": RULE}),
            _result(run_id="c", label="emlp", budget={**budget, "rule": RULE, "eval_every": 30}),
        ]
    )
    text = to_markdown(rows, 3, [], [])
    assert "Budgets differ between rows (compare rows of one budget):" in text
    assert "- 30 epochs; validation every 10 steps: mlp at N = 100\n" in text
    assert f"- {RULE}; validation every 10–30 steps (by training size): emlp, mlp at N = 10" in text


def test_seeds_of_a_row_must_share_the_budget_rule() -> None:
    budget = {"epochs": 30, "steps": 300, "steps_per_epoch": 10, "eval_every": 10}
    results = [
        _result(run_id="a", budget={**budget, "rule": "30 epochs"}),
        _result(run_id="b", seed=1, budget={**budget, "rule": RULE}),
    ]
    with pytest.raises(ValueError, match=r"runs a, b .* disagree on 'budget.rule'"):
        _aggregate(results)


def test_old_and_new_metric_units_are_not_mixed() -> None:
    results = [_result(run_id="a"), _result(run_id="b", seed=1, metric_units="raw target units")]
    with pytest.raises(ValueError, match="disagree on 'metric_units'.*re-run the sweep"):
        _aggregate(results)


def test_cells_of_several_keys_and_unjudged_runs() -> None:
    values = [{LR: 0.001, "trainer.optimizer.weight_decay": 0.0}] * 2
    (row,) = _aggregate(
        [
            _result(run_id=str(s), seed=s, tuned=v, converged=None, convergence=note)
            for s, v, note in zip(
                (0, 1, 2),
                [*values, {LR: 0.01, "trainer.optimizer.weight_decay": 0.0}],
                ["convergence not judged: 3 validation points (need 5)", "", ""],
                strict=True,
            )
        ]
    )
    assert tuned_cell(row) == "lr 0.001, weight_decay 0 (2/3 seeds); lr 0.01, weight_decay 0 (1/3)"
    assert notes_cell(row) == "convergence not judged (1/3 seeds): 3 validation points (need 5)"
    (same,) = _aggregate([_result(run_id=str(s), seed=s, tuned={LR: 1e-5}) for s in (0, 1)])
    assert tuned_cell(same) == "lr 1e-05"
    (mixed,) = _aggregate(
        [_result(run_id=str(s), seed=s, tuned={LR: 0.1} if s == 2 else {}) for s in (0, 1, 2)]
    )
    assert tuned_cell(mixed) == "not tuned (2/3 seeds), lr 0.1 (1/3)"


# ----- 80 columns ---------------------------------------------------------------------------
def _render(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_report_table_reads_at_80_columns(fair: tuple[Report, Any]) -> None:
    text = _render(fair[0].summary_table())
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    assert f"{DATASET}: test MSE (raw target units), mean ± std over seeds" in text
    for word in (GROUP, "mlp+aug", "150,000", "12,345", "1,000", "0.779 ± 0.001 (n=3)"):
        assert word in text, word
    # too narrow for the whole table: tuned values and notes follow it, one line per row
    assert "┃ tuned" not in text and "┃ notes" not in text
    assert "• emlp, N = 1,000: not converged (1/3 seeds): best at step 3,000 of 3,000" in text
    assert "• mlp, N = 100: tuned lr 0.001 (2/3 seeds), 0.003 (1/3)" in text
    assert "mlp+aug, N" not in text and "emlp, N = 100:" not in text


def test_report_table_is_whole_where_it_fits(fair: tuple[Report, Any]) -> None:
    text = _render(fair[0].summary_table(), width=200)
    assert "┃ tuned " in text and "┃ notes " in text and "•" not in text
    assert re.search(
        r"│ mlp +│ none +│ 150,000 │ +100 │ .* │ lr 0\.001 \(2/3 seeds\), 0\.003", text
    )
    # far below 80 columns, cells fold rather than truncate
    narrow = _render(fair[0].summary_table(), width=40)
    assert "…" not in narrow and "Ortho" in narrow and "gonal" in narrow


def test_run_table_reads_at_80_columns(fair: tuple[Report, Any]) -> None:
    _, raws = fair
    results = [RunResult.from_dict(r, r["run_id"]) for r in raws]
    text = _render(runs_table(results))
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    assert f"Results on {DATASET}: test MSE (raw target units)" in text
    for word in (GROUP, "mlp+aug", "150,000", "12,345", "1,000", "0.7777", "0.7797"):
        assert word in text, word
    assert "• mlp, N = 100, seed 2: tuned lr 0.003\n" in text
    flat = " ".join(text.split())
    assert "• emlp, N = 1,000, seed 0: not converged: best at step 3,000 of 3,000 (valid" in flat
    assert "emlp, N = 100, seed 0" not in text  # converged, not tuned: nothing to say
    # several datasets: a table each, titled with its metric
    other = _result(run_id="x", dataset="toy_cls", metric="error", test=12.5)
    text = _render(runs_table([*results[:1], RunResult.from_dict(other, "x")]))
    assert "Results on toy_cls: test classification error (%)" in text and "…" not in text
    assert re.search(r"│ mlp +│ none +│ +100 │ +0 │ +12\.5 │ +1,500 │ +— │", text)
