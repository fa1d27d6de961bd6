"""Tables for a terminal, readable at any width down to 80 columns: the report's main tables
(`symml report`, the end of `symml sweep`) and the table of runs just trained or kept
(`runs_table`, printed by `symml run` and `symml sweep`).

Where a dataset's table fits the console unwrapped it is printed whole, as in ``results.md``.
Where it does not, the ``tuned`` and ``notes`` columns (sentences, the widest cells) leave the
table and follow it as one line per row that has them, so names and numbers keep their width;
every cell folds rather than truncates (no ``…``) even on narrower consoles.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from symml.training._report_protocol import NONE, values_text
from symml.training.results import ReportRow, metric_name
from symml.training.run_result import RunResult

# the main table's columns that move below it on a narrow console
_SENTENCES = ("tuned", "notes")
# unbounded width for measuring a table's natural (unwrapped) width
_UNBOUNDED = 100_000


class _ByWidth:
    """``wide`` where it fits the console without wrapping, else ``narrow``."""

    def __init__(self, wide: Table, narrow: RenderableType) -> None:
        self.wide = wide
        self.narrow = narrow

    def _pick(self, console: Console, options: ConsoleOptions) -> RenderableType:
        natural = self.wide.__rich_measure__(console, options.update_width(_UNBOUNDED))
        return self.wide if natural.maximum <= options.max_width else self.narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._pick(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._pick(console, options))


def _table(title: str, header: list[str], align: str, body: list[list[str]]) -> Table:
    table = Table(title=title)
    for name, a in zip(header, align, strict=True):
        table.add_column(name, justify="right" if a == "r" else "left", overflow="fold")
    for cells in body:
        table.add_row(*cells)
    return table


def dataset_table(
    rows: list[ReportRow], header: list[str], align: str, body: list[list[str]]
) -> RenderableType:
    """One dataset's main table (``header``, ``align`` and ``body`` as in ``results.md``, the
    test column headed ``test``), less the columns that are ``—`` throughout, titled with the
    dataset and the metric's units."""
    shown = [i for i in range(len(header)) if any(cells[i] != NONE for cells in body)]
    title = f"{rows[0].dataset}: test {rows[0].metric_name}, mean ± std over seeds"

    def pick(indices: list[int]) -> tuple[list[str], str, list[list[str]]]:
        return (
            [header[i] for i in indices],
            "".join(align[i] for i in indices),
            [[cells[i] for i in indices] for cells in body],
        )

    wide = _table(title, *pick(shown))
    moved = [i for i in shown if header[i] in _SENTENCES]
    if not moved:
        return wide
    narrow = _table(title, *pick([i for i in shown if i not in moved]))
    lines = Text()
    for row, cells in zip(rows, body, strict=True):
        # the notes name themselves ("not converged ..."); tuned values need their column name
        said = [
            f"tuned {cells[i]}" if header[i] == "tuned" else cells[i]
            for i in moved
            if cells[i] != NONE
        ]
        if said:
            lines.append(f"• {row.label}, N = {row.train_size:,}: {'; '.join(said)}\n")
    lines.rstrip()
    return _ByWidth(wide, Group(narrow, lines))


_RUN_COLUMNS = ("model", "group", "train size", "seed", "test", "params", "equiv. err")


def runs_table(results: list[RunResult]) -> RenderableType:
    """The runs just trained or kept: per dataset a table, one line per run, titled with the
    dataset and the metric's units, then the runs' notes (tuned values, the convergence
    verdict) as lines below. Cells fold instead of truncating, so names and numbers show in
    full at 80 columns."""
    order = sorted(results, key=lambda r: (r.dataset, r.label, r.train_size, r.seed))
    parts: list[RenderableType] = []
    for dataset in dict.fromkeys(r.dataset for r in order):
        runs = [r for r in order if r.dataset == dataset]
        table = Table(
            title=f"Results on {dataset}: test {metric_name(runs[0].metric, runs[0].metric_units)}"
        )
        for name in _RUN_COLUMNS:
            right = name not in ("model", "group")
            table.add_column(name, justify="right" if right else "left", overflow="fold")
        notes = Text()
        for r in runs:
            equiv = "—" if r.equivariance_error is None else f"{r.equivariance_error:.1e}"
            table.add_row(
                r.label, r.model_group, f"{r.train_size:,}", str(r.seed), f"{r.test:.4g}",
                f"{r.parameters:,}", equiv,
            )  # fmt: skip
            tuned = f"tuned {values_text(r.tuned)}" if r.tuned else ""
            said = "; ".join(text for text in (tuned, r.convergence) if text)
            if said:
                notes.append(f"• {r.label}, N = {r.train_size:,}, seed {r.seed}: {said}\n")
        notes.rstrip()
        parts += [table, notes] if notes else [table]
    return Group(*parts)
