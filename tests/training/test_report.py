"""Reports from synthetic run directories: the aggregated numbers (checked against numpy), the
markdown and CSV tables, the plots (valid PNG/SVG showing the right data) and the errors."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpl_image
from rich.console import Console

from symml.training import RunConfig, train
from symml.training._report_plots import (
    data_efficiency_figure,
    draw_plots,
    generalization_figure,
    line_styles,
)
from symml.training.report import (
    Report,
    aggregate,
    build_report,
    collect,
    find_runs,
    to_csv,
)
from symml.training.results import ReportRow
from symml.training.run_result import RunResult

from .conftest import TINY

REG, CLS = "toy_reg", "toy_cls"
# label -> (model, group, baseline, augment, parameters, scale of its test MSE)
REG_MODELS = {
    "emlp": ("emlp", "O(5)", "mlp", False, 1200, 0.5),
    "mlp": ("mlp", "none", None, False, 1500, 2.0),
    "mlp+aug": ("mlp", "none", None, True, 1500, 1.0),
}
REG_SIZES, REG_SEEDS = (10, 100, 1000), (0, 1, 2)
CLS_MODELS = {"c4cnn": ("p4cnn", "C4", "cnn", 800), "cnn": ("cnn", "none", None, 900)}
CLS_SIZES = (50, 200)
ANGLES = [i * math.pi / 6 for i in range(12)]  # 0°, 30°, ..., 330°
PUBLISHED = {("emlp", 1000): 0.017, ("mlp", 1000): 0.05}


def _result(**overrides: Any) -> dict[str, Any]:
    """A valid result.json body (the spec's schema) with ``overrides`` applied."""
    base: dict[str, Any] = {
        "run_id": "000000000000",
        "experiment": "toy",
        "status": "finished",
        "model": "mlp",
        "model_group": "none",
        "baseline": None,
        "dataset": REG,
        "train_size": 100,
        "seed": 0,
        "augment": False,
        "label": "mlp",
        "metric": "mse",
        "test": 0.1,
        "val": 0.1,
        "transformed": {},
        "angle_curves": {},
        "equivariance_error": None,
        "parameters": 1500,
        "epochs": 3,
        "wall_time_s": 1.0,
        "throughput": 100.0,
        "published": None,
    }
    return {**base, **overrides}


def _aggregate(raws: Iterable[dict[str, Any]]) -> list[ReportRow]:
    """`aggregate` of result.json bodies, each read as a `RunResult`."""
    return aggregate(RunResult.from_dict(raw, f"result {raw['run_id']}") for raw in raws)


def _write(runs: Path, result: dict[str, Any]) -> Path:
    run = runs / result["experiment"] / result["run_id"]
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    path = run / "result.json"
    path.write_text(json.dumps(result))
    return path


def _synthetic_runs(runs: Path) -> dict[tuple[str, str, int], list[dict[str, Any]]]:
    """Write every run; return the results per (dataset, label, train size) for checking."""
    rng = np.random.default_rng(0)
    written: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    count = 0

    def add(result: dict[str, Any]) -> None:
        nonlocal count
        result = _result(run_id=f"{count:012x}", **result)
        count += 1
        _write(runs, result)
        written.setdefault((result["dataset"], result["label"], result["train_size"]), [])
        written[(result["dataset"], result["label"], result["train_size"])].append(result)

    for label, (model, group, baseline, augment, params, scale) in REG_MODELS.items():
        for size in REG_SIZES:
            for seed in REG_SEEDS:
                test = scale / math.sqrt(size) * (1 + 0.2 * rng.standard_normal())
                off = 1.0 if group != "none" else 3.0  # baselines suffer off-distribution
                add(
                    {
                        "experiment": "toy",
                        "model": model,
                        "model_group": group,
                        "baseline": baseline,
                        "augment": augment,
                        "label": label,
                        "dataset": REG,
                        "train_size": size,
                        "seed": seed,
                        "parameters": params,
                        "test": test,
                        "val": test * 1.1,
                        "transformed": {
                            "rotated": test * off * (1 + 0.05 * rng.standard_normal()),
                            "reflected": test * off * 2,
                        },
                        "angle_curves": {
                            "rotation": [
                                [a, test * (1 + (off - 1) * math.sin(a) ** 2)] for a in ANGLES
                            ]
                        },
                        # mlp+aug recorded no equivariance error for its last seed
                        "equivariance_error": None
                        if (label == "mlp+aug" and seed == 2)
                        else (1e-7 if group != "none" else 0.3) * (1 + seed),
                        "published": PUBLISHED.get((label, size)),
                        "wall_time_s": 2.0 + seed,
                        "throughput": 1000.0 * size,
                    }
                )
    for label, (model, group, baseline, params) in CLS_MODELS.items():
        for size in CLS_SIZES:
            add(
                {
                    "experiment": "toy_cls",
                    "model": model,
                    "model_group": group,
                    "baseline": baseline,
                    "label": label,
                    "dataset": CLS,
                    "metric": "error",
                    "train_size": size,
                    "parameters": params,
                    "test": 40.0 * 50 / size + (5.0 if group == "none" else 0.0),
                    "val": 30.0,
                }
            )
    unfinished = runs / "toy" / "aaaaaaaaaaaa"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text("seed: 0\n")
    (unfinished / "manifest.json").write_text("{}")
    (unfinished / "metrics.jsonl").write_text('{"epoch": 0}\n')
    failed = runs / "toy" / "bbbbbbbbbbbb"
    failed.mkdir()
    (failed / "metrics.jsonl").write_text('{"epoch": 0}\n')
    (failed / "failed.json").write_text('{"reason": "non-finite loss"}')
    return written


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Any, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("report") / "runs"
    return root, _synthetic_runs(root)


@pytest.fixture(scope="module")
def report(runs: tuple[Path, dict[Any, Any]]) -> Report:
    return build_report(runs[0])


def _expected(values: list[float]) -> tuple[float, float]:
    """Mean and sample std computed independently of the report's code."""
    data = np.asarray(values, dtype=np.float64)
    return float(data.mean()), float(data.std(ddof=1)) if len(data) > 1 else 0.0


def test_collect_skips_and_counts_unfinished(runs: tuple[Path, dict[Any, Any]]) -> None:
    root, written = runs
    results = collect(root)
    assert len(results) == sum(len(v) for v in written.values()) == 31
    finished, unfinished = find_runs(root)
    assert len(finished) == 31
    assert [p.name for p in unfinished] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]


