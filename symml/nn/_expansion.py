"""The sparse linear map from free coefficients θ to an equivariant matrix W = Σ_k θ_k B_k.

Hom_G(⊕_a m_a·a, ⊕_b m_b·b) is block structured: the block between copy q of type a and copy p of
type b is Σ_k θ_{pqk} B^{ab}_k with one small basis B^{ab} per pair of types. Rather than storing
the dense basis ``[K, d_out, d_in]`` (gigabytes for EMLP widths), we store the non-zero entries of
every block once, as ``(row, column, coefficient index, value)`` lists; building W is then one
gather, one multiply and one ``index_add`` of length nnz, linear in what W actually contains.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.nn._types import field_types
from symml.reps import Rep, intertwiners


@dataclass(frozen=True)
class Expansion:
    """``W.flatten()[flat] += θ[coefficient] * value`` for every stored entry.

    Attributes:
        flat: ``[nnz]`` long, row-major index ``i * d_in + j`` into W ``[d_out, d_in]``.
        coefficient: ``[nnz]`` long, index into θ.
        value: ``[nnz]`` float64, the basis entry.
        size: number of free coefficients (= dim Hom_G(ρ_in, ρ_out)).
        std: ``[size]`` float64, the init scale of each coefficient that gives every output
            coordinate unit variance for unit-variance, uncorrelated inputs.
    """

    flat: Tensor
    coefficient: Tensor
    value: Tensor
    size: int
    std: Tensor


@functools.cache
def expansion(rep_in: Rep, rep_out: Rep) -> Expansion:
    """The sparse expansion of Hom_G(rep_in, rep_out) (memoised per pair of reps)."""
    d_in, d_out = rep_in.dim, rep_out.dim
    flats: list[Tensor] = []
    coeffs: list[Tensor] = []
    values: list[Tensor] = []
    size = 0
    for b in field_types(rep_out):
        for a in field_types(rep_in):
            basis = intertwiners(a.rep, b.rep)  # [k, d_b, d_a], memoised in symml.reps
            k = len(basis)
            if k == 0:
                continue
            kk, i, j = basis.nonzero(as_tuple=True)
            rows = b.indices()[:, i]  # [m_b, nnz]: output coordinate of each entry, per copy p
            cols = a.indices()[:, j]  # [m_a, nnz]
            m_b, m_a = b.copies, a.copies
            flats.append((rows[:, None, :] * d_in + cols[None, :, :]).reshape(-1))
            pq = torch.arange(m_b * m_a).reshape(m_b, m_a, 1)
            coeffs.append((size + pq * k + kk).reshape(-1))
            values.append(basis[kk, i, j].repeat(m_b * m_a))
            size += m_b * m_a * k
    if not flats:
        empty = torch.zeros(0, dtype=torch.long)
        return Expansion(empty, empty, torch.zeros(0, dtype=torch.float64), 0, torch.zeros(0))
    flat, coefficient, value = torch.cat(flats), torch.cat(coeffs), torch.cat(values)
    # E|W_i·x|² = Σ_{entries in row i} σ² v² for θ ~ N(0, σ²): scale each coefficient by the
    # mean energy of the output rows it writes to, so that every row has unit energy
    row = flat // d_in
    energy = torch.zeros(d_out, dtype=torch.float64).index_add_(0, row, value**2)
    touched = torch.zeros(size, dtype=torch.float64).index_add_(0, coefficient, energy[row])
    counts = torch.zeros(size, dtype=torch.float64).index_add_(
        0, coefficient, torch.ones_like(value)
    )
    std = (counts / touched).sqrt()
    return Expansion(flat, coefficient, value, size, std)


def assemble(
    exp_flat: Tensor,
    exp_coefficient: Tensor,
    exp_value: Tensor,
    theta: Tensor,
    shape: tuple[int, int],
) -> Tensor:
    """W ``[d_out, d_in]`` from coefficients ``theta [K]`` (differentiable in ``theta``)."""
    w = theta.new_zeros(shape[0] * shape[1])
    # index_select, not theta[idx]: its backward is an index_add, not a slower index_put
    w = w.index_add(0, exp_flat, theta.index_select(0, exp_coefficient) * exp_value)
    return w.view(shape)
