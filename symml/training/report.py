"""Reports: finished runs aggregated over seeds into tables (markdown, CSV) and plots.

`build_report` reads every ``result.json`` below a runs directory (``runs/<experiment>/<run_id>/``,
see `symml.training.rundir`), groups the runs by (dataset, model label, training-set size) and
writes into ``<runs_dir>/report/``:

- ``results.md``: per dataset, the training budget, the main table (model, group, parameters,
  train size, test metric mean ± std over seeds, published number, tuned values, not-converged
  notes), a note on under-trained rows, a tuning table (every candidate's validation metric)
  and a generalization table (largest training set per model: in-distribution vs each
  transformed test set, and the trained model's equivariance error);
- ``results.csv``: one row per (dataset, label, train size) with every aggregated number, and
  ``angle_curves.csv`` (metric vs rotation angle) when runs recorded angle grids;
- plots, each as PNG and SVG: ``data_efficiency_<dataset>``, ``learning_curves_<dataset>``,
  ``generalization_<dataset>`` and ``angles_<dataset>`` (see `symml.training._report_plots`).

Reading and aggregating the runs (`collect`, `aggregate`) lives in `symml.training.results`;
both are re-exported here. Standard deviations are sample standard deviations (``ddof=1``); with
one seed they are 0.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from symml.training._report_console import dataset_table
from symml.training._report_curves import read_curves
from symml.training._report_protocol import (
    NONE,
    budget_lines,
    not_converged_lines,
    notes_cell,
    tuned_cell,
    tuning_table,
    values_text,
)
from symml.training.results import (
    ReportRow,
    Summary,
    aggregate,
    by_dataset,
    collect,
    curves_of,
    file_stem,
    find_runs,
    largest_per_label,
)
from symml.training.run_result import RunResult
from symml.training.rundir import write_atomic

_MAIN_ALIGN = "llrrlrll"  # columns of `main_table`: l(eft) or r(ight)


def _cell(summary: Summary | None) -> str:
    return NONE if summary is None else str(summary)


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:.3g}"


def _mean(summary: Summary | None) -> str:
    return "" if summary is None else repr(summary.mean)


def markdown_table(header: list[str], align: str, body: list[list[str]]) -> list[str]:
    """A markdown table's lines; ``align`` has one ``l`` or ``r`` per column."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return [line(header), rule, *(line(cells) for cells in body)]


