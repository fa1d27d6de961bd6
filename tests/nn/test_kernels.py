"""Every kernel of `symml.nn._kernels` against its reference, at the kernel boundary.

A kernel computes the same map as a reference written in ordinary differentiable torch ops, only
faster. Each `Case` holds one kernel call (``fused``), its reference and the inputs to feed both;
every case is checked for values and gradients against autograd on the reference (float32 and
float64), float64 ``gradcheck``, and double backward (a kernel differentiates its reference when
autograd asks for a differentiable backward), with the compiled contraction on and off
(`native.disabled()`) and, in float32, with every product sent through oneDNN. The layer tests
(test_linear.py, test_nonlinear.py, gnn/test_egnn.py, ...) then need not know the kernels exist.

Adding a kernel case is a few lines: write ``def _my_case(dtype) -> Case`` that builds the
module or weights (seeded), returns ``Case(fused, reference, inputs)`` with ``inputs`` the
tensors both callables take (those to differentiate with ``requires_grad``), and add it to
``CASES`` under an id. ``fused`` and ``reference`` may return a tensor or a tuple of tensors.
Set ``gradcheck=False`` for inputs too large for finite differences, ``prepare`` to patch module
constants first (it receives pytest's ``monkeypatch``).

Below the cases: the building blocks (contraction programs, `gemm`, `native.disabled`) on their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, NamedTuple

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import Tensor

from symml.groups import O
from symml.nn import EquivariantBilinear, EquivariantLinear, GatedNonlinearity, _kernels, gated
from symml.nn._kernels import contract, edge_ops, gemm, native
from symml.nn._kernels.gate import fused_gate
from symml.nn.bilinear import bilinear_paths
from symml.nn.gnn import knn_graph
from symml.nn.gnn._checks import in_degree_inverse
from symml.nn.gnn._edge_mlp import reference_edges
from symml.reps import Rep, standard, trivial
from symml.testing.strategies import GROUPS, reps

Out = Tensor | tuple[Tensor, ...]


class Case(NamedTuple):
    """One kernel call and its reference on the same inputs."""

    fused: Callable[..., Out]
    reference: Callable[..., Out]
    inputs: list[Tensor]
    gradcheck: bool = True
    prepare: Callable[[pytest.MonkeyPatch], None] | None = None


def _o3() -> tuple[Rep, Rep, Rep, Rep]:
    v, s = standard(O(3)), trivial(O(3))
    t2 = v.tensor(v)
    return s, v, t2, t2.tensor(v)


def _linear_case(rep_in: Rep, rep_out: Rep, batch: int = 3) -> Callable[[torch.dtype], Case]:
    def make(dtype: torch.dtype) -> Case:
        torch.manual_seed(0)
        layer = EquivariantLinear(rep_in, rep_out).to(dtype)
        bias = layer.bias_coefficients
        if bias is not None:
            with torch.no_grad():
                bias.normal_()
        layer.forward_t(torch.zeros(rep_in.dim, 1, dtype=dtype))  # makes its kernel
        kernel = layer._kernel_cache[dtype, torch.device("cpu")]

        def fused(xt: Tensor, theta: Tensor, beta: Tensor | None = None) -> Tensor:
            return _kernels.linear_t(kernel, layer.reference_t, xt, theta, beta)

        def reference(xt: Tensor, theta: Tensor, beta: Tensor | None = None) -> Tensor:
            return layer.reference_t(xt, theta, beta)

        xt = torch.randn(rep_in.dim, batch, dtype=dtype, requires_grad=True)
        params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
        return Case(fused, reference, [xt, *params])

    return make


def _bilinear_case(
    rep: Rep, residual: bool, theta_first: bool | None = None, rep_out: Rep | None = None
) -> Callable[[torch.dtype], Case]:
    def make(dtype: torch.dtype) -> Case:
        torch.manual_seed(0)
        layer = EquivariantBilinear(rep, rep if rep_out is None else rep_out).to(dtype)
        plan = _kernels.bilinear_plan(
            layer._paths, layer._types_in, layer._types_out, theta_first=theta_first
        )

        def fused(xt: Tensor, *thetas: Tensor) -> Tensor:
            return _kernels.bilinear_t(plan, layer.reference_t, xt, thetas, residual)

        def reference(xt: Tensor, *thetas: Tensor) -> Tensor:
            return layer.reference_t(xt, thetas, residual)

        xt = torch.randn(rep.dim, 4, dtype=dtype, requires_grad=True)
        thetas = [w.detach().clone().requires_grad_() for w in layer.weights]
        return Case(fused, reference, [xt, *thetas])

    return make


def _edges_case(
    opts: _kernels.EdgeOptions, nodes: int = 7, edge_dim: int = 0, chunked: bool = False
) -> Callable[[torch.dtype], Case]:
    """The edge pipeline with random weights of the shapes ``opts`` needs (features 4, hidden 6);
    ``chunked``: 300 nodes in chunks of 256 edges."""

    def make(dtype: torch.dtype) -> Case:
        gen = torch.Generator().manual_seed(0)

        def rand(*shape: int) -> Tensor:
            return torch.randn(*shape, generator=gen, dtype=dtype) / shape[-1] ** 0.5

        f, hidden, with_pos = 4, 6, opts.distance or opts.coords
        sizes: dict[str, tuple[int, ...] | None] = {
            "w_1": (hidden, 2 * f + int(opts.distance) + edge_dim),
            "b_1": (hidden,), "w_2": (hidden, hidden), "b_2": (hidden,),
            "w_att": (1, hidden) if opts.attention else None,
            "b_att": (1,) if opts.attention else None,
            "w_3": (hidden, hidden) if opts.coords else None,
            "b_3": (hidden,) if opts.coords else None,
            "w_4": (1, hidden) if opts.coords else None,
            "w_n1": (hidden, f + hidden) if opts.node else None,
            "b_n1": (hidden,) if opts.node else None,
            "w_n2": (f, hidden) if opts.node else None,
            "b_n2": (f,) if opts.node else None,
        }  # fmt: skip
        weights = [None if size is None else rand(*size) for size in sizes.values()]
        slots = [w is not None for w in weights]
        pos = torch.randn(nodes, 3, generator=gen, dtype=dtype)
        edge_index = knn_graph(pos, 3 if chunked else 4)
        inv_deg = in_degree_inverse(edge_index, nodes, dtype)
        h = torch.randn(nodes, f, generator=gen, dtype=dtype)
        attr = torch.randn(edge_index.shape[1], edge_dim, generator=gen, dtype=dtype)
        inputs = [h] + ([pos] if with_pos else []) + ([attr] if edge_dim else [])
        inputs += [w for w in weights if w is not None]

        def unpack(tensors: tuple[Tensor, ...]) -> tuple[Any, ...]:
            it = iter(tensors)
            h_t, pos_t = next(it), next(it) if with_pos else None
            attr_t = next(it) if edge_dim else None
            ws = _kernels.Weights(*(next(it) if slot else None for slot in slots))
            return opts, edge_index, inv_deg, h_t, pos_t, attr_t, ws

        def fused(*tensors: Tensor) -> Out:
            return _kernels.fused_edges(*unpack(tensors), reference=reference_edges)

        def reference(*tensors: Tensor) -> Out:
            return reference_edges(*unpack(tensors))

        def prepare(monkeypatch: pytest.MonkeyPatch) -> None:
            monkeypatch.setattr(edge_ops, "_CHUNK_ELEMENTS", 1)  # 256 edges per chunk

        return Case(
            fused,
            reference,
            [t.requires_grad_() for t in inputs],
            gradcheck=not chunked,
            prepare=prepare if chunked else None,
        )

    return make


def _gate_case(rep: Rep) -> Callable[[torch.dtype], Case]:
    """`GatedNonlinearity.forward_t`'s one-node gate (rep's scalars first, gates before them)."""

    def make(dtype: torch.dtype) -> Case:
        gate = GatedNonlinearity(rep).to(dtype)
        layout = gate._layout
        assert layout is not None  # the fused layout

        def fused(xt: Tensor) -> Tensor:
            return fused_gate(xt, layout, gate.reference_t)

        xt = torch.randn(gated(rep).dim, 4, dtype=dtype, requires_grad=True)
        return Case(fused, gate.reference_t, [xt])

    return make


_S, _V, _T2, _T3 = _o3()
_EGNN = _kernels.EdgeOptions(clamp=None, node=True, residual=True)
_GNN = _kernels.EdgeOptions(distance=False, coords=False, node=True, residual=True)
CASES: dict[str, Callable[[torch.dtype], Case]] = {
    # every pair of S, V, T(2), T(3) with a block (identities, traces, 15 T(3) → T(3) maps),
    # copies interleaved in and out
    "linear/interleaved": _linear_case(
        6 * _S + _V + _T2 + 2 * _S + 3 * _V + _T3 + _T2 + _S,
        _T2 + 4 * _S + 2 * _V + _T3 + _T2 + 3 * _S + _V,
    ),
    "linear/bias-only-types": _linear_case(_S, _T2 + _S + _T2, batch=1),
    # V → S is zero: the S outputs are the bias alone
    "linear/unwritten-outputs": _linear_case(_V, 2 * _S + _V),
    # V → V alone is a multiple of the identity: a product over copies; copies interleaved
    "linear/identity-blocks": _linear_case(_V + _S + _V, _V + _S + 2 * _V),
    # T(2) → V is zero for O(3): input rows no block reads get a zero gradient
    "linear/unread-inputs": _linear_case(_T2 + _V + _T2 + _V + _T2, _V),
    "bilinear/sorted-residual": _bilinear_case(2 * _S + 2 * _V + _T2 + _T3, residual=True),
    "bilinear/interleaved": _bilinear_case(_S + _V + _T2 + 2 * _S + _V + _T2, residual=False),
    "bilinear/theta-first": _bilinear_case(_V + _S + _T2 + _V, residual=True, theta_first=True),
    "bilinear/products-first": _bilinear_case(
        _V + _S + _T2 + _V, residual=False, theta_first=False
    ),
    "bilinear/rep-out": _bilinear_case(_S + _V + _T2, residual=False, rep_out=_V + 2 * _S),
    # no scalars: no path writes the T(2) outputs, the residual alone carries them
    "bilinear/unwritten-outputs": _bilinear_case(_V + _T2, residual=True),
    # EGNNConv's pipeline (positions, coordinate messages, φ_h), with each option
    "edges/egnn": _edges_case(_EGNN),
    "edges/egnn-attention-normalize-clamp": _edges_case(
        replace(_EGNN, attention=True, normalize=True, clamp=0.3)
    ),
    "edges/egnn-attributes-means": _edges_case(
        replace(_EGNN, messages_mean=True, coords_mean=False, residual=False), edge_dim=2
    ),
    "edges/egnn-chunked": _edges_case(replace(_EGNN, attention=True, clamp=0.3), 300, chunked=True),
    # GNNConv's (no positions), and the bare messages M, T (no φ_h)
    "edges/gnn": _edges_case(_GNN, edge_dim=2),
    "edges/gnn-chunked": _edges_case(replace(_GNN, messages_mean=True), 300, chunked=True),
    "edges/messages-only": _edges_case(replace(_EGNN, node=False, residual=False)),
    "gate/runs": _gate_case(3 * _S + 2 * _V + _T2 + _V + _T3),
    "gate/no-scalars": _gate_case(_V + _T2),
}


@pytest.fixture(params=["native", "stock"])
def contraction(request: pytest.FixtureRequest) -> Iterator[str]:
    """The compiled contraction kernel on (where it builds) and off."""
    with native.disabled() if request.param == "stock" else contextlib.nullcontext():
        yield request.param


def _outputs(out: Out) -> tuple[Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def _grads(fn: Callable[..., Out], inputs: list[Tensor], cotangents: list[Tensor]) -> list[Any]:
    outs = [o for o in _outputs(fn(*inputs)) if o.requires_grad]
    wanted = [t for t in inputs if t.requires_grad]
    return list(torch.autograd.grad(outs, wanted, cotangents, allow_unused=True))


def _build(name: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> Case:
    case = CASES[name](dtype)
    if case.prepare is not None:
        case.prepare(monkeypatch)
    return case


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_the_reference(
    name: str, dtype: torch.dtype, contraction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _build(name, dtype, monkeypatch)
    if dtype == torch.float32:  # every product through oneDNN, not only the large ones
        monkeypatch.setattr(gemm, "_MIN_MACS", 0)
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}
    fused, expected = _outputs(case.fused(*case.inputs)), _outputs(case.reference(*case.inputs))
    assert len(fused) == len(expected)
    for got, want in zip(fused, expected, strict=True):
        assert got.dtype == want.dtype == dtype
        torch.testing.assert_close(got, want, **tol)
    gen = torch.Generator().manual_seed(1)
    cotangents = [
        torch.randn(o.shape, generator=gen, dtype=dtype) for o in expected if o.requires_grad
    ]
    for got, want in zip(
        _grads(case.fused, case.inputs, cotangents),
        _grads(case.reference, case.inputs, cotangents),
        strict=True,
    ):
        if want is None:
            assert got is None or not got.abs().max() > 0
        else:
            torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n](torch.float64).gradcheck])
def test_gradcheck_and_double_backward_in_float64(
    name: str, contraction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _build(name, torch.float64, monkeypatch)
    assert torch.autograd.gradcheck(case.fused, case.inputs)
    # second derivatives along random directions (`fast_mode`): the full Jacobian of the
    # backward costs a backward pass per input entry, minutes for these cases
    assert torch.autograd.gradgradcheck(case.fused, case.inputs, fast_mode=True)


def _with_tensors(group_name: str) -> st.SearchStrategy[Rep]:
    """Reps that contain a field and its tensor square, so that products exist."""
    group = GROUPS[group_name]
    return reps(group, max_dim=4).map(lambda base: base + base.tensor(base) + trivial(group))


@pytest.mark.parametrize("name", ["O3", "D4", "S4", "O3xS3"])
@given(data=st.data())
def test_bilinear_kernel_on_random_reps(name: str, data: st.DataObject) -> None:
    """Reps whose types may be interleaved (V + S + V), in and out, with gradients."""
    group = GROUPS[name]
    base = data.draw(_with_tensors(name))
    extra = data.draw(reps(group, max_dim=6))
    rep_in = data.draw(st.sampled_from([base, extra + base, base + extra + base]))
    rep_out = data.draw(st.sampled_from([rep_in, extra + base, data.draw(reps(group, max_dim=8))]))
    assume(bilinear_paths(rep_in, rep_out))
    case = _bilinear_case(rep_in, residual=False, rep_out=rep_out)(torch.float64)
    torch.testing.assert_close(case.fused(*case.inputs), case.reference(*case.inputs))
    cot = [torch.randn(rep_out.dim, 4, dtype=torch.float64)]
    for got, want in zip(
        _grads(case.fused, case.inputs, cot), _grads(case.reference, case.inputs, cot), strict=True
    ):
        torch.testing.assert_close(got, want)


# The building blocks on their own: the per-sample contraction and the oneDNN products.


def _layout(sizes: tuple[int, ...], order: list[int], pad: int) -> tuple[int, tuple[int, ...]]:
    """A buffer layout of a 4-index operand: rows ``pad + Σ_d i_d·stride_d``, indices laid out
    outermost first in ``order``; returns (first row, strides in the operand's index order)."""
    strides, step = [0] * 4, 1
    for d in reversed(order):
        strides[d] = step
        step *= sizes[d]
    return pad, tuple(strides)


@st.composite
def _jobs(draw: st.DrawFn) -> tuple[Any, ...]:
    """One job with random sizes, operand layouts (index orders, rows around them) and base."""
    a1, a2, k1, k2, c1, c2 = (draw(st.integers(1 if i != 2 else 0, 4)) for i in range(6))
    base = draw(st.sampled_from(["zero", "accumulate", "init"]))
    orders = [draw(st.permutations(range(4))) for _ in range(4)]
    batch = draw(st.sampled_from([1, 5, 16, 63, 64, 65, 130, 500]))
    return (a1, a2, k1, k2, c1, c2), base, orders, batch


def _strided(
    buf: Tensor, view: contract.View, first: tuple[int, int], second: tuple[int, int]
) -> Tensor:
    n = buf.shape[1]
    strides = tuple(s * n for s in view.strides)
    return buf.as_strided((*first, *second, n), (*strides, 1), view.row * n)


@given(case=_jobs(), double=st.booleans(), stock=st.booleans())
def test_program_job_matches_einsum(case: tuple[Any, ...], double: bool, stock: bool) -> None:
    """Every operand a permuted two-level view of its buffer, rows around it; the compiled
    kernel and the stock ops (their one product, broadcast and unrolled loop branches)."""
    (a1, a2, k1, k2, c1, c2), base, orders, batch = case
    dtype = torch.float64 if double else torch.float32
    gen = torch.Generator().manual_seed(a1 + 10 * k1 + 100 * c1 + batch)
    shapes = {"x": (a1, a2, k1, k2), "y": (k1, k2, c1, c2), "out": (a1, a2, c1, c2)}
    views, buffers = {}, []
    for number, ((name, shape), order) in enumerate(zip(shapes.items(), orders, strict=False)):
        row, strides = _layout(shape, list(order), pad=2)
        views[name] = contract.View(number, row, strides)  # type: ignore[arg-type]
        buffers.append(
            torch.randn(4 + int(torch.tensor(shape).prod()), batch, generator=gen, dtype=dtype)
        )
    init = None
    if base == "init":  # the init operand: another buffer laid out like out
        init = contract.View(3, views["out"].row, views["out"].strides)
        buffers.append(torch.randn_like(buffers[2]))
    job = contract.Job(
        views["out"], views["x"], views["y"], (a1, a2, k1, k2, c1, c2), init, base == "accumulate"
    )
    before = [b.clone() for b in buffers]
    with native.disabled() if stock else contextlib.nullcontext():
        contract.run(contract.program([job]), buffers)
    x = _strided(before[0], views["x"], (a1, a2), (k1, k2)).double()
    y = _strided(before[1], views["y"], (k1, k2), (c1, c2)).double()
    expected = torch.einsum("pqkln,klrsn->pqrsn", x, y)
    if base == "accumulate":
        expected += _strided(before[2], views["out"], (a1, a2), (c1, c2)).double()
    elif init is not None:
        expected += _strided(before[3], init, (a1, a2), (c1, c2)).double()
    got = _strided(buffers[2], views["out"], (a1, a2), (c1, c2)).double()
    tol = 1e-12 if double else 1e-5
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)
    written = torch.zeros(buffers[2].shape[0], dtype=torch.bool)
    written[views["out"].row : views["out"].row + a1 * a2 * c1 * c2] = True
    assert torch.equal(buffers[2][~written], before[2][~written])  # the rows around: untouched
    for b, kept in zip(buffers[:2] + buffers[3:], before[:2] + before[3:], strict=True):
        assert torch.equal(b, kept)  # operands: untouched


