"""How the bilinear kernel (`symml.nn._kernels.bilinear`) computes ``y = W(x) x``: per path a
contraction order, and the paths that share a GEMM.

A path takes products from the copies of input type a (``x_a [m_a, d_a, B]``) into output type b
(``y_b [m_b, d_b, B]``), with W(x)'s blocks combined from the first n copies of a source type,
each read as a matrix ``S_l [d_b, d_a]``, by ``θ [m_b, m_a, n]``::

    y_b[p, i] = Σ_{q, l} θ[p, q, l] Σ_j S_l[i, j] x_a[q, j]

Either order costs one GEMM over the whole batch and one per-sample contraction: products first
(``P = S x_a``, then ``y_b = Θ P``) or θ first (``mixed = Θ x_a``, then the contraction with S).
The contractions of each stage run as one `Program` (`symml.nn._kernels.contract`), made here
once per layer: its operands are views of the stage's buffers, all ``[rows, B]``, S read in
place (``S_l[i, j]`` is row ``l·d_b·d_a + i·d_a + j`` of its type's block).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from symml.nn._kernels.contract import Job, Program, View, program
from symml.nn._kernels.layout import TypeOrder, TypeRows, type_order, type_rows
from symml.nn._types import FieldType


class PathPlan(NamedTuple):
    """One path: input type ``a``, output type ``b``, the first ``sources`` copies of input type
    ``source``, the sizes of ``θ [m_b, m_a, sources]``, the types' dimensions, the order."""

    a: int
    b: int
    source: int
    sources: int
    m_a: int
    m_b: int
    d_a: int
    d_b: int
    theta_first: bool


class Group(NamedTuple):
    """Paths that share one GEMM: θ-first paths from the same input type ``key`` (their θ
    stacked along rows: ``mixed = Θ x_a``), or products-first paths into the same output type
    ``key`` (θ stacked along columns: ``y_b += Θ P``). ``spans`` are each path's rows / columns
    of the stacked Θ, ``members`` indices into the paths."""

    key: int
    members: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    size: int


class BilinearPlan(NamedTuple):
    """Everything the kernel needs of one layer, made once when the layer is built.

    Attributes:
        paths: one per weight tensor, in the weights' order.
        rows_in, rows_out: each type's rows in the type-ordered layout.
        theta_first, products_first: the GEMM groups.
        order_in, order_out: the permutations into the type-ordered layout (None: none needed).
        forward: the forward's contractions, without and with the residual, on buffers
            ``[x, y, *mixed, *products]`` (``mixed``, ``products``: one per θ-first,
            products-first group): they write every row of y.
        backward: the backward's contractions on ``[x, g_y, g_x, *mixed, *g_mixed,
            *g_products]``, without and with the residual; ``backward_theta``: those that the
            weights' gradients need alone (the input needs none).
    """

    paths: tuple[PathPlan, ...]
    rows_in: tuple[TypeRows, ...]
    rows_out: tuple[TypeRows, ...]
    theta_first: tuple[Group, ...]
    products_first: tuple[Group, ...]
    order_in: TypeOrder | None
    order_out: TypeOrder | None
    forward: tuple[Program, Program]
    backward: tuple[Program, Program]
    backward_theta: Program

    @property
    def d_out(self) -> int:
        return self.rows_out[-1].end if self.rows_out else 0


def _theta_first_is_cheaper(m_a: int, m_b: int, d_a: int, d_b: int, n: int) -> bool:
    """Order by cost: per sample, products first takes m_a·n·d_b·d_a multiply-adds in small
    elementwise kernels and then m_b·m_a·n·d_b in a GEMM; θ first takes m_b·n·m_a·d_a in a GEMM
    and m_b·n·d_b·d_a elementwise. An elementwise multiply-add costs ~4 GEMM ones here. Ties
    (m_a = m_b, d_a = d_b, e.g. V → V from T(2) sources) go θ first: with the compiled
    contraction kernel that was 2-3 % faster for the O(3) inertia model (A/B in one process)."""
    products_first = 4 * m_a * n * d_b * d_a + m_b * m_a * n * d_b
    theta_first = 4 * m_b * n * d_b * d_a + m_b * n * m_a * d_a
    return theta_first <= products_first


