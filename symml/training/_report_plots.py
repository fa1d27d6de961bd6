"""Plots of a report (`symml.training.report`), drawn with matplotlib.

Figures are built with `matplotlib.figure.Figure` directly, not through ``pyplot``: no global
backend switch, no figure registry to leak into, and saving picks the Agg/SVG canvas by file type.
Drawing happens inside a style context (matplotlib defaults + the settings below), so a user's
matplotlibrc changes nothing and the files are byte-for-byte reproducible (``svg.hashsalt``, no
date in the SVG metadata).
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import style as mpl_style
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, MultipleLocator, NullFormatter, StrMethodFormatter

from symml.training._report_curves import LearningCurve
from symml.training.results import (
    ReportRow,
    by_dataset,
    curves_of,
    file_stem,
    largest_per_label,
    metric_name,
)
from symml.training.rundir import write_atomic

_STYLE: dict[str, Any] = {
    "svg.hashsalt": "symml-report",
    "svg.fonttype": "none",  # text stays text in the SVG: searchable and editable
    "font.size": 11,
    "axes.titlesize": 12,
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DPI = 150
# a band that reaches 0 cannot be drawn on a log axis: it is cut at this fraction of the
# smallest mean in the plot
_LOG_FLOOR = 0.5


class _PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain numbers (0.05, 40) rather than 5×10⁻²; matplotlib's
    `LogFormatter` still decides which ticks get a label."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _palette(name: str) -> list[tuple[float, float, float, float]]:
    cmap = matplotlib.colormaps[name]  # a qualitative (listed) colormap: index i is color i
    return [cmap(i) for i in range(cmap.N)]


def line_styles(rows: list[ReportRow]) -> dict[str, dict[str, Any]]:
    """Fixed matplotlib style per model label: color and marker by sorted label, dashed lines
    for plain baselines (group ``"none"``), so a label looks the same in every plot."""
    colors = _palette("tab10")
    groups = {r.label: r.group for r in rows}
    return {
        label: {
            "color": colors[i % len(colors)],
            "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": "--" if groups[label] == "none" else "-",
        }
        for i, label in enumerate(sorted(groups))
    }


def _y_label(rows: list[ReportRow]) -> str:
    return f"test {rows[0].metric_name}"


def data_efficiency_figure(
    rows: list[ReportRow], styles: dict[str, dict[str, Any]], where: str | None = None
) -> Figure:
    """Test metric vs training-set size (log-log), one line per label with a ±std band;
    published numbers as hollow markers. ``rows``: one dataset's rows.
    ``where``: the group's name in the title (`by_dataset`'s key; default: the dataset)."""
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    means = [r.test.mean for r in rows] + [r.published for r in rows if r.published is not None]
    log_y = min(means) > 0
    floor = _LOG_FLOOR * min(means)
    for label in sorted({r.label for r in rows}):
        line = sorted((r for r in rows if r.label == label), key=lambda r: r.train_size)
        style = styles[label]
        x = [r.train_size for r in line]
        mean = [r.test.mean for r in line]
        low = [r.test.mean - r.test.std for r in line]
        high = [r.test.mean + r.test.std for r in line]
        ax.plot(x, mean, label=label, linewidth=1.8, markersize=6, **style)
        if log_y:
            low = [max(v, floor) for v in low]
        ax.fill_between(x, low, high, color=style["color"], alpha=0.2, linewidth=0)
        if len(x) == 1:  # a band of one point has no width: draw the ±std as an error bar
            spread = [[mean[0] - low[0]], [high[0] - mean[0]]]
            ax.errorbar(x, mean, yerr=spread, color=style["color"], capsize=4, linestyle="none")
        published = [(r.train_size, r.published) for r in line if r.published is not None]
        if published:
            ax.plot(
                *zip(*published, strict=True),
                linestyle="none",
                marker=style["marker"],
                markersize=10,
                markerfacecolor="none",
                markeredgecolor=style["color"],
                markeredgewidth=1.6,
            )
    handles, labels = ax.get_legend_handles_labels()
    if any(r.published is not None for r in rows):
        hollow = Line2D([], [], linestyle="none", marker="o", markersize=10, color="0.2")
        hollow.set_markerfacecolor("none")
        handles.append(hollow)
        labels.append("published")
    ax.set_xscale("log")
    sizes = sorted({r.train_size for r in rows})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    if log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PlainLogFormatter())
        ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    else:
        ax.set_ylim(bottom=0)  # both metrics (MSE, error) are non-negative
    ax.set_xlabel("training-set size (samples)")
    ax.set_ylabel(_y_label(rows))
    ax.set_title(f"Data efficiency on {where or rows[0].dataset} (mean ± std over seeds)")
    fig.legend(handles, labels, loc="outside right upper", title="model")
    return fig


def generalization_figure(rows: list[ReportRow], where: str | None = None) -> Figure:
    """Grouped bars per label (largest training set): in-distribution test metric and each
    transformed test set, with ±std error bars. ``rows``: one dataset's rows.
    ``where``: the group's name in the title (`by_dataset`'s key; default: the dataset)."""
    largest = largest_per_label(rows)
    names = sorted({n for r in largest for n in r.transformed})
    sets = ["in-distribution", *names]
    set_colors = ["0.35", *_palette("Set2")]
    width = 0.8 / len(sets)
    # each group as wide as its bars, or as its label (about 0.1 inch a character at 10 pt)
    label_inches = 0.1 * max(len(r.label) for r in largest) + 0.2
    per_group = max(0.35 * len(sets), label_inches)
    fig = Figure(figsize=(max(6.5, 1.2 + per_group * len(largest)), 5.2))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    values = []
    for j, name in enumerate(sets):
        bars = [
            (i + (j - (len(sets) - 1) / 2) * width, s)
            for i, r in enumerate(largest)
            if (s := r.test if name == "in-distribution" else r.transformed.get(name)) is not None
        ]
        values += [s.mean for _, s in bars]
        ax.bar(
            [x for x, _ in bars],
            [s.mean for _, s in bars],
            width,
            yerr=[s.std for _, s in bars],
            capsize=3,
            color=set_colors[j % len(set_colors)],
            label=name,
        )
    if min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")
    ax.set_xticks(range(len(largest)), [f"{r.label}\n{r.train_size:,} samples" for r in largest])
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(_y_label(rows))
    ax.set_title(f"Generalization on {where or rows[0].dataset}")
    fig.legend(loc="outside lower center", ncols=min(len(sets), 4), title="test set")
    return fig


def angles_figure(
    rows: list[ReportRow], styles: dict[str, dict[str, Any]], where: str | None = None
) -> Figure:
    """Test metric vs angle (degrees), one panel per angle grid, one line per label at its
    largest training set with angle curves, ±std band. ``rows``: one dataset's rows.
    ``where``: the group's name in the title (`by_dataset`'s key; default: the dataset)."""
    names = sorted({n for r in rows for n in r.angle_curves})
    fig = Figure(figsize=(1.5 + 5.5 * len(names), 4.5), layout="constrained")
    axes: list[Axes] = list(fig.subplots(1, len(names), squeeze=False)[0])
    handles: dict[str, Any] = {}
    for ax, name in zip(axes, names, strict=True):
        for r in largest_per_label([r for r in rows if name in r.angle_curves]):
            curve = r.angle_curves[name]
            style = styles[r.label]
            (handles[r.label],) = ax.plot(
                curve.degrees, curve.mean, label=r.label, markersize=4, **style
            )
            low = [m - s for m, s in zip(curve.mean, curve.std, strict=True)]
            high = [m + s for m, s in zip(curve.mean, curve.std, strict=True)]
            ax.fill_between(curve.degrees, low, high, color=style["color"], alpha=0.2, lw=0)
        span = max(max(r.angle_curves[name].degrees) for r in rows if name in r.angle_curves)
        ax.xaxis.set_major_locator(MultipleLocator(90 if span > 180 else 45 if span > 90 else 15))
        ax.set_xlabel(f"{name} angle (degrees)")
        ax.set_ylabel(_y_label(rows))
        on = where or rows[0].dataset
        ax.set_title(f"{name.capitalize()} on {on} (largest training set per model)")
    labels = sorted(handles)
    fig.legend([handles[k] for k in labels], labels, loc="outside right upper", title="model")
    return fig


def _log_if_positive(axes: Sequence[Axes], values: Sequence[float]) -> None:
    """Log y on ``axes`` (which share y) when every finite value is positive: losses and
    metrics fall over decades, and a log axis shows the late, small improvements."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0:
        axes[0].set_yscale("log")
        for ax in axes:
            ax.yaxis.set_major_formatter(_PlainLogFormatter())
            ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))