@pytest.mark.parametrize("stock", [False, True], ids=["native", "stock"])
@pytest.mark.parametrize("batch", [7, 64, 300])
def test_program_runs_its_jobs_in_order_per_sample(batch: int, stock: bool) -> None:
    """A job reads what an earlier one wrote, another adds to it: ``u = x y``, ``v = u z``,
    ``u += x y``."""
    gen = torch.Generator().manual_seed(batch)
    x, y, z = (torch.randn(3, 3, batch, generator=gen, dtype=torch.float64) for _ in range(3))
    u, v = (
        torch.empty(3, 3, batch, dtype=torch.float64),
        torch.empty(3, 3, batch, dtype=torch.float64),
    )
    plain = (3, 0, 1, 0)

    def job(out: int, a: int, b: int, accumulate: bool = False) -> contract.Job:
        views = (contract.View(i, 0, plain) for i in (out, a, b))
        return contract.Job(*views, (3, 1, 3, 1, 3, 1), None, accumulate)  # type: ignore[call-arg]

    prog = contract.program([job(3, 0, 1), job(4, 3, 2), job(3, 0, 1, accumulate=True)])
    with native.disabled() if stock else contextlib.nullcontext():
        contract.run(prog, [t.view(9, batch) for t in (x, y, z, u, v)])
    first = torch.einsum("akn,kcn->acn", x, y)
    torch.testing.assert_close(v, torch.einsum("akn,kcn->acn", first, z))
    torch.testing.assert_close(u, 2 * first)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("shape", [(20, 9, 40), (3, 32, 27), (3, 1, 4)])
