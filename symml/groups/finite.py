"""Finite groups: the shared machinery (element listing, indexing, Cayley table)."""

from __future__ import annotations

import abc
from functools import cached_property

import torch
from torch import Tensor

from symml.groups.group import Elements, Group


class FiniteGroup(Group):
    """A finite group. Every element has an index in ``0 .. order-1`` (its position in
    `elements()`), which regular and quotient representations use."""

    @property
    @abc.abstractmethod
    def order(self) -> int: ...

    @abc.abstractmethod
    def _all(self) -> Tensor:
        """Raw data of all elements, in index order."""

    @abc.abstractmethod
    def index_of(self, g: Elements) -> Tensor:
        """Indices ``[B]`` (long) of the elements ``g`` in `elements()`."""

    def elements(self) -> Elements:
        return Elements(self, self._all())

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        idx = torch.randint(self.order, (n,), generator=generator)
        return self._all()[idx].to(device) if device is not None else self._all()[idx]

    @cached_property
    def cayley_table(self) -> Tensor:
        """``table[i, j]`` = index of ``elements()[i] @ elements()[j]``, ``[|G|, |G|]`` long."""
        all_ = self._all()
        n = self.order
        a = all_.repeat_interleave(n, dim=0)
        b = all_.repeat(n, *([1] * (all_.dim() - 1)))
        return self.index_of(Elements(self, self._compose(a, b))).reshape(n, n)

    @cached_property
    def inverse_table(self) -> Tensor:
        """``inv[i]`` = index of the inverse of ``elements()[i]``, ``[|G|]`` long."""
        return self.index_of(Elements(self, self._inverse(self._all())))

    def character_table(self) -> Tensor:
        """``χ[i, j]`` = trace of irrep ``irrep_keys()[i]`` at ``elements()[j]``,
        ``[#irreps, |G|]`` float64. For real irreps ``(1/|G|) Σ_g χ_i(g) χ_j(g)`` is 0 for
        i ≠ j and ``dim End_G(ψ_i)`` (1, 2 or 4: real, complex or quaternionic type) for i = j."""
        data = self._all()
        traces = [
            self.irrep_matrices(k, data).diagonal(dim1=-2, dim2=-1).sum(-1)
            for k in self.irrep_keys()
        ]
        return torch.stack(traces)


class IndexedGroup(FiniteGroup):
    """A finite group whose raw elements are their indices (``[B]`` long tensors)."""

    def _all(self) -> Tensor:
        return torch.arange(self.order)

    def index_of(self, g: Elements) -> Tensor:
        return g.data

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.zeros(n, dtype=torch.long, device=device)

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        return a == b

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 0:
            data = data.reshape(1)
        if data.dim() != 1 or data.dtype.is_floating_point or data.dtype == torch.bool:
            raise ValueError(
                f"{self!r}.element: expected a 1-D integer tensor of element indices "
                f"(got dtype {data.dtype}, shape {list(data.shape)})"
            )
        if data.numel() and (int(data.min()) < 0 or int(data.max()) >= self.order):
            raise ValueError(
                f"{self!r}.element: expected indices in [0, {self.order - 1}] "
                f"(got values in [{int(data.min())}, {int(data.max())}])"
            )
        return data.long()
