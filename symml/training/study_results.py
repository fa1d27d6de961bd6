"""A study's ``RESULTS.md``: prose written by hand around blocks generated from its records.

Every number in a study's results must come from its recorded runs, never typed in. So the
tables and the sentences that compare ours with the published numbers live between markers that
`render` fills from ``experiments/<study>/runs/<budget>/`` (the records `symml reproduce
--record` keeps); the prose around them says why a gap exists and which run would close it::

    <!-- symml:table budget=cpu experiment=nbody_table2 -->
    (generated: the budget, then model / params / N / ours / published / gap / tuned / notes)
    <!-- symml:end -->

Blocks (``KIND key=value ...``; ``budget`` is required, ``experiment`` and ``dataset`` filter
the records):

- ``table``: the budget rule, the main table with a ``gap`` column (ours against the published
  number, in %), and the not-converged paragraph when a row has one;
- ``gaps``: one sentence per row that has a published number: by how much ours is above or
  below it, and whether the difference is within one standard deviation over seeds;
- ``generalization``: the largest training set per model on each transformed test set (and
  subsets such as N-body's unclipped trajectories), with the equivariance error;
- ``equivariance``: each trained model's equivariance error, one column per training size;
- ``forward_time``: each model's forward time for one batch and its ratio to ``reference``;
- ``size_to_match``: the training size at which each other line reaches the test metric of
  ``reference`` at N = ``at`` (interpolated on log-log axes), e.g. how much data the GNN needs
  to match EGNN at 400;
- ``group_order``: the test metric against the order N of C_N and D_N models (one column
  each), the other rows as reference lines (Weiler & Cesa's error-against-N figure);
- ``train_time``: each row's measured seconds per optimizer step and per epoch;
- ``headline``: ours beside the published number for each line that has one, at ``at=N`` or
  the largest such N, with the lines the paper lacks (augmented baselines) at the same sizes
  (the project README's results table, whose blocks name ``study=NAME``).

`symml reproduce STUDY --record` rewrites the blocks after recording; `stale_blocks` (run by the
test suite) names every block whose text no longer matches the records.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path

from symml.training._report_protocol import budget_lines, not_converged_lines
from symml.training.report import generalization_table, main_table, markdown_table
from symml.training.results import ReportRow, Summary, aggregate, by_dataset, collect
from symml.training.rundir import write_atomic

RESULTS_FILE = "RESULTS.md"
_BLOCK = re.compile(
    r"(?P<open><!-- symml:(?P<kind>[a-z_]+)(?P<args>(?: [a-z_]+=[^ >]+)*) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- symml:end -->)",
    re.S,
)


def _gap_percent(row: ReportRow) -> float | None:
    if row.published is None or row.published == 0:
        return None
    return 100.0 * (row.test.mean - row.published) / row.published


def _published_cell(row: ReportRow) -> str:
    return "—" if row.published is None else f"{row.published:g}"


def _gap_cell(row: ReportRow) -> str:
    gap = _gap_percent(row)
    return "—" if gap is None else f"{gap:+.0f} %"


def _table(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for dataset, group in by_dataset(rows).items():
        header, body = main_table(group)
        at = header.index("published") + 1
        header.insert(at, "gap to published")
        for row, cells in zip(group, body, strict=True):
            cells.insert(at, _gap_cell(row))
        lines += [f"**{dataset}**: test {group[0].metric_name}, lower is better.", ""]
        lines += [*budget_lines(group), ""]
        lines += markdown_table(header, "llrrlrrll", body)
        if flagged := not_converged_lines(group):
            lines += ["", *flagged]
        lines.append("")
    return lines[:-1]


def _gap_sentence(row: ReportRow) -> str:
    assert row.published is not None
    gap = _gap_percent(row)
    ours = f"{row.test.mean:.3g} ± {row.test.std:.2g} (n = {row.test.n} seeds)"
    where = f"**{row.label}** at N = {row.train_size:,}: {ours} against {row.published:g} published"
    missed = row.test.mean - row.published
    if missed <= 0:
        below = f"{-gap:.1f} % below it: " if gap is not None else ""
        verdict = f"{below}the published number is met"
    elif gap is None:  # a published 0 (e.g. 0 % error): the gap is absolute
        verdict = f"above it: missed by {missed:.2g}"
    else:
        verdict = f"{gap:.1f} % above it: missed by {missed:.2g}"
    spread = abs(row.test.mean - row.published) <= row.test.std
    within = " (within one standard deviation over seeds)" if spread and row.test.n > 1 else ""
    return f"- {where}, {verdict}{within}."


def _gaps(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    with_published = [r for r in rows if r.published is not None]
    if not with_published:
        return ["No recorded row has a published number to compare with."]
    return [_gap_sentence(r) for r in with_published]


def _generalization(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for dataset, group in by_dataset(rows).items():
        header, body = generalization_table(group)
        lines += [
            f"**{dataset}**: test {group[0].metric_name}, largest training set per model.",
            "",
        ]
        lines += markdown_table(header, "llr" + "l" * (len(header) - 3), body)
        lines.append("")
    return lines[:-1]


def _equivariance(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    """Each trained model's equivariance error (`symml.testing`, relative), one column per
    training size: how far a plain model is from the symmetry, and whether training drifts."""
    sizes = sorted({r.train_size for r in rows})
    labels = sorted({r.label for r in rows})
    cell = {(r.label, r.train_size): r.equivariance_error for r in rows}
    header = ["model", *(f"N = {n:,}" for n in sizes)]
    body = [[label] + [_error_cell(cell.get((label, n))) for n in sizes] for label in labels]
    return [
        "Relative equivariance error of each trained model on test inputs (mean over seeds).",
        "",
        *markdown_table(header, "l" + "r" * len(sizes), body),
    ]


def _error_cell(summary: Summary | None) -> str:
    return "—" if summary is None else f"{summary.mean:.2g}"


def _forward_time(rows: list[ReportRow], args: dict[str, str]) -> list[str]:
    timed = [r for r in rows if r.forward_seconds is not None]
    if not timed:
        return ["No recorded run measured its forward time."]
    reference = args.get("reference")
    base = next((r for r in timed if r.label == reference), None)
    if reference is not None and base is None:
        labels = ", ".join(sorted({r.label for r in timed}))
        raise ValueError(
            f"symml:forward_time: no recorded row is labelled {reference!r}; set reference= to "
            f"one of {labels}"
        )
    batch = {r.forward_batch for r in timed}
    header = ["model", "params", "forward time per batch (ms), mean ± std"]
    header += [f"ratio to {reference}"] if base is not None else []
    body = []
    for r in timed:
        assert r.forward_seconds is not None
        ms = r.forward_seconds
        cells = [r.label, f"{r.parameters:,}", f"{1e3 * ms.mean:.3g} ± {1e3 * ms.std:.2g}"]
        if base is not None and base.forward_seconds is not None:
            cells.append(f"{ms.mean / base.forward_seconds.mean:.2f}")
        body.append(cells)
    sizes = ", ".join(str(b) for b in sorted(b for b in batch if b is not None))
    lines = [
        f"Median of 10 forward passes (eval mode, no gradients) on one batch of {sizes} test "
        "samples, timed on the machine that trained the run, while the other worker trained.",
        "",
    ]
    return lines + markdown_table(header, "lr" + "r" * (len(header) - 2), body)


def _size_to_match(rows: list[ReportRow], args: dict[str, str]) -> list[str]:
    """For each line other than ``reference``: the training size at which its mean test metric
    reaches the reference's at N = ``at``, interpolated linearly on log-log axes between the two
    sizes trained that bracket it (the data-efficiency plot's axes)."""
    if "reference" not in args or "at" not in args:
        raise ValueError("symml:size_to_match needs reference=LABEL and at=N")
    reference, at = args["reference"], int(args["at"])
    target = next((r for r in rows if r.label == reference and r.train_size == at), None)
    if target is None:  # a study in progress (or an `at` no sweep trains): say what is missing
        sizes = sorted({r.train_size for r in rows if r.label == reference})
        recorded = ", ".join(f"{n:,}" for n in sizes) if sizes else "none"
        return [
            f"_No recorded `{reference}` run at N = {at:,} yet (recorded sizes: {recorded}): the "
            "sizes at which the other models match it appear here once it is recorded._"
        ]
    goal = target.test.mean
    lines = [
        f"Target: {reference} at N = {at:,}, test {target.metric_name} {goal:.3g} "
        f"(n = {target.test.n} seeds).",
        "",
    ]
    labels = sorted({r.label for r in rows} - {reference})
    for label in labels:
        curve = sorted((r.train_size, r.test.mean) for r in rows if r.label == label)
        lines.append(f"- **{label}**: " + _crossing(curve, goal, f"{reference}'s N = {at:,}", at))
    return lines


def _crossing(curve: list[tuple[int, float]], goal: float, whose: str, at: int) -> str:
    if curve[0][1] <= goal:
        return f"already at or below it at the smallest size trained, N = {curve[0][0]:,}."
    for (n0, m0), (n1, m1) in itertools.pairwise(curve):
        if m1 <= goal < m0:
            fraction = (math.log(goal) - math.log(m0)) / (math.log(m1) - math.log(m0))
            size = math.exp(math.log(n0) + fraction * (math.log(n1) - math.log(n0)))
            return (
                f"reaches it at N ≈ {size:,.0f}, {size / at:.1f}× {whose} (interpolated between "
                f"the sizes trained, {n0:,} and {n1:,})."
            )
    best_n, best = min(curve, key=lambda point: point[1])
    return (
        f"does not reach it at any size trained (up to N = {curve[-1][0]:,}; its best is "
        f"{best:.3g} at N = {best_n:,})."
    )


def _train_time(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    """Measured training cost of each row: seconds per optimizer step and per epoch (a pass
    over its training set), mean over seeds, from the selected run's training time (validation
    and test excluded); a study states these beside any width or epoch it cut."""
    timed = [r for r in rows if r.train_seconds is not None and r.budget is not None]
    if not timed:
        return ["No recorded run has its training time and budget."]
    header = ["model", "params", "train size", "steps", "s per step", "s per epoch"]
    body = []
    for r in sorted(timed, key=lambda r: (r.train_size, r.label)):
        assert r.train_seconds is not None and r.budget is not None
        steps = r.steps.mean if r.steps is not None else r.budget.steps
        per_step = r.train_seconds.mean / steps
        per_epoch = per_step * r.budget.steps_per_epoch
        body.append(
            [r.label, f"{r.parameters:,}", f"{r.train_size:,}", f"{steps:,.0f}",
             f"{per_step:.3g}", f"{per_epoch:.3g}"]
        )  # fmt: skip
    lines = [
        "Training time of the kept run (the chosen learning rate; validation and test "
        "excluded), mean over seeds, as measured where it trained (each run's `manifest.json` "
        "names the machine and its threads).",
        "",
    ]
    return lines + markdown_table(header, "lrrrrr", body)


_FINITE_PLANAR = re.compile(r"(?P<kind>Cyclic|Dihedral)\((?P<order>\d+)\)")  # repr of C_N, D_N
_KINDS_N = ("Cyclic", "Dihedral")


def _group_order(rows: list[ReportRow], _: dict[str, str]) -> list[str]:
    """Test metric against the order N of the model's group, one column for C_N and one for
    D_N (Weiler & Cesa's benchmark figure as a table), at the largest training size; the rows
    on other groups (SO(2)) and the plain baselines follow as reference lines."""
    size = max(r.train_size for r in rows)
    rows = [r for r in rows if r.train_size == size]
    finite: dict[tuple[str, int], ReportRow] = {}
    for row in rows:  # plain baselines have group "none"
        if match := _FINITE_PLANAR.fullmatch(row.group):
            finite[(match["kind"], int(match["order"]))] = row
    if not finite:
        return ["No recorded row is built on a cyclic or dihedral group."]
    header = ["N", "C_N (regular fields)", "D_N (regular fields)"]
    body = [
        [str(n), *(str(finite[kind, n].test) if (kind, n) in finite else "—" for kind in _KINDS_N)]
        for n in sorted({n for _, n in finite})
    ]
    lines = [f"Test {rows[0].metric_name} at N_train = {size:,}, mean ± std over seeds.", ""]
    lines += markdown_table(header, "rll", body)
    others = sorted((r for r in rows if r not in finite.values()), key=lambda r: r.test.mean)
    if others:
        lines += ["", "The other rows at the same training size:", ""]
        lines += [f"- **{r.label}** ({r.group}): {r.test}" for r in others]
    return lines


def _headline(rows: list[ReportRow], args: dict[str, str]) -> list[str]:
    """Ours beside the published number of each line that has one: at N = ``at`` when given,
    else at the largest N with a published number (the project README's results table)."""
    published = [r for r in rows if r.published is not None]
    if "at" in args:
        published = [r for r in published if r.train_size == int(args["at"])]
    largest: dict[str, ReportRow] = {}
    for row in published:
        if row.label not in largest or row.train_size > largest[row.label].train_size:
            largest[row.label] = row
    if not largest:
        return ["No recorded row has a published number to compare with."]
    # the lines the paper did not have (the augmented baselines) beside them, at the same sizes
    shown = {(r.dataset, r.train_size) for r in largest.values()}
    for row in rows:
        if row.label not in largest and (row.dataset, row.train_size) in shown:
            largest[row.label] = row
    study = args.get("study")
    lines: list[str] = []
    for dataset, group in by_dataset(largest.values()).items():
        name = f"[{study}](experiments/{study}/RESULTS.md), " if study else ""
        lines += [f"{name}{dataset}, budget `{args['budget']}`: test {group[0].metric_name}.", ""]
        header = ["model", "train size", "ours, mean ± std", "published", "gap"]
        body = [
            [r.label, f"{r.train_size:,}", str(r.test), _published_cell(r), _gap_cell(r)]
            for r in sorted(group, key=lambda r: r.label)
        ]
        lines += [*markdown_table(header, "lrlrr", body), ""]
    return lines[:-1]


_KINDS: dict[str, Callable[[list[ReportRow], dict[str, str]], list[str]]] = {
    "table": _table,
    "gaps": _gaps,
    "generalization": _generalization,
    "forward_time": _forward_time,
    "size_to_match": _size_to_match,
    "headline": _headline,
    "equivariance": _equivariance,
    "group_order": _group_order,
    "train_time": _train_time,
}


def _block(kind: str, args: dict[str, str], folder: Path, where: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"{where}: unknown block symml:{kind}; expected one of {sorted(_KINDS)}")
    if "budget" not in args:
        raise ValueError(f"{where}: block symml:{kind} needs budget=NAME (the records it reads)")
    study_dir = folder / "experiments" / args["study"] if "study" in args else folder
    records = study_dir / "runs" / args["budget"]
    results = collect(records) if records.is_dir() else []
    if "experiment" in args:
        results = [r for r in results if r.experiment == args["experiment"]]
    if "dataset" in args:
        results = [r for r in results if r.dataset == args["dataset"]]
    if not results:
        return (
            f"_No recorded runs yet in `runs/{args['budget']}`"
            + (f" for experiment `{args['experiment']}`" if "experiment" in args else "")
            + f": `symml reproduce {study_dir.name} --budget {args['budget']} --record` trains "
            "and records them._\n"
        )
    try:
        return "\n".join(_KINDS[kind](aggregate(results), args)) + "\n"
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def _args(match: re.Match[str]) -> dict[str, str]:
    return dict(part.split("=", 1) for part in match["args"].split())


def render(text: str, folder: Path, where: str = RESULTS_FILE) -> str:
    """``text`` with every ``<!-- symml:KIND ... -->`` block refilled from run records; the
    prose around the blocks is kept as it is. ``folder`` is the study's folder (a study's
    ``RESULTS.md``), or the repository root for blocks that name their ``study=NAME`` (the
    project README's results table)."""

    def fill(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        body = _block(match["kind"], _args(match), folder, f"{where}:{line}")
        return match["open"] + body + match["close"]

    return _BLOCK.sub(fill, text)


def update_file(path: Path, folder: Path | None = None) -> bool:
    """Rewrite the generated blocks of ``path`` (a study's ``RESULTS.md``: ``folder`` defaults
    to its folder; the README: the repository root); whether it changed (False when absent)."""
    if not path.is_file():
        return False
    text = path.read_text()
    new = render(text, folder or path.parent, str(path))
    if new != text:
        write_atomic(path, new)
    return new != text


def stale_blocks(path: Path, folder: Path | None = None) -> list[str]:
    """The opening markers of the blocks of ``path`` whose text differs from what the records
    give now (empty when the file is current or absent); ``folder`` as in `update_file`."""
    if not path.is_file():
        return []
    text = path.read_text()
    stale = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        body = _block(match["kind"], _args(match), folder or path.parent, f"{path}:{line}")
        if body != match["body"]:
            stale.append(f"{path}:{line}: {match['open'].strip()}")
    return stale


__all__ = ["RESULTS_FILE", "render", "stale_blocks", "update_file"]