def test_stock_contraction_branches(shape: tuple[int, int, int], accumulate: bool) -> None:
    """The stock path's broadcast product and unrolled loop, on transposed operands."""
    a, k, c = shape
    for n in (6, 7000):  # small: broadcast (k > 8); large: the loop
        gen = torch.Generator().manual_seed(n)
        x = torch.randn(k, a, n, generator=gen, dtype=torch.float64).transpose(0, 1)
        y = torch.randn(c, k, n, generator=gen, dtype=torch.float64).transpose(0, 1)
        out = torch.randn(a, c, n, generator=gen, dtype=torch.float64)
        expected = torch.einsum("akn,kcn->acn", x, y) + (out if accumulate else 0)
        contract._contract_stock(out, x, y, accumulate)
        torch.testing.assert_close(out, expected)
    assert contract._broadcast(20, 9, 40, 6) and not contract._broadcast(20, 9, 40, 7000)


def test_disabled_nests_and_restores() -> None:
    buffers = [torch.randn(4, 8), torch.randn(4, 8), torch.empty(4, 8)]
    view = contract.View(2, 0, (1, 0, 0, 0))
    table = contract.program([contract.Job(view, view, view, (4, 1, 0, 0, 1, 1))]).table
    on = native.run_program(table, buffers)  # True where the kernel builds
    with native.disabled():
        with native.disabled():
            assert not native.run_program(table, buffers)
        assert not native.run_program(table, buffers)  # still off in the outer block
    assert native.run_program(table, buffers) == on
    with pytest.raises(RuntimeError), native.disabled():
        raise RuntimeError("restored on the way out of an exception too")
    assert native.run_program(table, buffers) == on


