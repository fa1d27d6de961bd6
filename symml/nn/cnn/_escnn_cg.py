"""escnn's Clebsch–Gordan coefficients of finite groups, computed without its per-call overhead.

Why this exists: escnn has closed forms for the Clebsch–Gordan (CG) coefficients of C_N, SO(2),
SO(3) and O(3), but solves them numerically for the other groups, the dihedral ones included, the
first time a kernel basis needs them: for D8, 343 systems of at most 8 unknowns per equation block,
each assembled from scipy sparse Kronecker sums and then re-checked against 20 random group
elements. That costs 10–15 s on a fresh install (about 40 ms a system, almost all of it scipy's
sparse-matrix bookkeeping), after which escnn caches the results as files inside its own package
directory.

Inside `solvers()` an equivalent solver stands in front of escnn's for finite groups with
generators (symml builds its steerable layers there; escnn's module is restored on exit). It
reproduces escnn's numbers, not just an equivalent basis (the kernel bases, and so the meaning of
every weight, depend on the exact CG matrices): the same constraint (the Sylvester equations of
the generators, assembled densely: the same matrix), escnn's own null-space routine, the same
normalisation and the same choice of one column per multiplicity. The result is checked against
every group element and memoised in memory; nothing is written to disk. Groups without finite
generators (O(2)), and any case this solver cannot settle, go to escnn's own solver.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

_ESCNN_MODULE = "escnn.group._clebsh_gordan"
_CG, _DECOMPOSITION = "_clebsh_gordan_tensor", "_find_tensor_decomposition"
_ESCNN_SOLVERS: dict[str, Callable[..., Any]] = {}
# how many threads are inside `solvers()`: the first one in patches escnn, the last one out
# restores it, so nested and concurrent blocks never restore while another still relies on it
_depth = 0
_lock = threading.Lock()


@contextlib.contextmanager
def solvers() -> Iterator[None]:
    """Inside the block, escnn's CG solver and tensor-product decomposition are `clebsch_gordan`
    and `tensor_decomposition`; escnn's own functions are back when the outermost block exits.

    escnn's ``group.py`` looks both up on its CG module at every call, so replacing them there is
    enough; outside these blocks escnn behaves as installed (the patch is process-wide while a
    block runs, hence the count).
    """
    global _depth
    module = importlib.import_module(_ESCNN_MODULE)
    ours = {_CG: clebsch_gordan, _DECOMPOSITION: tensor_decomposition}
    with _lock:
        if _depth == 0:
            for name, function in ours.items():
                _ESCNN_SOLVERS.setdefault(name, getattr(module, name))
                setattr(module, name, function)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name in ours:
                    setattr(module, name, _ESCNN_SOLVERS[name])


def escnn_solver(name: str = _CG) -> Callable[..., Any]:
    """escnn's own (disk-cached) function ``name`` of its CG module, also inside `solvers()`."""
    if name in _ESCNN_SOLVERS:
        return _ESCNN_SOLVERS[name]
    solver: Callable[..., Any] = getattr(importlib.import_module(_ESCNN_MODULE), name)
    return solver


def clebsch_gordan(
    first: tuple[Any, ...],
    second: tuple[Any, ...],
    out: tuple[Any, ...],
    group_class: str,
    **group_keys: Any,
) -> np.ndarray:
    """escnn's CG tensor of the irreps ``first ⊗ second → out`` (escnn irrep ids), shape
    ``[d_first, d_second, multiplicity, d_out]``; same arguments and result as escnn's solver."""
    solved = _solve(first, second, out, group_class, tuple(sorted(group_keys.items())))
    if solved is None:
        return escnn_solver()(first, second, out, group_class, **group_keys)
    return solved.copy()  # escnn's solver returns a fresh array per call


def tensor_decomposition(
    first: tuple[Any, ...], second: tuple[Any, ...], group_class: str, **group_keys: Any
) -> list[tuple[tuple[Any, ...], int]]:
    """escnn's decomposition of ``first ⊗ second`` into ``(irrep id, multiplicity)`` pairs, in the
    order of ``group.irreps()``, read off the CG tensors; same arguments and result as escnn's."""
    keys = tuple(sorted(group_keys.items()))
    group = _group(group_class, keys)
    if not _finite_with_generators(group_class, keys):
        return escnn_solver(_DECOMPOSITION)(first, second, group_class, **group_keys)
    pairs = []
    for psi in group.irreps():
        cg = clebsch_gordan(first, second, psi.id, group_class, **group_keys)
        if cg.shape[2] > 0:
            pairs.append((psi.id, cg.shape[2]))
    found = sum(group.irrep(*irrep).size * count for irrep, count in pairs)
    if found != group.irrep(*first).size * group.irrep(*second).size:
        return escnn_solver(_DECOMPOSITION)(first, second, group_class, **group_keys)
    return pairs


