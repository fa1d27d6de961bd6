"""Numerical checks of the group and representation laws, raising AssertionError with detail."""

from __future__ import annotations

import torch
from torch import Tensor

from symml.groups import Elements, FiniteGroup, Group
from symml.reps import Pullback, Rep

_EXHAUSTIVE_MAX_ORDER = 64  # finite groups up to this order are checked on every triple


def _elements(group: Group, elements: Elements | None, n: int, seed: int) -> Elements:
    if elements is not None:
        return elements
    if group.order is not None and group.order <= _EXHAUSTIVE_MAX_ORDER:
        return group.elements()
    return group.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _fail(what: str, detail: str) -> None:
    raise AssertionError(f"{what}: {detail}")


def assert_group_axioms(
    group: Group, elements: Elements | None = None, n: int = 16, seed: int = 0
) -> None:
    """Identity, inverse, associativity and closure on ``elements`` (all of a small finite group,
    else ``n`` samples in float64); for finite groups the Cayley table must be a Latin square,
    and for those of order <= 64 associative on every triple."""
    g = _elements(group, elements, n, seed)
    k = len(g)
    e = group.identity(k, device=g.device)
    if g.data.is_floating_point():
        e = Elements(group, e.data.to(g.data.dtype))
    if not bool(((e @ g) == g).all() and ((g @ e) == g).all()):
        _fail("identity", f"e·g = g·e = g fails for {group!r}")
    if not bool(((g @ ~g) == e).all() and ((~g @ g) == e).all()):
        _fail("inverse", f"g·g⁻¹ = e fails for {group!r}")
    a, b, c = (
        g,
        g[torch.randperm(k, generator=torch.Generator().manual_seed(seed + 1))],
        g[torch.randperm(k, generator=torch.Generator().manual_seed(seed + 2))],
    )
    if not bool((((a @ b) @ c) == (a @ (b @ c))).all()):
        _fail("associativity", f"(ab)c = a(bc) fails for {group!r}")
    try:
        group.element((a @ b).data)  # validation: products are elements
    except ValueError as err:
        _fail("closure", f"a product left {group!r}: {err}")
    if isinstance(group, FiniteGroup) and group.order <= 512:
        table = group.cayley_table
        expected = torch.arange(group.order)
        rows_ok = bool((table.sort(1).values == expected).all())
        cols_ok = bool((table.sort(0).values == expected[:, None]).all())
        if not (rows_ok and cols_ok):
            _fail("closure", f"the Cayley table of {group!r} is not a Latin square")
        if group.order <= _EXHAUSTIVE_MAX_ORDER:
            # the sampled triples above are only |G| of the |G|³: check them all on the table
            bad = (table[table] != table[:, table]).nonzero()  # [a, b, c]: (ab)c vs a(bc)
            if len(bad):
                a_i, b_i, c_i = bad[0].tolist()
                _fail(
                    "associativity",
                    f"(ab)c = a(bc) fails for {group!r} at the elements with indices "
                    f"a={a_i}, b={b_i}, c={c_i}",
                )


def assert_homomorphism(
    rep: Rep, elements: Elements | None = None, n: int = 16, atol: float = 1e-9, seed: int = 0
) -> None:
    """ρ(e) = I, ρ(gh) = ρ(g)ρ(h), ρ(g⁻¹) = ρ(g)⁻¹ = ρ(g)ᵀ (orthogonality) in float64, and for
    Lie groups that dρ is the derivative of ρ: ρ(exp(tX)) ≈ exp(t dρ(X))."""
    group = rep.group
    g = _elements(group, elements, n, seed)
    h = g[torch.randperm(len(g), generator=torch.Generator().manual_seed(seed + 1))]
    f64 = torch.float64
    rg, rh = rep(g, dtype=f64), rep(h, dtype=f64)
    eye = torch.eye(rep.dim, dtype=f64, device=rg.device)
    e = group.identity(1, device=g.device)
    checks = {
        "identity ρ(e) = I": (rep(e, dtype=f64)[0] - eye).abs().max(),
        "homomorphism ρ(gh) = ρ(g)ρ(h)": (rep(g @ h, dtype=f64) - rg @ rh).abs().max(),
        "inverse ρ(g⁻¹) = ρ(g)ᵀ": (rep(~g, dtype=f64) - rg.transpose(-1, -2)).abs().max(),
        "orthogonality ρ(g)ρ(g)ᵀ = I": (rg @ rg.transpose(-1, -2) - eye).abs().max(),
    }
    for what, err in checks.items():
        if not float(err) <= atol:
            _fail(what, f"error {float(err):.3g} > {atol:g} for {rep}")
    _check_lie(rep, atol)


def _check_lie(rep: Rep, atol: float) -> None:
    inner = rep.rep if isinstance(rep, Pullback) else rep
    group = inner.group
    if group.lie_algebra_dim == 0:
        return
    t = 1e-3
    coeffs = torch.eye(group.lie_algebra_dim, dtype=torch.float64) * t
    g = group.exp(coeffs)
    expected = torch.linalg.matrix_exp(t * inner.lie_algebra())
    err = float((inner(g, dtype=torch.float64) - expected).abs().max())
    if not err <= max(atol, 1e-8):
        _fail("Lie algebra ρ(exp(tX)) = exp(t dρ(X))", f"error {err:.3g} for {rep}")


def assert_intertwiner(
    w: Tensor, rep_in: Rep, rep_out: Rep, elements: Elements | None = None, atol: float = 1e-8
) -> None:
    """ρ_out(g) W = W ρ_in(g) for ``W [d_out, d_in]`` (or a basis ``[k, d_out, d_in]``)."""
    if w.shape[-2:] != (rep_out.dim, rep_in.dim):
        raise ValueError(
            f"assert_intertwiner: expected W of shape [..., {rep_out.dim}, {rep_in.dim}] "
            f"(got {list(w.shape)})"
        )
    g = _elements(rep_in.group, elements, 16, 0)
    a = rep_out(g, dtype=w.dtype)
    b = rep_in(g, dtype=w.dtype)
    w_b = w if w.dim() == 3 else w[None]
    if w_b.shape[0] == 0:
        return  # an empty basis: no map to check
    err = (a[:, None] @ w_b[None] - w_b[None] @ b[:, None]).abs().max()
    if not float(err) <= atol:
        _fail("intertwiner ρ_out(g) W = W ρ_in(g)", f"error {float(err):.3g} > {atol:g}")
