"""Programs of the per-sample contraction the bilinear kernel is made of, batch innermost:

    out[a, c, n] = base[a, c, n] + Σ_k x[a, k, n] · y[k, c, n]

i.e. B small matrix products, one per sample n. With the batch innermost and contiguous every
step is a vectorised elementwise op over it; batched matmul (bmm) of B tiny matrices is 10-50x
slower on CPU, backward included. A `Program` lists the contractions of one stage of a layer
(`Job`), each operand a view of a buffer of rows of length B (`View`); `run` hands the whole list
to the compiled kernel (`symml.nn._kernels.native`: one call, one parallel region) or, where it is
unavailable (no compiler, GPUs, other dtypes, `native.disabled()`), runs the jobs one by one with
stock torch ops, which compute the same sums. Reference: ``torch.einsum("akn,kcn->acn", x, y)``
per job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from symml.nn._kernels import native


class View(NamedTuple):
    """An operand ``[(i1, i2), (j1, j2), n]``: rows ``row + i1·s0 + i2·s1 + j1·s2 + j2·s3`` of
    buffer ``buffer`` (``strides = (s0, s1, s2, s3)``, in rows)."""

    buffer: int
    row: int
    strides: tuple[int, int, int, int]


class Job(NamedTuple):
    """``out[a, c] = base + Σ_k x[a, k] · y[k, c]`` per sample, over index pairs ``a = (a1, a2)``,
    ``k``, ``c`` of sizes ``sizes = (A1, A2, K1, K2, C1, C2)``; ``base`` is ``init``, or ``out``
    itself with ``accumulate``, else 0. K = 0 makes ``out = base``."""

    out: View
    x: View
    y: View
    sizes: tuple[int, int, int, int, int, int]
    init: View | None = None
    accumulate: bool = False


class Program(NamedTuple):
    """Jobs run in order, and the same as an int64 table for the compiled kernel."""

    jobs: tuple[Job, ...]
    table: Tensor  # [len(jobs), native.JOB_FIELDS]


def program(jobs: Sequence[Job]) -> Program:
    """The `Program` of ``jobs`` (its table laid out as ``contract.cpp`` reads it)."""
    rows = []
    for job in jobs:
        init = job.init if job.init is not None else View(-1, 0, (0, 0, 0, 0))
        rows.append(
            [job.out.buffer, job.out.row, *job.out.strides]
            + [init.buffer, init.row, *init.strides, int(job.accumulate)]
            + [job.x.buffer, job.x.row, *job.x.strides]
            + [job.y.buffer, job.y.row, *job.y.strides, *job.sizes]
        )
    table = torch.tensor(rows, dtype=torch.int64).reshape(len(rows), native.JOB_FIELDS)
    return Program(tuple(jobs), table)


def run(prog: Program, buffers: list[Tensor]) -> None:
    """Run ``prog`` on ``buffers`` (each ``[rows, B]``, contiguous; nothing recorded for
    autograd). Buffers the jobs write must not be read by an earlier job of the same sample
    that expects the old values, and outputs must not overlap their own operands."""
    if native.run_program(prog.table, buffers):
        return
    for job in prog.jobs:
        _run_stock(job, buffers)


def _operand(
    buffers: list[Tensor], v: View, first: tuple[int, int], second: tuple[int, int]
) -> Tensor:
    """``v`` as a strided ``[i1, i2, j1, j2, B]`` view of its buffer."""
    buf = buffers[v.buffer]
    n = buf.shape[1]
    strides = tuple(s * n for s in v.strides)
    return buf.as_strided((*first, *second, n), (*strides, 1), buf.storage_offset() + v.row * n)


def _merged(t: Tensor) -> Tensor | None:
    """``[i1, i2, j1, j2, B]`` as ``[i, j, B]`` without a copy, or None where its strides do not
    allow that."""
    size, stride = t.shape, t.stride()
    for d in (0, 2):
        if size[d] > 1 and size[d + 1] > 1 and stride[d] != size[d + 1] * stride[d + 1]:
            return None
    return t.view(size[0] * size[1], size[2] * size[3], size[4])


def _run_stock(job: Job, buffers: list[Tensor]) -> None:
    a1, a2, k1, k2, c1, c2 = job.sizes
    out = _operand(buffers, job.out, (a1, a2), (c1, c2))
    base = None
    if job.init is not None:
        base = _operand(buffers, job.init, (a1, a2), (c1, c2))
    if k1 * k2 == 0:
        if base is not None:
            out.copy_(base)
        elif not job.accumulate:
            out.zero_()
        return
    x = _operand(buffers, job.x, (a1, a2), (k1, k2)).reshape(a1 * a2, k1 * k2, -1)
    y = _operand(buffers, job.y, (k1, k2), (c1, c2)).reshape(k1 * k2, c1 * c2, -1)
    direct = _merged(out) if base is None else None
    if direct is not None:
        _contract_stock(direct, x, y, job.accumulate)
        return
    product = x.new_empty(x.shape[0], y.shape[1], x.shape[2])
    _contract_stock(product, x, y, accumulate=False)
    product = product.view(out.shape)
    if job.accumulate:
        out.add_(product)
    elif base is not None:
        torch.add(base, product, out=out)
    else:
        out.copy_(product)


def _broadcast(a: int, k: int, c: int, n: int) -> bool:
    """Contract by one broadcast product and sum rather than k multiply-adds (see
    `_contract_stock`)."""
    return k > 8 and (a * k * c * n <= 1 << 17 or a * c * n <= 1 << 14)


def _contract_stock(out: Tensor, x: Tensor, y: Tensor, accumulate: bool) -> None:
    """``out [a, c, n] (+)= Σ_k x [a, k, n] · y [k, c, n]`` in stock torch ops (k >= 1).

    An unrolled multiply-add over k keeps the working set at the output's size; a long k with a
    small product ``[a, k, c, n]`` is cheaper as one broadcast product and sum (two kernels); a
    larger one is not materialised: alone, ``[32, 27, 3, 500]`` broadcast takes 115 µs against
    151 µs for 27 multiply-adds, but in a training step the megabytes it streams through the cache
    cost more than that (EMLP inertia step 16.2 ms against 15.6 ms, measured A/B interleaved).
    """
    a, k, c, n = x.shape[0], x.shape[1], y.shape[1], x.shape[2]
    if _broadcast(a, k, c, n):
        # contiguous operands: broadcasting transposed ones is 4x slower
        product = (x.contiguous()[:, :, None] * y.contiguous()[None]).sum(1)
        out.add_(product) if accumulate else out.copy_(product)
        return
    xs = x.transpose(0, 1).unsqueeze(2).unbind(0)  # k × [a, 1, n]: one op, not k slicings
    ys = y.unsqueeze(1).unbind(0)  # k × [1, c, n]
    if not accumulate:
        torch.mul(xs[0], ys[0], out=out)
        xs, ys = xs[1:], ys[1:]
    if not xs:
        return
    if out.device.type == "cpu":
        # the same multiply-adds in the same order, looped in C++ rather than Python: ~0.5 µs less
        # per term (10 % of the loop at batch 500). Only on the CPU, whose foreach kernels run
        # the list one by one; a GPU's fused ones would race on the repeated `out`.
        torch._foreach_addcmul_([out] * len(xs), list(xs), list(ys))
        return
    for xi, yi in zip(xs, ys, strict=True):
        out.addcmul_(xi, yi)
