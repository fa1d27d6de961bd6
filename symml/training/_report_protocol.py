"""How the rows of a report were trained, as text: the budget rule, the tuned values, the
training loop's convergence verdict and the tuning candidates (`symml.training.report`).

A comparison is only fair when every model had a converged, tuned run; these pieces put the
evidence beside the numbers instead of leaving it assumed. The verdict itself (``converged`` and
``convergence`` in ``result.json``) is computed by the training loop; here it is only displayed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from symml.training.results import ReportRow

NONE = "—"
_FIX = "a larger training budget (`trainer.budget`) would close the gap"


def short_keys(keys: Iterable[str]) -> dict[str, str]:
    """Readable names of tuned keys: the last dotted component, or the whole key where two keys
    share it.

    Example:
        >>> names = short_keys(["trainer.optimizer.lr", "model.options.p", "data.options.p"])
        >>> [names[key] for key in sorted(names)]
        ['data.options.p', 'model.options.p', 'lr']
    """
    ordered = sorted(set(keys))
    last = [key.rsplit(".", 1)[-1] for key in ordered]
    return {
        key: short if last.count(short) == 1 else key
        for key, short in zip(ordered, last, strict=True)
    }


def format_value(value: Any) -> str:
    """A tuned value as written in tables: floats in ``g`` format (``0.001``, ``1e-05``)."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_values(values: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """``lr 0.001, weight_decay 0``: each key (by its short name in ``names``) and value."""
    return ", ".join(f"{names[key]} {format_value(values[key])}" for key in sorted(values))


def values_text(values: Mapping[str, Any]) -> str:
    """One run's tuned values with short key names.

    Example:
        >>> values_text({"trainer.optimizer.lr": 0.001, "trainer.optimizer.weight_decay": 0.0})
        'lr 0.001, weight_decay 0'
    """
    return format_values(values, short_keys(values))


def _values_key(values: Mapping[str, Any]) -> str:
    # a hashable, order-free identity of a value combination (values may be lists or dicts)
    return repr(sorted((key, repr(value)) for key, value in values.items()))


def tuned_cell(row: ReportRow) -> str:
    """The selected values of a row's seeds, most common first: ``lr 0.001`` when the seeds
    agree, ``lr 0.001 (2/3 seeds), 0.003 (1/3)`` when not, ``—`` when the row was not tuned."""
    if not any(row.tuned):
        return NONE
    names = short_keys(key for values in row.tuned for key in values)
    counts: dict[str, tuple[Mapping[str, Any], int]] = {}
    for values in row.tuned:
        key = _values_key(values)
        counts[key] = (values, counts.get(key, (values, 0))[1] + 1)
    ranked = sorted(counts.values(), key=lambda item: -item[1])  # stable: ties in seed order
    n = len(row.tuned)
    if len(ranked) == 1:
        return format_values(ranked[0][0], names)
    single_key = len(names) == 1
    parts: list[str] = []
    named = False  # with one tuned key, it is named once, at its first value
    for values, count in ranked:
        text = format_values(values, names) if values else "not tuned"
        if single_key and values and named:
            text = format_value(next(iter(values.values())))
        named = named or bool(values)
        parts.append(f"{text} ({count}/{n}{'' if parts else ' seeds'})")
    return (", " if single_key else "; ").join(parts)


def _short_note(note: str) -> str:
    """The loop's note without its leading ``not converged:`` and trailing ``(...)`` detail."""
    note = re.sub(r"^not converged:?\s*", "", note.strip())
    return re.sub(r"\s*\([^()]*\)$", "", note)


def _flag(what: str, notes: list[str], seeds: int) -> str:
    distinct = list(dict.fromkeys(note for note in notes if note))
    return f"{what} ({len(notes)}/{seeds} seeds)" + (": " + "; ".join(distinct) if distinct else "")


def notes_cell(row: ReportRow) -> str:
    """``not converged (1/3 seeds): best at step 980 of 1,000``, then the seeds whose
    convergence the loop could not judge (too few validation points); ``—`` when every seed
    converged or recorded no verdict (older runs). Early stopping is not flagged: it is the
    budget rule working, not a problem."""
    n = len(row.seeds)
    parts = []
    if row.not_converged:
        parts.append(_flag("not converged", [_short_note(c) for _, c in row.not_converged], n))
    unjudged = [
        re.sub(r"^convergence not judged:?\s*", "", note)
        for verdict, note in zip(row.converged, row.convergence, strict=True)
        if verdict is None and note
    ]
    if unjudged:
        parts.append(_flag("convergence not judged", unjudged, n))
    return "; ".join(parts) or NONE