def _x_label(curves: list[LearningCurve]) -> str:
    if all(c.by_step for c in curves):
        return "optimizer step"
    if not any(c.by_step for c in curves):
        return "epoch"
    return "optimizer step (epoch for older runs)"


def learning_curves_figure(curves: list[LearningCurve], where: str | None = None) -> Figure:
    """Training loss (top row) and validation metric (bottom row) vs optimizer step, one column
    per model label, one colour per training-set size, one thin line per seed; a dot marks the
    evaluation whose checkpoint was kept. ``curves``: one dataset's runs.
    ``where``: the group's name in the title (`by_dataset`'s key; default: the dataset)."""
    first = curves[0].result
    labels = sorted({c.result.label for c in curves})
    sizes = sorted({c.result.train_size for c in curves})
    cmap = matplotlib.colormaps["viridis"]  # sequential: small to large N reads as dark to light
    colors = {n: cmap(0.85 * i / max(1, len(sizes) - 1)) for i, n in enumerate(sizes)}
    fig = Figure(figsize=(2.2 + 3.6 * len(labels), 6.4), layout="constrained")
    axes = fig.subplots(2, len(labels), squeeze=False, sharex="col", sharey="row")
    several = max(Counter((c.result.label, c.result.train_size) for c in curves).values()) > 1
    for column, label in enumerate(labels):
        top, bottom = axes[0][column], axes[1][column]
        for c in (c for c in curves if c.result.label == label):
            style = {"color": colors[c.result.train_size], "linewidth": 1.0 if several else 1.6}
            top.plot(c.x, c.train_loss, **style)
            bottom.plot(c.x, c.val, **style)
            if c.best is not None:
                bottom.plot(
                    c.x[c.best], c.val[c.best], marker="o", markersize=6, markeredgecolor="black",
                    color=colors[c.result.train_size], zorder=3,
                )  # fmt: skip
        top.set_title(label)
        bottom.set_xlabel(_x_label(curves))
        bottom.set_xlim(left=0)
        bottom.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 3,000 as in tables
    _log_if_positive(list(axes[0]), [v for c in curves for v in c.train_loss])
    _log_if_positive(list(axes[1]), [v for c in curves for v in c.val])
    loss = "MSE" if first.metric == "mse" else "cross-entropy"
    axes[0][0].set_ylabel(f"training loss ({loss})")
    axes[1][0].set_ylabel(f"validation {metric_name(first.metric, first.metric_units)}")
    handles = [Line2D([], [], color=colors[n], linewidth=2) for n in sizes]
    names = [f"N = {n:,}" for n in sizes]
    handles.append(
        Line2D([], [], linestyle="none", marker="o", color="0.5", markeredgecolor="black")
    )
    names.append("best validation\n(checkpoint kept)")
    fig.legend(handles, names, loc="outside right upper", title="training-set size")
    seeds = ", one thin line per seed" if several else ""
    fig.suptitle(f"Learning curves on {where or first.dataset}{seeds}")
    return fig


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    for fmt, metadata in (("png", {}), ("svg", {"Date": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=_DPI, metadata=metadata)
        path = out_dir / f"{stem}.{fmt}"
        write_atomic(path, buffer.getvalue())
        paths.append(path)
    return paths


def draw_plots(
    rows: list[ReportRow], out_dir: Path, curves: Sequence[LearningCurve] = ()
) -> list[Path]:
    """Write every plot of the report into ``out_dir``; returns the paths written.
    ``learning_curves_<dataset>`` is drawn for the datasets with runs in ``curves`` (one plot per
    group of `by_dataset`)."""
    written: list[Path] = []
    with mpl_style.context(["default", _STYLE]):
        styles = line_styles(rows)
        for dataset, group in by_dataset(rows).items():
            stem = file_stem(dataset)
            mine = curves_of(group, curves)
            if mine:
                written += _save(
                    learning_curves_figure(mine, dataset), out_dir, f"learning_curves_{stem}"
                )
            written += _save(
                data_efficiency_figure(group, styles, dataset), out_dir, f"data_efficiency_{stem}"
            )
            if any(r.transformed for r in group):
                written += _save(
                    generalization_figure(group, dataset), out_dir, f"generalization_{stem}"
                )
            if any(r.angle_curves for r in group):
                written += _save(angles_figure(group, styles, dataset), out_dir, f"angles_{stem}")
    return written