def test_rows_are_sorted_and_complete(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    keys = [(r.dataset, r.label, r.train_size) for r in report.rows]
    assert keys == sorted(runs[1])


def test_mean_and_std_over_seeds(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    written = runs[1]
    for row in report.rows:
        results = written[(row.dataset, row.label, row.train_size)]
        mean, std = _expected([r["test"] for r in results])
        assert row.test.mean == pytest.approx(mean, rel=1e-12)
        assert row.test.std == pytest.approx(std, rel=1e-12, abs=1e-15)
        assert row.test.n == len(results)
        assert row.seeds == tuple(sorted(r["seed"] for r in results))
        assert row.parameters == results[0]["parameters"]
        assert row.group == results[0]["model_group"]
        assert row.published == PUBLISHED.get((row.label, row.train_size))
        for name in ("rotated", "reflected"):
            if name in results[0]["transformed"]:
                mean, std = _expected([r["transformed"][name] for r in results])
                assert row.transformed[name].mean == pytest.approx(mean, rel=1e-12)
                assert row.transformed[name].std == pytest.approx(std, rel=1e-12)


@pytest.mark.parametrize(("label", "n"), [("emlp", 3), ("mlp+aug", 2)])
def test_equivariance_error_over_recorded_seeds(
    report: Report, runs: tuple[Path, dict[Any, Any]], label: str, n: int
) -> None:
    row = next(r for r in report.rows if r.label == label and r.train_size == 100)
    recorded = [
        r["equivariance_error"]
        for r in runs[1][(REG, label, 100)]
        if r["equivariance_error"] is not None
    ]
    assert row.equivariance_error is not None
    assert row.equivariance_error.n == n
    assert row.equivariance_error.mean == pytest.approx(np.mean(recorded), rel=1e-12)


def test_single_seed_has_zero_std(report: Report) -> None:
    rows = [r for r in report.rows if r.dataset == CLS]
    assert len(rows) == 4
    assert all(r.test.n == 1 and r.test.std == 0.0 for r in rows)
    assert all(not r.transformed and r.equivariance_error is None for r in rows)


def test_angle_curves_averaged_per_angle(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    row = next(r for r in report.rows if r.label == "mlp" and r.train_size == 1000)
    curve = row.angle_curves["rotation"]
    np.testing.assert_allclose(curve.degrees, np.arange(0, 360, 30), atol=1e-9)
    values = np.array(
        [[v for _, v in r["angle_curves"]["rotation"]] for r in runs[1][(REG, "mlp", 1000)]]
    )
    np.testing.assert_allclose(curve.mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(curve.std, values.std(axis=0, ddof=1), rtol=1e-12)
    assert curve.n == 3


def test_csv_has_every_aggregated_number(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    with (report.out_dir / "results.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["dataset"], r["label"], int(r["train_size"])) for r in table] == sorted(runs[1])
    for line in table:
        results = runs[1][(line["dataset"], line["label"], int(line["train_size"]))]
        mean, std = _expected([r["test"] for r in results])
        assert float(line["test_mean"]) == pytest.approx(mean, rel=1e-15)
        assert float(line["test_std"]) == pytest.approx(std, rel=1e-15, abs=1e-300)
        assert int(line["test_n"]) == int(line["n_seeds"]) == len(results)
        assert int(line["parameters"]) == results[0]["parameters"]
        if line["dataset"] == CLS:
            assert line["transformed_rotated_mean"] == line["published"] == ""
        else:
            mean, _ = _expected([r["transformed"]["rotated"] for r in results])
            assert float(line["transformed_rotated_mean"]) == pytest.approx(mean, rel=1e-15)
    emlp = next(r for r in table if r["label"] == "emlp" and r["train_size"] == "1000")
    assert (emlp["published"], emlp["group"], emlp["seeds"]) == ("0.017", "O(5)", "0;1;2")
    with (report.out_dir / "angle_curves.csv").open(newline="") as f:
        curves = list(csv.DictReader(f))
    assert len(curves) == 3 * 3 * len(ANGLES)  # labels × sizes × angles of toy_reg


def test_markdown_tables(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    text = (report.out_dir / "results.md").read_text()
    assert text == report.markdown
    mean, std = _expected([r["test"] for r in runs[1][(REG, "emlp", 1000)]])
    row = f"| emlp | O(5) | 1,200 | 1,000 | {mean:.3g} ± {std:.2g} (n=3) | 0.017 | — | — |"
    assert row in text  # old-style records: not tuned, no convergence verdict
    main_header = "| model | group | params | train size | test MSE, mean ± std | published |"
    assert f"{main_header} tuned | notes |\n|---|---|---:|---:|---|---:|---|---|\n" in text
    assert "| cnn | none | 900 | 200 | 15 ± 0 (n=1) | — | — | — |" in text
    assert "test classification error (%), mean ± std" in text
    # records from before budgets and units were recorded say so instead of guessing
    budget = "Budget: not recorded (runs from before budgets were recorded); checkpoint at"
    assert text.count(budget) == 2 and "Metric: test MSE, lower is better." in text
    assert "Not converged" not in text and "Tuning on" not in text and "learning" not in text
    sets = "in-distribution | reflected | rotated | equivariance error"
    assert f"| model | group | train size | {sets} |" in text
    # the generalization table shows only the largest training set of each label
    general = text.split(f"### Generalization on {REG}")[1].split("##")[0]
    assert general.count("| 1,000 |") == 3 and "| 100 |" not in general
    counts = "31 finished runs, 2 unfinished (1 of them failed)"
    assert f"{counts}. Each cell: mean ± sample standard deviation (n seeds)." in text
    assert "- `toy/aaaaaaaaaaaa`\n- `toy/bbbbbbbbbbbb` (failed: see failed.json)" in text
    assert f"![data efficiency on {REG}](data_efficiency_{REG}.png)" in text


def test_files_written(report: Report) -> None:
    plots = {
        f"{kind}_{REG}.{ext}"
        for kind in ("data_efficiency", "generalization", "angles")
        for ext in ("png", "svg")
    } | {f"data_efficiency_{CLS}.{ext}" for ext in ("png", "svg")}
    expected = plots | {"results.md", "results.csv", "angle_curves.csv"}
    assert {p.name for p in report.files} == expected
    assert set(report.out_dir.iterdir()) == set(report.files)
    assert report.out_dir == report.runs_dir / "report"


def test_plots_are_valid_png_and_svg(report: Report) -> None:
    for path in report.files:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            pixels = mpl_image.imread(path)
            assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 600
            assert pixels.std() > 0  # something is drawn
        elif path.suffix == ".svg":
            root = ET.parse(path).getroot()
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
    svg = (report.out_dir / f"data_efficiency_{REG}.svg").read_text()
    for text in ("training-set size (samples)", "test MSE", "emlp", "mlp+aug", "published"):
        assert text in svg
    svg = (report.out_dir / f"angles_{REG}.svg").read_text()
    assert "rotation angle (degrees)" in svg
    svg = (report.out_dir / f"data_efficiency_{CLS}.svg").read_text()
    assert "test classification error (%)" in svg


def test_data_efficiency_plot_shows_means_and_published(report: Report) -> None:
    rows = [r for r in report.rows if r.dataset == REG]
    fig = data_efficiency_figure(rows, line_styles(list(report.rows)))
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    lines = {line.get_label(): line for line in ax.get_lines()}
    for label in REG_MODELS:
        mine = sorted((r for r in rows if r.label == label), key=lambda r: r.train_size)
        np.testing.assert_array_equal(lines[label].get_xdata(), REG_SIZES)
        np.testing.assert_allclose(lines[label].get_ydata(), [r.test.mean for r in mine])
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]
    points = sorted((float(x), float(y)) for h in hollow for x, y in h.get_xydata())
    assert points == [(1000.0, 0.017), (1000.0, 0.05)]
    assert ax.get_xlabel() == "training-set size (samples)" and ax.get_ylabel() == "test MSE"
    assert lines["mlp"].get_linestyle() == "--" and lines["emlp"].get_linestyle() == "-"


def test_plots_of_edge_cases(tmp_path: Path) -> None:
    """A zero error (no log axis possible), bars spanning > 100× with std > mean (log axis with
    clipped error bars), a single training size and a single seed draw without warnings."""
    bars = {"dataset": "bars", "metric": "error"}
    rows = _aggregate(
        [
            _result(run_id="a", metric="error", test=0.0),
            _result(run_id="b", **bars, test=0.2, transformed={"rotated": 90.0}),
            _result(run_id="c", **bars, label="cnn", test=0.2, transformed={"rotated": 0.01}),
            _result(run_id="d", **bars, label="cnn", seed=1, test=0.4, transformed={"rotated": 1}),
        ]
    )
    written = draw_plots(rows, tmp_path)
    assert sorted(p.name for p in written) == [
        "data_efficiency_bars.png",
        "data_efficiency_bars.svg",
        f"data_efficiency_{REG}.png",
        f"data_efficiency_{REG}.svg",
        "generalization_bars.png",
        "generalization_bars.svg",
    ]
    zero = [r for r in rows if r.dataset == REG]
    (ax,) = data_efficiency_figure(zero, line_styles(rows)).axes
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    spread = [r for r in rows if r.dataset == "bars"]
    assert generalization_figure(spread).axes[0].get_yscale() == "log"
    for path in written:
        if path.suffix == ".png":
            assert mpl_image.imread(path).ndim == 3


def test_output_is_deterministic(report: Report, tmp_path: Path) -> None:
    again = build_report(report.runs_dir, tmp_path / "again")
    assert [p.name for p in again.files] == [p.name for p in report.files]
    for first, second in zip(report.files, again.files, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    # the report directory inside runs/ is not taken for a run
    assert (again.finished, again.unfinished) == (31, 2)


def test_summary_table(report: Report, runs: tuple[Path, dict[Any, Any]]) -> None:
    grid = report.summary_table()
    tables = [cell for column in grid.columns for cell in column.cells]
    assert [t.title.split(":")[0] for t in tables] == [CLS, REG]
    assert [t.row_count for t in tables] == [4, 9]
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(grid)
    text = console.export_text()
    assert "31 finished runs, 2 unfinished (1 failed)" in text
    assert f"{REG}: test MSE, mean ± std over seeds" in text and "…" not in text
    mean, std = _expected([r["test"] for r in runs[1][(REG, "emlp", 1000)]])
    # the empty tuned and notes columns are left out, so a row fits on one line
    assert re.search(
        rf"emlp +│ O\(5\) +│ +1,200 │ +1,000 │ {mean:.3g} ± {std:.2g} \(n=3\) │ +0.017 │\n", text
    )


def test_report_of_real_training_runs(tmp_path: Path) -> None:
    """The contract with the training loop: its result.json files make a report."""
    results = []
    for seed in (0, 1):
        config = RunConfig.model_validate(
            {
                **TINY,
                "seed": seed,
                "published": {"emlp": {32: 0.5}},
                "trainer": {**TINY["trainer"], "epochs": 1},
                "data": {**TINY["data"], "transformed_tests": [{"name": "rotated"}]},
            }
        )
        results.append(train(config, tmp_path))
    report = build_report(tmp_path / "tiny")
    (row,) = report.rows
    mean, std = _expected([r.test for r in results])
    assert (row.test.mean, row.test.std, row.test.n) == pytest.approx((mean, std, 2), rel=1e-12)
    assert (row.label, row.train_size, row.published) == ("emlp", 32, 0.5)
    assert row.group == results[0].model_group != "none"
    assert row.parameters == results[0].parameters
    # an equivariant model: rotated test data scores like the original, equivariance error ~0
    assert row.transformed["rotated"].mean == pytest.approx(row.test.mean, rel=1e-4)
    assert row.equivariance_error is not None and row.equivariance_error.mean < 1e-5
    assert {p.name for p in report.files} >= {"results.md", "generalization_inertia.svg"}


def test_negative_throughput_is_refused() -> None:
    with pytest.raises(ValueError, match="throughput: Input should be greater than or equal to 0"):
        _aggregate([_result(throughput=-1.0)])


def test_throughput_may_be_missing() -> None:
    (row,) = _aggregate([_result(throughput=None), _result(run_id="b", seed=1, throughput=None)])
    assert row.throughput is None and "throughput_mean" in to_csv([row])
    assert to_csv([row]).splitlines()[1].endswith(",")


# ----- errors -------------------------------------------------------------------------------
def test_missing_runs_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"runs_dir .*nowhere does not exist.*symml run"):
        build_report(tmp_path / "nowhere")


def test_runs_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="runs_dir must be a directory.*got the file"):
        collect(tmp_path / "x.json")


def test_no_finished_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no finished runs under .*result.json.*symml sweep"):
        build_report(tmp_path)
    (tmp_path / "exp" / "abc").mkdir(parents=True)
    (tmp_path / "exp" / "abc" / "metrics.jsonl").write_text("")
    with pytest.raises(ValueError, match="found 1 unfinished run"):
        build_report(tmp_path)


def test_corrupt_result_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, _result())
    path.write_text('{"run_id": "0000')
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": corrupt result.json"):
        build_report(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test": None}, "test: Input should be a valid number"),
        ({"test": float("nan")}, "test: Input should be a finite number"),
        ({"train_size": 0}, "train_size: Input should be greater than or equal to 1"),
        ({"status": "running"}, "status: Input should be 'finished'"),
        ({"angle_curves": {"rotation": [[0.0]]}}, r"angle_curves\.rotation\.0\.1: Field required"),
        (
            {"angle_curves": {"rotation": []}},
            r"angle_curves\.rotation: List should have at least 1",
        ),
        ({"metric": "accuracy"}, "metric: Input should be 'mse' or 'error'"),
    ],
)
def test_invalid_result_names_file_and_key(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, _result(**change))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        RunResult.read(path)


def test_missing_key_is_named(tmp_path: Path) -> None:
    result = _result()
    del result["parameters"]
    _write(tmp_path, result)
    with pytest.raises(ValueError, match="parameters: Field required"):
        collect(tmp_path)


def test_duplicate_seed_is_refused() -> None:
    results = [_result(run_id="aaa"), _result(run_id="bbb", test=0.2)]
    with pytest.raises(ValueError, match="runs aaa and bbb .* both have seed 0.*one experiment"):
        _aggregate(results)


@pytest.mark.parametrize(
    ("field", "value"), [("parameters", 7), ("model_group", "O(5)"), ("augment", True)]
)
def test_disagreeing_runs_are_refused(field: str, value: Any) -> None:
    results = [_result(run_id="aaa"), _result(run_id="bbb", seed=1, **{field: value})]
    with pytest.raises(ValueError, match=f"runs aaa, bbb .* disagree on '{field}'"):
        _aggregate(results)


def test_mixed_metrics_in_a_dataset_are_refused() -> None:
    results = [_result(run_id="aaa"), _result(run_id="bbb", label="cnn", metric="error")]
    with pytest.raises(ValueError, match=f"dataset={REG}.* disagree on 'metric'"):
        _aggregate(results)


def test_different_angle_grids_are_refused() -> None:
    results = [
        _result(run_id="aaa", angle_curves={"rot": [[0.0, 1.0], [1.0, 1.0]]}),
        _result(run_id="bbb", seed=1, angle_curves={"rot": [[0.0, 1.0], [2.0, 1.0]]}),
    ]
    with pytest.raises(ValueError, match="'rot' of runs aaa and bbb .*different angle grids"):
        _aggregate(results)
