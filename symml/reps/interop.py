"""Conversions to and from e3nn (SO(3), O(3)) and escnn (C_N, D_N, SO(2), O(2)).

Each group says what its counterpart is, as plain data (`symml.groups.counterparts`); this module
builds the e3nn / escnn objects from it.

escnn is an optional extra (``pip install 'symml[steerable]'``, which needs a Fortran compiler
for its dependency py3nj); it is imported only when one of its converters is called.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import Tensor

from symml.groups import O3, Group
from symml.groups.counterparts import (
    E3nnCounterpart,
    EscnnCounterpart,
    e3nn_types,
    escnn_types,
    group_from_escnn,
)
from symml.reps.basis import change_basis
from symml.reps.constructors import irrep
from symml.reps.rep import DirectSum, Irrep, Rep, direct_sum


def _import_escnn_group() -> Any:
    try:
        return importlib.import_module("escnn.group")
    except ImportError as err:
        raise ImportError(
            "this feature needs escnn, an optional extra: pip install 'symml[steerable]' "
            "(its dependency py3nj needs a Fortran compiler, e.g. apt-get install gfortran)"
        ) from err


# ----- e3nn --------------------------------------------------------------------------------------
def from_e3nn(irreps: Any, group: Group | None = None) -> Rep:
    """A rep of O(3) (default) or SO(3) from e3nn irreps, e.g. ``"2x0e + 1x1o"``; same basis as
    e3nn's ``D_from_matrix``.

    Example:
        >>> from_e3nn("2x0e + 1x1o")
        2 * irrep(O3(), (0, 1)) + irrep(O3(), (1, -1))
    """
    from e3nn import o3

    group = O3() if group is None else group
    if not isinstance(group, E3nnCounterpart):
        raise ValueError(f"from_e3nn: expected group {_e3nn_groups()} (got {group!r})")
    try:
        parsed = o3.Irreps(irreps)
    except (ValueError, AssertionError) as err:
        raise ValueError(f"from_e3nn: cannot read e3nn irreps {irreps!r}: {err}") from err
    parts: list[Rep] = []
    for mul, ir in parsed:
        parts += [irrep(group, group.irrep_key_from_e3nn(ir.l, ir.p))] * mul
    if not parts:
        raise ValueError(f"from_e3nn: {irreps!r} is empty")
    return direct_sum(*parts)


def to_e3nn(rep: Rep, change_of_basis: bool = False) -> Any:
    """e3nn ``Irreps`` of an SO(3)/O(3) rep.

    A plain sum of irreps converts as it is. Otherwise pass ``change_of_basis=True`` to get
    ``(irreps, Q)`` with ``rep(g) = Q · irreps.D_from_matrix(g) · Qᵀ``. SO(3) irreps get the
    parity (-1)^l (so a vector is ``1o``).
    """
    from e3nn import o3

    group = rep.group
    if not isinstance(group, E3nnCounterpart):
        raise ValueError(f"to_e3nn: expected a rep of {_e3nn_groups()} (got one of {rep.group!r})")
    parts = rep.parts if isinstance(rep, DirectSum) else (rep,)
    if all(isinstance(p, Irrep) for p in parts):
        keys = [p.key for p in parts]  # type: ignore[attr-defined]
        q = torch.eye(rep.dim, dtype=torch.float64)
    elif change_of_basis:
        dec = rep.decompose()
        keys = [psi.key for psi, m in dec.irreps for _ in range(m)]  # type: ignore[attr-defined]
        q = dec.change_of_basis
    else:
        raise ValueError(
            f"to_e3nn: {rep} is not a plain sum of irreps; pass change_of_basis=True to get "
            "(irreps, Q) from its decomposition"
        )
    items = [(1, group.e3nn_irrep(k)) for k in keys]
    irreps = o3.Irreps(items).simplify() if items else o3.Irreps("")
    return (irreps, q) if change_of_basis else irreps


def _e3nn_groups() -> str:
    return " or ".join(f"{name}()" for name in sorted(e3nn_types()))


# ----- escnn -------------------------------------------------------------------------------------
def _escnn_counterpart(group: Group) -> EscnnCounterpart:
    if not isinstance(group, EscnnCounterpart):
        names = [t.__name__ for t in escnn_types()]
        supported = ", ".join(names[:-1]) + " and " + names[-1]
        raise ValueError(f"escnn interop supports {supported} (got {group!r})")
    return group


def escnn_group(group: Group, maximum_frequency: int = 3) -> Any:
    """The escnn group for a planar symml group (C_N, D_N, SO(2), O(2))."""
    eg = _import_escnn_group()
    spec = _escnn_counterpart(group).escnn_group_id(maximum_frequency)
    return getattr(eg, spec.factory)(*spec.args)


def escnn_element(group: Group, data: Tensor, escnn_g: Any) -> list[Any]:
    """escnn elements for raw symml elements (same convention: flip first, then rotate)."""
    return [escnn_g.element(p) for p in _escnn_counterpart(group).escnn_elements(data)]


def to_escnn(rep: Rep) -> Any:
    """An escnn ``Representation`` with the same matrices (irreps + change of basis)."""
    eg = _import_escnn_group()
    group = _escnn_counterpart(rep.group)
    dec = rep.decompose()
    g = escnn_group(rep.group, max(1, rep.bandlimit))
    ids = [group.escnn_irrep_id(psi.key) for psi, m in dec.irreps for _ in range(m)]  # type: ignore[attr-defined]
    q = dec.change_of_basis.numpy()
    return eg.Representation(g, f"symml[{rep}]", ids, change_of_basis=q)


def from_escnn(escnn_rep: Any) -> Rep:
    """A symml rep from an escnn ``Representation`` of C_N, D_N, SO(2) or O(2)."""
    g = escnn_rep.group
    group = group_from_escnn(type(g).__name__, g.order())
    if not isinstance(group, EscnnCounterpart):
        names = ", ".join(t.escnn_class for t in escnn_types())
        raise ValueError(f"from_escnn: supports escnn's {names} (got {g})")
    parts = [irrep(group, group.irrep_key_from_escnn(tuple(i))) for i in escnn_rep.irreps]
    base = direct_sum(*parts)
    q = torch.as_tensor(escnn_rep.change_of_basis, dtype=torch.float64)
    if torch.allclose(q, torch.eye(len(q), dtype=torch.float64), atol=1e-12):
        return base
    return change_basis(base, q)