@functools.cache
def _solve(
    first: tuple[Any, ...],
    second: tuple[Any, ...],
    out: tuple[Any, ...],
    group_class: str,
    group_keys: tuple[tuple[str, Any], ...],
) -> np.ndarray | None:
    """The CG tensor, or None where escnn's own solver must decide."""
    if not _finite_with_generators(group_class, group_keys):
        return None  # escnn solves continuous groups from random samples: leave them to it
    group = _group(group_class, group_keys)
    psi_J, psi_l, psi_j = group.irrep(*first), group.irrep(*second), group.irrep(*out)
    size = psi_J.size * psi_l.size * psi_j.size

    constraint = _sylvester_constraint(
        *(_irrep_matrices(group_class, group_keys, ir, "generators") for ir in (first, second, out))
    )
    if size == 1:
        basis = np.ones((1, 1)) if not constraint.any() else np.zeros((1, 0))
    else:
        null = importlib.import_module("escnn.group._numerical").null
        basis = null(constraint, False, eps=1e-12)
    # The generators' equations define the intertwiners exactly; all elements confirm it.
    everywhere = _sylvester_constraint(
        *(_irrep_matrices(group_class, group_keys, ir, "elements") for ir in (first, second, out))
    )
    if not np.allclose(everywhere @ basis, 0.0):
        return None

    squares = psi_j.sum_of_squares_constituents
    columns = basis.shape[1]
    if columns % squares:
        return None
    cg = basis.reshape(psi_j.size, psi_J.size, psi_l.size, columns).transpose(1, 2, 3, 0)
    if columns == 0:
        return np.ascontiguousarray(cg)
    # escnn's normalisation, in its order of reductions (so the rounding is the same too)
    cg = cg / np.sqrt((cg**2).mean(2, keepdims=True).sum(1, keepdims=True).sum(0, keepdims=True))

    # Columns related by the endomorphisms of psi_j (complex/quaternionic irreps) span one copy of
    # psi_j: keep the first column of each such group, as escnn does.
    overlap = np.einsum("Jlsj,Jlti,kji->stk", cg, cg, psi_j.endomorphism_basis())
    linked = (overlap**2).sum(axis=2) > 1e-9
    copies, labels = connected_components(csr_matrix(linked), directed=False, return_labels=True)
    if copies * squares != columns:
        return None
    keep = np.array([np.flatnonzero(labels == c)[0] for c in range(copies)])
    cg = np.ascontiguousarray(cg[:, :, keep, :])
    flat = cg.reshape(-1, psi_j.size * copies)
    if not np.allclose(flat.T @ flat, np.eye(flat.shape[1])):
        return None
    return cg


def _sylvester_constraint(rho_J: np.ndarray, rho_l: np.ndarray, rho_j: np.ndarray) -> np.ndarray:
    """The stacked linear equations ``X (ψ_J ⊗ ψ_l)(g)ᵀ = ψ_j(g)ᵀ X`` on the row-major ``vec(X)``,
    ``X: [d_j, d_J d_l]``, for the elements g whose irrep matrices are stacked in ``rho_*``
    (``[n, d, d]``): the dense form of escnn's constraint, ``kronsum(ψ_J ⊗ ψ_l (g), −ψ_j(g)ᵀ)``
    per element, stacked."""
    n, d_j = rho_j.shape[0], rho_j.shape[1]
    jl = np.einsum("gik,gjl->gijkl", rho_J, rho_l).reshape(n, rho_J.shape[1] * rho_l.shape[1], -1)
    d_jl = jl.shape[1]
    left = np.einsum("ab,gcd->gacbd", np.eye(d_j), jl).reshape(n, d_j * d_jl, d_j * d_jl)
    right = np.einsum("gba,cd->gacbd", -rho_j, np.eye(d_jl)).reshape(n, d_j * d_jl, d_j * d_jl)
    # + 0.0 turns the -0.0 entries of the dense products into +0.0, as in escnn's sparse matrix
    # (which stores no zeros of its own): the SVD's choice of signs depends on signed zeros.
    return (left + right).reshape(n * d_j * d_jl, d_j * d_jl) + 0.0


@functools.cache
def _irrep_matrices(
    group_class: str, group_keys: tuple[tuple[str, Any], ...], irrep: tuple[Any, ...], which: str
) -> np.ndarray:
    """``[n, d, d]``: the matrices of one irrep at the group's generators or at all its elements."""
    group = _group(group_class, group_keys)
    psi = group.irrep(*irrep)
    elements = group.generators if which == "generators" else group.elements
    return np.stack([np.asarray(psi(g), dtype=np.float64) for g in elements])


@functools.cache
def _finite_with_generators(group_class: str, group_keys: tuple[tuple[str, Any], ...]) -> bool:
    """Whether escnn solves this group's CG equations from its generators alone (what we redo)."""
    group = _group(group_class, group_keys)
    try:
        generators = group.generators
    except ValueError:  # a continuous group
        return False
    return bool(generators) and group.order() > 0


@functools.cache
def _group(group_class: str, group_keys: tuple[tuple[str, Any], ...]) -> Any:
    return (
        importlib.import_module("escnn.group")
        .groups_dict[group_class]
        ._generator(**dict(group_keys))
    )