def _groups(paths: tuple[PathPlan, ...], theta_first: bool) -> tuple[Group, ...]:
    keyed: dict[int, list[int]] = {}
    for i, path in enumerate(paths):
        if path.theta_first == theta_first:
            keyed.setdefault(path.a if theta_first else path.b, []).append(i)
    out = []
    for key, members in keyed.items():
        spans, at = [], 0
        for i in members:
            p = paths[i]
            width = p.m_b * p.sources if theta_first else p.m_a * p.sources
            spans.append((at, at + width))
            at += width
        out.append(Group(key, tuple(members), tuple(spans), at))
    return tuple(out)


_X, _Y, _GX = 0, 1, 2  # buffer numbers: x, y (or g_y), g_x


def _forward_jobs(
    paths: tuple[PathPlan, ...], rows: tuple[tuple[TypeRows, ...], tuple[TypeRows, ...]],
    groups: tuple[tuple[Group, ...], tuple[Group, ...]], residual: bool,
) -> list[Job]:  # fmt: skip
    """θ-first paths contract ``mixed`` with S into y; products-first ones fill their products;
    types no θ-first path writes start from the residual or zero (their GEMM adds to them)."""
    (rows_in, rows_out), (theta_first, products_first) = rows, groups
    jobs, written = [], set()
    for g, group in enumerate(theta_first):
        for i, (r0, _) in zip(group.members, group.spans, strict=True):
            p, b, src = paths[i], rows_out[paths[i].b], rows_in[paths[i].source]
            out = View(_Y, b.start, (p.d_b, 0, 1, 0))
            init = None
            if p.b in written:
                init = out
            elif residual:
                init = View(_X, rows_in[p.b].start, (p.d_b, 0, 1, 0))
            x = View(2 + g, r0 * p.d_a, (p.sources * p.d_a, 0, p.d_a, 1))
            y = View(_X, src.start, (src.dim, 1, p.d_a, 0))  # k = (l, j), c = i
            sizes = (p.m_b, 1, p.sources, p.d_a, p.d_b, 1)
            jobs.append(Job(out, x, y, sizes, init, accumulate=p.b in written))
            written.add(p.b)
    for g, group in enumerate(products_first):
        for i, (c0, _) in zip(group.members, group.spans, strict=True):
            p, a, src = paths[i], rows_in[paths[i].a], rows_in[paths[i].source]
            out = View(2 + len(theta_first) + g, c0 * p.d_b, (p.sources * p.d_b, 0, p.d_b, 1))
            x = View(_X, a.start, (p.d_a, 0, 1, 0))
            y = View(_X, src.start, (1, 0, src.dim, p.d_a))  # k = j, c = (l, i)
            jobs.append(Job(out, x, y, (p.m_a, 1, p.d_a, 1, p.sources, p.d_b)))
    for t, r in enumerate(rows_out):
        if t not in written:
            out = View(_Y, r.start, (1, 0, 0, 0))
            init = View(_X, rows_in[t].start, (1, 0, 0, 0)) if residual else None
            jobs.append(Job(out, out, out, (r.end - r.start, 1, 0, 0, 1, 1), init))
    return jobs