@pytest.mark.parametrize("threshold", [0, 1 << 60], ids=["onednn", "torch"])
def test_gemm_products_match_torch(monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    monkeypatch.setattr(gemm, "_MIN_MACS", threshold)
    torch.manual_seed(0)
    a, w, b = torch.randn(300, 40), torch.randn(70, 40), torch.randn(70)
    add = torch.randn(300, 70)
    expected = a @ w.t()
    torch.testing.assert_close(gemm.linear(a, w), expected)
    torch.testing.assert_close(gemm.linear(a, w, b), expected + b)
    torch.testing.assert_close(gemm.linear(a, w, b, add), expected + b + add)
    torch.testing.assert_close(gemm.linear(a[:, :20], w[:, ::2]), a[:, :20] @ w[:, ::2].t())
    torch.testing.assert_close(gemm.mm(a, w.t()), expected)  # transposed second operand
    torch.testing.assert_close(gemm.mm(a.t().contiguous().t(), w.t()), expected)
    torch.testing.assert_close(gemm.mm(a, w.t().contiguous()), expected)  # row-major b
    out = add.clone()
    gemm.addmm_(out[:, 10:30], a, w.t().contiguous()[:, 10:30])  # into a strided view
    torch.testing.assert_close(out[:, 10:30], add[:, 10:30] + expected[:, 10:30])
    torch.testing.assert_close(out[:, :10], add[:, :10])


def test_gemm_float64_and_strided_inputs_take_the_ordinary_path() -> None:
    torch.manual_seed(0)
    a, w = torch.randn(300, 40, dtype=torch.float64), torch.randn(70, 80, dtype=torch.float64)
    torch.testing.assert_close(gemm.linear(a, w[:, ::2]), a @ w[:, ::2].t())