def _sizes(rows: list[ReportRow]) -> str:
    return ", ".join(f"{r.train_size:,}" for r in rows)


def _every(rows: list[ReportRow]) -> str:
    every = sorted({r.budget.eval_every for r in rows if r.budget})
    if len(every) == 1:
        return f"validation every {every[0]:,} steps"
    return f"validation every {every[0]:,}–{every[-1]:,} steps (by training size)"


def budget_lines(rows: list[ReportRow]) -> list[str]:
    """Markdown lines stating one dataset's training budget(s): one sentence when every row
    used the same rule, else a list naming the rows of each rule."""
    rules: dict[str | None, list[ReportRow]] = {}
    for r in rows:
        rules.setdefault(r.budget.rule if r.budget else None, []).append(r)
    checkpoint = "checkpoint at the best validation metric."
    if len(rules) == 1:
        rule, members = next(iter(rules.items()))
        if rule is None:
            return ["Budget: not recorded (runs from before budgets were recorded); " + checkpoint]
        return [f"Budget: {rule}; {_every(members)}; {checkpoint}"]
    labels = {r.label: [m for m in rows if m.label == r.label] for r in rows}
    lines = ["Budgets differ between rows (compare rows of one budget):", ""]
    for rule, members in sorted(rules.items(), key=lambda item: item[0] or ""):
        whose = []
        for label in dict.fromkeys(r.label for r in members):
            mine = [r for r in members if r.label == label]
            whole = len(mine) == len(labels[label])
            whose.append(label if whole else f"{label} at N = {_sizes(mine)}")
        if rule is None:
            lines.append(f"- not recorded (older runs): {', '.join(whose)}")
        else:
            lines.append(f"- {rule}; {_every(members)}: {', '.join(whose)}")
    return [*lines, "", checkpoint.capitalize()]


def not_converged_lines(rows: list[ReportRow]) -> list[str]:
    """A markdown paragraph on the rows flagged not converged (none when all converged): which
    seeds, the loop's full note for each, and that their numbers are under-trained."""
    flagged = [r for r in rows if r.not_converged]
    if not flagged:
        return []
    lines = [
        f"**Not converged** ({len(flagged)} of {len(rows)} rows): the validation metric was "
        "still improving at the end of the budget, so these numbers are under-trained and "
        f"understate what the model can do; {_FIX}.",
        "",
    ]
    for r in flagged:
        for seed, note in r.not_converged:
            lines.append(f"- {r.label}, N = {r.train_size:,}, seed {seed}: {note or 'no note'}")
    return lines


def tuning_table(rows: list[ReportRow]) -> tuple[list[str], str, list[list[str]]] | None:
    """Header, column alignment and cells of one dataset's tuning table, or None when no run was
    tuned. One line per candidate of each (label, size, seed): its values, its validation metric,
    best step and convergence, ``selected`` on the one kept. Test metrics never appear."""
    tuned = [r for r in rows if any(r.candidates)]
    if not tuned:
        return None
    names = short_keys(k for r in tuned for cands in r.candidates for c in cands for k in c.values)
    keys = sorted(names)
    header = ["model", "train size", "seed", *(names[k] for k in keys)]
    header += [f"validation {rows[0].metric_name}", "best step", "converged", "selected"]
    body = []
    for r in tuned:
        for seed, chosen, cands in zip(r.seeds, r.tuned, r.candidates, strict=True):
            for c in cands:
                body.append(
                    [r.label, f"{r.train_size:,}", str(seed)]
                    + [format_value(c.values[k]) if k in c.values else NONE for k in keys]
                    + [NONE if c.val is None else f"{c.val:.4g}"]
                    + [NONE if c.best_step is None else f"{c.best_step:,}"]
                    + [{True: "yes", False: "no", None: NONE}[c.converged]]
                    + [_selected(c.values, chosen, c.error)]
                )
    return header, "lrr" + "r" * len(keys) + "rrll", body


def _selected(values: Mapping[str, Any], chosen: Mapping[str, Any], error: str | None) -> str:
    if error:
        return f"failed: {error}"
    return "**selected**" if _values_key(values) == _values_key(chosen) else ""
