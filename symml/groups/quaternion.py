"""The quaternion group Q8 = {±1, ±i, ±j, ±k}: the worked example of docs/groups.md ("Adding a
group"), and the smallest group with an irrep of quaternionic type.

Element ``4s + u`` is ``(-1)^s q_u`` with the unit ``q_u`` = 1, i, j, k for u = 0, 1, 2, 3.
Q8 acts on R^4 = H by left multiplication, ``x ↦ g x``, a subgroup of SO(4).

Real irreps (the keys of `irrep_keys`):

- ``0``..``3``: one-dimensional, through Q8 / {±1} = {1, i, j, k} (the Klein four-group):
  ``χ_key(±q_u) = (-1)^{popcount(key & u)}``; ``0`` is the trivial one, and ``1``, ``2``, ``3``
  have kernels ⟨j⟩, ⟨i⟩, ⟨k⟩.
- ``4``: the four-dimensional ``H``, left multiplication itself (the standard representation).
  It is of quaternionic type: its commutant is H, so dim End_G(H) = 4.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups.finite import IndexedGroup
from symml.groups.group import Elements, IrrepKey, _check_same_group

# _MINUS[u][v]: whether q_u q_v is minus a unit (i j = k, j i = -k, i i = -1, ...); the unit
# itself is q_(u xor v)
_MINUS = ((0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 1, 0), (0, 0, 1, 1))
_NAMES = ("1", "i", "j", "k")


@functools.cache
def _left_multiplication() -> Tensor:
    """``L[u]``: the matrix of ``x ↦ q_u x`` on R^4 (basis 1, i, j, k), ``[4, 4, 4]`` float64."""
    mats = torch.zeros(4, 4, 4, dtype=torch.float64)
    for u in range(4):
        for v in range(4):
            mats[u, u ^ v, v] = -1.0 if _MINUS[u][v] else 1.0
    return mats


@dataclass(frozen=True)
class Quaternion(IndexedGroup):
    """Q8: the unit quaternions ±1, ±i, ±j, ±k under multiplication; element ``4s + u`` is
    ``(-1)^s q_u`` (``q_u`` = 1, i, j, k). Acts on R^4 = H by left multiplication."""

    point_dim = 4

    @property
    def order(self) -> int:
        return 8

    # ----- the group law, on element indices ``[B]`` -------------------------------------------
    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        sa, ua, sb, ub = a // 4, a % 4, b // 4, b % 4
        minus = torch.tensor(_MINUS, device=a.device)[ua, ub]
        return 4 * ((sa + sb + minus) % 2) + (ua ^ ub)

    def _inverse(self, a: Tensor) -> Tensor:
        s, u = a // 4, a % 4
        return 4 * ((s + (u != 0).long()) % 2) + u  # q⁻¹ is the conjugate: -q for q ≠ ±1

    def _generators(self) -> Tensor:
        return torch.tensor([1, 2])  # i and j

    def describe(self, data: Tensor) -> str:
        names = [("-" if i >= 4 else "") + _NAMES[i % 4] for i in data.tolist()]
        return "[" + ", ".join(names) + "]"

    # ----- the standard action: left multiplication on R^4 -------------------------------------
    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        _check_same_group(self, g, "matrices")
        return self.irrep_matrices(4, g.data).to(dtype or torch.get_default_dtype())

    # ----- real irreps ---------------------------------------------------------------------------
    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return [0, 1, 2, 3, 4]

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        s, u = data // 4, data % 4
        if key == 4:
            sign = 1.0 - 2.0 * s.double()
            return sign[:, None, None] * _left_multiplication().to(data.device)[u]
        assert isinstance(key, int)  # one of 0..3, checked by is_irrep_key
        counted = u & key
        parity = (counted ^ (counted >> 1)) & 1  # of the two bits of u that the key counts
        return (1.0 - 2.0 * parity.double())[:, None, None]

    def __repr__(self) -> str:
        return "Quaternion()"