def _backward_jobs(
    paths: tuple[PathPlan, ...], rows: tuple[tuple[TypeRows, ...], tuple[TypeRows, ...]],
    groups: tuple[tuple[Group, ...], tuple[Group, ...]], residual: bool | None,
) -> list[Job]:  # fmt: skip
    """g_x starts from g_y (residual) or zero, then takes every contraction's share; each θ-first
    path's ``g_mixed`` is written. ``residual`` None: only the ``g_mixed`` jobs."""
    (rows_in, rows_out), (theta_first, products_first) = rows, groups
    n_tf = len(theta_first)
    jobs = []
    if residual is not None:
        whole = View(_GX, 0, (1, 0, 0, 0))
        init = View(_Y, 0, (1, 0, 0, 0)) if residual else None
        d_in = rows_in[-1].end if rows_in else 0
        jobs.append(Job(whole, whole, whole, (d_in, 1, 0, 0, 1, 1), init))
        for g, group in enumerate(products_first):
            for i, (c0, _) in zip(group.members, group.spans, strict=True):
                p, a, src = paths[i], rows_in[paths[i].a], rows_in[paths[i].source]
                g_p = View(3 + 2 * n_tf + g, c0 * p.d_b, (p.sources * p.d_b, 0, p.d_b, 1))
                # g_x_a[q, j] += Σ_(l,i) g_P[q, (l, i)] S_l[i, j]
                out = View(_GX, a.start, (p.d_a, 0, 1, 0))
                y = View(_X, src.start, (src.dim, p.d_a, 1, 0))
                sizes = (p.m_a, 1, p.sources, p.d_b, p.d_a, 1)
                jobs.append(Job(out, g_p, y, sizes, accumulate=True))
                # g_S_l[i, j] += Σ_q x_a[q, j] g_P[q, (l, i)], as [j, (l, i)]
                out = View(_GX, src.start, (1, 0, src.dim, p.d_a))
                x = View(_X, a.start, (1, 0, p.d_a, 0))
                y = View(g_p.buffer, g_p.row, (p.sources * p.d_b, 0, p.d_b, 1))
                sizes = (p.d_a, 1, p.m_a, 1, p.sources, p.d_b)
                jobs.append(Job(out, x, y, sizes, accumulate=True))
    for g, group in enumerate(theta_first):
        for i, (r0, _) in zip(group.members, group.spans, strict=True):
            p, b, src = paths[i], rows_out[paths[i].b], rows_in[paths[i].source]
            # g_mixed[p, (l, j)] = Σ_i g_y_b[p, i] S_l[i, j]
            out = View(3 + n_tf + g, r0 * p.d_a, (p.sources * p.d_a, 0, p.d_a, 1))
            x = View(_Y, b.start, (p.d_b, 0, 1, 0))
            y = View(_X, src.start, (p.d_a, 0, src.dim, 1))
            jobs.append(Job(out, x, y, (p.m_b, 1, p.d_b, 1, p.sources, p.d_a)))
            if residual is None:
                continue
            # g_S_l[i, j] += Σ_p mixed[p, (l, j)] g_y_b[p, i], as [(l, j), i]
            out = View(_GX, src.start, (src.dim, 1, p.d_a, 0))
            x = View(3 + g, r0 * p.d_a, (p.d_a, 1, p.sources * p.d_a, 0))
            y = View(_Y, b.start, (p.d_b, 0, 1, 0))
            sizes = (p.sources, p.d_a, p.m_b, 1, p.d_b, 1)
            jobs.append(Job(out, x, y, sizes, accumulate=True))
    return jobs


def bilinear_plan(
    paths: Sequence[tuple[int, int, int, int]],
    types_in: tuple[FieldType, ...],
    types_out: tuple[FieldType, ...],
    theta_first: bool | None = None,
) -> BilinearPlan:
    """The plan for ``paths`` ``(a, b, source, sources)`` between the field types of a layer.

    ``theta_first`` forces one contraction order on every path (None: the cheaper one per path;
    the tests run both).
    """
    plans = []
    for a, b, source, n in paths:
        m_a, m_b = types_in[a].copies, types_out[b].copies
        d_a, d_b = types_in[a].rep.dim, types_out[b].rep.dim
        first = (
            _theta_first_is_cheaper(m_a, m_b, d_a, d_b, n) if theta_first is None else theta_first
        )
        plans.append(PathPlan(a, b, source, n, m_a, m_b, d_a, d_b, first))
    chosen = tuple(plans)
    rows = (type_rows(types_in), type_rows(types_out))
    groups = (_groups(chosen, True), _groups(chosen, False))
    same = types_in == types_out  # the residual needs rep_in = rep_out
    forward = [program(_forward_jobs(chosen, rows, groups, r)) for r in (False, same)]
    backward = [program(_backward_jobs(chosen, rows, groups, r)) for r in (False, same)]
    return BilinearPlan(
        chosen,
        *rows,
        *groups,
        type_order(types_in),
        type_order(types_out),
        (forward[0], forward[1]),
        (backward[0], backward[1]),
        program(_backward_jobs(chosen, rows, groups, None)),
    )
