"""Conversions to and from e3nn (SO(3), O(3)) and escnn (C_N, D_N, SO(2), O(2)).

escnn is an optional extra (``pip install 'symml[steerable]'``, which needs a Fortran compiler
for its dependency py3nj); it is imported only when one of its converters is called.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import Tensor

from symml.groups import O2, O3, SO2, SO3, Cyclic, Dihedral, Group
from symml.reps.constructors import Irrep, irrep
from symml.reps.rep import DirectSum, Rep, change_basis, direct_sum


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
    if not isinstance(group, (O3, SO3)):
        raise ValueError(f"from_e3nn: expected group O3() or SO3() (got {group!r})")
    try:
        parsed = o3.Irreps(irreps)
    except (ValueError, AssertionError) as err:
        raise ValueError(f"from_e3nn: cannot read e3nn irreps {irreps!r}: {err}") from err
    parts: list[Rep] = []
    for mul, ir in parsed:
        key = (ir.l, ir.p) if isinstance(group, O3) else ir.l
        parts += [irrep(group, key)] * mul
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

    if not isinstance(rep.group, (O3, SO3)):
        raise ValueError(f"to_e3nn: expected a rep of O3() or SO3() (got one of {rep.group!r})")
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
    items = [(1, (k, (-1) ** k) if isinstance(rep.group, SO3) else k) for k in keys]
    irreps = o3.Irreps(items).simplify() if items else o3.Irreps("")
    return (irreps, q) if change_of_basis else irreps


# ----- escnn -------------------------------------------------------------------------------------
def escnn_group(group: Group, maximum_frequency: int = 3) -> Any:
    """The escnn group for a planar symml group (C_N, D_N, SO(2), O(2))."""
    eg = _import_escnn_group()
    if isinstance(group, Cyclic):
        return eg.cyclic_group(group.n)
    if isinstance(group, Dihedral):
        return eg.dihedral_group(group.n)
    if isinstance(group, SO2):
        return eg.so2_group(maximum_frequency)
    if isinstance(group, O2):
        return eg.o2_group(maximum_frequency)
    raise ValueError(f"escnn interop supports Cyclic, Dihedral, SO2 and O2 (got {group!r})")


def escnn_element(group: Group, data: Tensor, escnn_g: Any) -> list[Any]:
    """escnn elements for raw symml elements (same convention: flip first, then rotate)."""
    if isinstance(group, Cyclic):
        return [escnn_g.element(int(k)) for k in data.tolist()]
    if isinstance(group, Dihedral):
        return [escnn_g.element((int(i) // group.n, int(i) % group.n)) for i in data.tolist()]
    if isinstance(group, SO2):
        return [escnn_g.element(float(t)) for t in data.tolist()]
    return [escnn_g.element((int(s), float(t))) for s, t in data.tolist()]


def _escnn_id(group: Group, key: Any) -> Any:
    return (key,) if isinstance(group, (Cyclic, SO2)) else key


def to_escnn(rep: Rep) -> Any:
    """An escnn ``Representation`` with the same matrices (irreps + change of basis)."""
    eg = _import_escnn_group()
    group = rep.group
    dec = rep.decompose()
    g = escnn_group(group, max(1, rep.bandlimit))
    ids = [_escnn_id(group, psi.key) for psi, m in dec.irreps for _ in range(m)]  # type: ignore[attr-defined]
    q = dec.change_of_basis.numpy()
    return eg.Representation(g, f"symml[{rep}]", ids, change_of_basis=q)


def from_escnn(escnn_rep: Any) -> Rep:
    """A symml rep from an escnn ``Representation`` of C_N, D_N, SO(2) or O(2)."""
    eg = _import_escnn_group()
    g = escnn_rep.group
    if isinstance(g, eg.CyclicGroup):
        group: Group = Cyclic(g.order())
    elif isinstance(g, eg.DihedralGroup):
        group = Dihedral(g.order() // 2)
    elif isinstance(g, eg.SO2):
        group = SO2()
    elif isinstance(g, eg.O2):
        group = O2()
    else:
        raise ValueError(f"from_escnn: supports C_N, D_N, SO(2) and O(2) (got {g})")
    parts = []
    for irrep_id in escnn_rep.irreps:
        key = irrep_id[0] if isinstance(group, (Cyclic, SO2)) else tuple(irrep_id)
        parts.append(irrep(group, key))
    base = direct_sum(*parts)
    q = torch.as_tensor(escnn_rep.change_of_basis, dtype=torch.float64)
    if torch.allclose(q, torch.eye(len(q), dtype=torch.float64), atol=1e-12):
        return base
    return change_basis(base, q)