def main_table(
    rows: list[ReportRow], test_header: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the main table of one dataset's rows; the test column is headed
    ``test_header`` when given (default: the metric with its units, mean ± std)."""
    header = ["model", "group", "params", "train size"]
    header += [test_header or f"test {rows[0].metric_name}, mean ± std"]
    header += ["published", "tuned", "notes"]
    body = [
        [r.label, r.group, f"{r.parameters:,}", f"{r.train_size:,}", str(r.test)]
        + [_number(r.published), tuned_cell(r), notes_cell(r)]
        for r in rows
    ]
    return header, body


def generalization_table(rows: list[ReportRow]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one dataset's generalization table (largest train size per label)."""
    largest = largest_per_label(rows)
    names = sorted({n for r in largest for n in r.transformed})
    header = ["model", "group", "train size", "in-distribution", *names, "equivariance error"]
    body = [
        [r.label, r.group, f"{r.train_size:,}", str(r.test)]
        + [_cell(r.transformed.get(n)) for n in names]
        + [_cell(r.equivariance_error)]
        for r in largest
    ]
    return header, body


def to_markdown(
    rows: list[ReportRow],
    finished: int,
    unfinished: list[str],
    failed: list[str],
    learning_curves: Collection[str] = (),
) -> str:
    """The ``results.md`` text; ``unfinished`` and ``failed`` are run paths to list,
    ``learning_curves`` the datasets that have a ``learning_curves_<dataset>.png`` to link."""
    counts = f"{finished} finished runs, {len(unfinished)} unfinished"
    counts += f" ({len(failed)} of them failed)" if failed else ""
    lines = ["# Results", "", f"{counts}. Each cell: mean ± sample standard deviation (n seeds)."]
    if unfinished:
        lines += ["", "Unfinished runs (not in the tables):", ""]
        for path in unfinished:
            lines.append(f"- `{path}`" + (" (failed: see failed.json)" if path in failed else ""))
    for dataset, group in by_dataset(rows).items():
        stem = file_stem(dataset)
        metric = group[0].metric_name
        header, body = main_table(group)
        lines += ["", f"## {dataset}", "", *budget_lines(group), ""]
        lines += [f"Metric: test {metric}, lower is better.", ""]
        lines += markdown_table(header, _MAIN_ALIGN, body)
        if flagged := not_converged_lines(group):
            lines += ["", *flagged]
        lines += ["", f"![data efficiency on {dataset}](data_efficiency_{stem}.png)", ""]
        if dataset in learning_curves:
            lines += [
                f"![learning curves on {dataset}](learning_curves_{stem}.png)",
                "",
                "Learning curves per optimizer step. Top: training loss, in the units the "
                "model trains on (standardized targets when `data.standardize` is on). "
                f"Bottom: validation {metric}. One colour per training-set size, one line per "
                "seed; a dot marks the kept (best-validation) checkpoint.",
                "",
            ]
        if tuning := tuning_table(group):
            header, align, body = tuning
            lines += [f"### Tuning on {dataset}", "", _TUNING_NOTE, ""]
            lines += [*markdown_table(header, align, body), ""]
        header, body = generalization_table(group)
        lines += [f"### Generalization on {dataset}", "", "Largest training set per model.", ""]
        lines += markdown_table(header, "llr" + "l" * (len(header) - 3), body)
        if any(r.transformed for r in group):
            lines += ["", f"![generalization on {dataset}](generalization_{stem}.png)"]
        if any(r.angle_curves for r in group):
            lines += ["", f"![{metric} vs angle on {dataset}](angles_{stem}.png)"]
    return "\n".join(lines) + "\n"


_TUNING_NOTE = (
    "Every candidate tried per run, selected on the validation metric; the test set was "
    "evaluated only for the selected one."
)


def to_csv(rows: list[ReportRow]) -> str:
    """The ``results.csv`` text: one row per (dataset, label, train size)."""
    names = sorted({n for r in rows for n in r.transformed})
    stats = ["test", "val"] + [f"transformed_{n}" for n in names] + ["equivariance_error"]
    header = ["dataset", "metric", "label", "model", "group", "baseline", "augment"]
    header += ["train_size", "n_seeds", "seeds", "parameters", "published"]
    header += [f"{s}_{part}" for s in stats for part in ("mean", "std", "n")]
    header += ["wall_time_s_mean", "throughput_mean", "budget_rule", "steps_mean", "tuned"]
    header += ["not_converged", "train_seconds_mean", "eval_seconds_mean", "metric_units"]
    header += ["forward_seconds_mean", "forward_batch"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        summaries = [r.test, r.val] + [r.transformed.get(n) for n in names]
        summaries.append(r.equivariance_error)
        cells: list[Any] = [r.dataset, r.metric, r.label, r.model, r.group, r.baseline or ""]
        cells += [r.augment, r.train_size, len(r.seeds), ";".join(map(str, r.seeds))]
        cells += [r.parameters, "" if r.published is None else repr(r.published)]
        for s in summaries:
            cells += ["", "", ""] if s is None else [repr(s.mean), repr(s.std), s.n]
        cells += [repr(r.wall_time_s.mean), _mean(r.throughput)]
        tuned = tuned_cell(r)
        cells += [r.budget.rule if r.budget else "", _mean(r.steps), "" if tuned == NONE else tuned]
        cells += [len(r.not_converged), _mean(r.train_seconds), _mean(r.eval_seconds)]
        cells += [r.metric_units or "", _mean(r.forward_seconds), r.forward_batch or ""]
        writer.writerow(cells)
    return out.getvalue()


def angle_curves_csv(rows: list[ReportRow]) -> str:
    """The ``angle_curves.csv`` text: one line per (dataset, label, train size, curve, angle)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "label", "train_size", "curve", "degrees", "mean", "std", "n"])
    for r in rows:
        for name, c in sorted(r.angle_curves.items()):
            for deg, mean, std in zip(c.degrees, c.mean, c.std, strict=True):
                writer.writerow(
                    [r.dataset, r.label, r.train_size, name, repr(deg), repr(mean), repr(std), c.n]
                )
    return out.getvalue()


# ----- the report ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """What `build_report` wrote.

    Attributes:
        runs_dir: the directory the runs were read from.
        out_dir: where the files were written.
        rows: the aggregated rows, sorted by (dataset, label, train size).
        files: every file written, sorted.
        markdown: the text of ``results.md``.
        finished: number of finished runs (with ``result.json``).
        unfinished_runs: run directories without ``result.json``, relative to ``runs_dir``.
        failed_runs: those of them that stopped on a non-finite loss (``failed.json``).
    """

    runs_dir: Path
    out_dir: Path
    rows: tuple[ReportRow, ...]
    files: tuple[Path, ...]
    markdown: str
    finished: int
    unfinished_runs: tuple[Path, ...]
    failed_runs: tuple[Path, ...]

    @property
    def unfinished(self) -> int:
        """Number of runs without ``result.json`` (failed ones included)."""
        return len(self.unfinished_runs)

    def summary_table(self) -> Table:
        """The main table of each dataset (as in ``results.md``, less the columns that are
        empty throughout), stacked in one rich grid `Table` titled with the run counts, for the
        CLI to print. Readable at 80 columns: on a console too narrow for a whole table, its
        ``tuned`` and ``notes`` follow it as lines (see `symml.training._report_console`)."""
        title = f"{self.finished} finished runs, {self.unfinished} unfinished"
        title += f" ({len(self.failed_runs)} failed)" if self.failed_runs else ""
        grid = Table.grid(padding=(1, 0))
        grid.title = title
        for rows in by_dataset(self.rows).values():
            header, body = main_table(rows, test_header="test")
            grid.add_row(dataset_table(rows, header, _MAIN_ALIGN, body))
        return grid


def build_report(runs_dir: Path, out_dir: Path | None = None) -> Report:
    """Aggregate the finished runs below ``runs_dir`` into tables and plots.

    Args:
        runs_dir: a directory of runs (``runs/`` or ``runs/<experiment>/``), searched at any
            depth for ``result.json``.
        out_dir: where to write; default ``runs_dir / "report"``.

    Returns:
        A `Report` naming the files written (``results.md``, ``results.csv``, and per dataset
        ``data_efficiency_<dataset>``, ``learning_curves_<dataset>`` when runs have
        ``metrics.jsonl``, ``generalization_<dataset>`` when they have transformed test sets,
        ``angles_<dataset>`` when they have angle curves, each as PNG and SVG).

    Raises:
        FileNotFoundError: ``runs_dir`` does not exist.
        ValueError: no finished runs, or a ``result.json`` or ``metrics.jsonl`` is corrupt
            (see `aggregate`).

    Example:
        >>> import json, shutil, tempfile
        >>> from pathlib import Path
        >>> runs = Path(tempfile.mkdtemp()) / "runs"
        >>> base = dict(experiment="demo", status="finished", model="mlp", model_group="none")
        >>> base |= dict(dataset="o5", train_size=100, label="mlp", metric="mse", parameters=1000)
        >>> base |= dict(epochs=3, wall_time_s=1.0, throughput=100.0)
        >>> for seed, test in [(0, 0.1), (1, 0.3)]:
        ...     result = dict(base, run_id=f"run{seed}", seed=seed, test=test, val=test)
        ...     (runs / "demo" / f"run{seed}").mkdir(parents=True)
        ...     _ = (runs / "demo" / f"run{seed}" / "result.json").write_text(json.dumps(result))
        >>> report = build_report(runs)
        >>> report.finished, report.unfinished
        (2, 0)
        >>> sorted(p.name for p in report.files)[:3]
        ['data_efficiency_o5.png', 'data_efficiency_o5.svg', 'results.csv']
        >>> shutil.rmtree(runs.parent)
    """
    # Long only by its docstring: the example above runs as a doctest; the body is one step per
    # output file.
    runs_dir = Path(runs_dir)
    finished, unfinished = _runs(runs_dir)
    results = [RunResult.read(run / "result.json") for run in finished]
    rows = aggregate(results)
    curves = read_curves(zip(finished, results, strict=True))
    out_dir = Path(out_dir) if out_dir is not None else runs_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    rel_unfinished = tuple(run.relative_to(runs_dir) for run in unfinished)
    rel_failed = tuple(
        run.relative_to(runs_dir) for run in unfinished if (run / "failed.json").is_file()
    )
    markdown = to_markdown(
        rows,
        len(finished),
        [str(p) for p in rel_unfinished],
        [str(p) for p in rel_failed],
        learning_curves={
            name for name, group in by_dataset(rows).items() if curves_of(group, curves)
        },
    )
    written = _write_tables(rows, markdown, out_dir)
    # matplotlib loads only when a report is drawn, so importing symml.training stays light
    from symml.training._report_plots import draw_plots

    written += draw_plots(rows, out_dir, curves)
    return Report(
        runs_dir=runs_dir,
        out_dir=out_dir,
        rows=tuple(rows),
        files=tuple(sorted(written)),
        markdown=markdown,
        finished=len(finished),
        unfinished_runs=rel_unfinished,
        failed_runs=rel_failed,
    )


def _runs(runs_dir: Path) -> tuple[list[Path], list[Path]]:
    """`find_runs`, refusing a folder without finished runs with a note on how to make them."""
    finished, unfinished = find_runs(runs_dir)
    if not finished:
        found = f"; found {len(unfinished)} unfinished run(s)" if unfinished else ""
        raise ValueError(
            f"no finished runs under {runs_dir} (looked for */result.json at any depth{found}); "
            "produce runs with `symml run CONFIG` or `symml sweep CONFIG`, then report the "
            "directory they write (runs/<experiment>)"
        )
    return finished, unfinished


def _write_tables(rows: list[ReportRow], markdown: str, out_dir: Path) -> list[Path]:
    """Write ``results.md``, ``results.csv`` and (when runs recorded angle grids)
    ``angle_curves.csv`` into ``out_dir``; returns their paths."""
    texts = {"results.md": markdown, "results.csv": to_csv(rows)}
    if any(r.angle_curves for r in rows):
        texts["angle_curves.csv"] = angle_curves_csv(rows)
    for name, text in texts.items():
        write_atomic(out_dir / name, text)
    return [out_dir / name for name in texts]


def write_report(runs_dir: Path, out_dir: Path | None, console: Console) -> Report:
    """`build_report`, then its main tables and the files written, on ``console``."""
    report = build_report(runs_dir, out_dir)
    console.print(report.summary_table())
    console.print(f"report written to {report.out_dir} ({', '.join(p.name for p in report.files)})")
    return report


__all__ = [
    "Report",
    "aggregate",
    "angle_curves_csv",
    "build_report",
    "collect",
    "generalization_table",
    "main_table",
    "markdown_table",
    "to_csv",
    "to_markdown",
    "values_text",
    "write_report",
]
