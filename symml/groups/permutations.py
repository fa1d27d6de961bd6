"""The symmetric group S_n, acting on the nodes of graphs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from symml.groups import _young
from symml.groups.finite import FiniteGroup
from symml.groups.group import Elements, IrrepKey, _check_same_group

MAX_LISTED = 8
"""`Permutations(n).elements()` lists all n! permutations only for n <= 8 (40320 of them)."""


@dataclass(frozen=True)
class Permutations(FiniteGroup):
    """S_n: permutations of ``n`` nodes. An element is a ``[B, n]`` long tensor ``σ`` with
    ``σ[i]`` the image of node ``i``; ``(σ τ)[i] = σ[τ[i]]`` (apply τ first)."""

    n: int
    standard_is_permutation = True

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"Permutations: expected n >= 1 (got {self.n!r})")

    @property
    def order(self) -> int:
        return math.factorial(self.n)

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.arange(self.n, device=device).expand(n, self.n).clone()

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.gather(a, 1, b)

    def _inverse(self, a: Tensor) -> Tensor:
        return torch.argsort(a, dim=1)

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        return (a == b).all(1)

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 1 and data.shape[0] == self.n:
            data = data[None]
        if data.dim() != 2 or data.shape[1] != self.n or data.is_floating_point():
            raise ValueError(
                f"{self!r}.element: expected integer permutations of shape [B, {self.n}] "
                f"(got dtype {data.dtype}, shape {list(data.shape)})"
            )
        data = data.long()
        expected = torch.arange(self.n, device=data.device)
        if data.numel() and not bool((data.sort(1).values == expected).all()):
            raise ValueError(f"{self!r}.element: each row must be a permutation of 0..{self.n - 1}")
        return data

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        return torch.rand(n, self.n, generator=generator).argsort(1).to(device)

    def _generators(self) -> Tensor:
        if self.n == 1:
            return torch.zeros(0, 1, dtype=torch.long)
        swap = torch.arange(self.n)
        swap[[0, 1]] = swap[[1, 0]]
        cycle = torch.roll(torch.arange(self.n), -1)
        return torch.stack([swap, cycle])

    def _all(self) -> Tensor:
        if self.n > MAX_LISTED:
            raise ValueError(
                f"{self!r} has {self.order} elements; listing them is supported for n <= "
                f"{MAX_LISTED} — use sample(k) instead"
            )
        return torch.tensor(list(itertools.permutations(range(self.n))), dtype=torch.long)

    @cached_property
    def _codes(self) -> Tensor:
        return self._code(self._all())

    def _code(self, perms: Tensor) -> Tensor:
        weights = self.n ** torch.arange(self.n - 1, -1, -1, device=perms.device)
        return (perms * weights).sum(1)

    def index_of(self, g: Elements) -> Tensor:
        _check_same_group(self, g, "index_of")
        # lexicographic order of permutations is the numeric order of their base-n codes
        return torch.searchsorted(self._codes.to(g.device), self._code(g.data))

    # ----- the standard representation: permutation matrices on R^n ---------------------------
    @property
    def standard_dim(self) -> int:
        return self.n

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """Permutation matrices ``[B, n, n]``: ``ρ(σ) e_i = e_σ(i)`` (column i is e_σ(i))."""
        _check_same_group(self, g, "matrices")
        eye = torch.eye(self.n, dtype=dtype or torch.get_default_dtype(), device=g.device)
        return eye[:, g.data].permute(1, 0, 2)

    # ----- irreps: partitions of n, in Young's orthogonal form ----------------------------------
    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return list(_young.partitions(self.n))

    def is_irrep_key(self, key: object) -> bool:
        return isinstance(key, tuple) and key in _young.partitions(self.n)

    @property
    def irrep_key_hint(self) -> str:
        return f"expected a partition of {self.n} such as {_young.partitions(self.n)[0]}"

    def irrep_dim(self, key: IrrepKey) -> int:
        assert isinstance(key, tuple)  # a partition, checked by is_irrep_key
        return _young.hook_length_dimension(key)

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        assert isinstance(key, tuple)  # a partition, checked by is_irrep_key
        return _young.irrep_matrices(key, data).to(data.device)

    @property
    def trivial_irrep_key(self) -> IrrepKey:
        return (self.n,)

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        return (1,) * self.n if self.n > 1 else None

    def __repr__(self) -> str:
        return f"Permutations({self.n})"
