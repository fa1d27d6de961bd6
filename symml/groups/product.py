"""Direct products of groups: ``G_1 × ... × G_k``, elements ``(g_1, ..., g_k)`` multiplied factor
by factor.

An element is one row ``[g_1 data..., g_k data...]`` (each factor's raw data flattened): long when
every factor is finite, otherwise float (finite factors' indices are stored as exact floats and
read back as long). Representations come from the factors by pulling back along the projections
(``pullback(rho, G, factor=i)``); the tensor product of pull-backs is the outer product ρ ⊠ σ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from symml.groups.finite import FiniteGroup
from symml.groups.group import Elements, Group, IrrepKey, _check_same_group


@dataclass(frozen=True, repr=False)
class DirectProduct(Group):
    """The direct product ``factors[0] × factors[1] × ...`` (at least two factors).

    Its discrete generators are each factor's generators (the other components at the identity);
    its Lie algebra is the direct sum of the factors' Lie algebras, in factor order.

    Example:
        >>> from symml.groups import Cyclic, O
        >>> G = DirectProduct((O(3), Cyclic(4)))
        >>> G.order is None, G.lie_algebra_dim
        (True, 3)
        >>> a, b = G.project(G.sample(2, generator=torch.Generator().manual_seed(0)), 1).data
        >>> int(a) in range(4)
        True
    """

    factors: tuple[Group, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.factors, tuple) or len(self.factors) < 2:
            raise ValueError(
                "DirectProduct: expected a tuple of at least two groups, e.g. "
                f"DirectProduct((O(3), Cyclic(4))) (got {self.factors!r})"
            )
        for f in self.factors:
            if not isinstance(f, Group):
                raise TypeError(f"DirectProduct: expected Group factors (got {type(f).__name__})")

    # ----- layout ------------------------------------------------------------------------------
    @cached_property
    def _shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(f._identity(1, None).shape[1:]) for f in self.factors)

    @cached_property
    def _widths(self) -> tuple[int, ...]:
        return tuple(math.prod(s) for s in self._shapes)

    @cached_property
    def _continuous(self) -> tuple[bool, ...]:
        return tuple(bool(f._identity(0, None).is_floating_point()) for f in self.factors)

    def _split(self, data: Tensor) -> list[Tensor]:
        parts = []
        start = 0
        for shape, width, continuous in zip(
            self._shapes, self._widths, self._continuous, strict=True
        ):
            part = data[:, start : start + width].reshape(-1, *shape)
            if not continuous and part.is_floating_point():
                part = part.round().long()
            elif continuous and not part.is_floating_point():
                part = part.to(torch.get_default_dtype())
            parts.append(part)
            start += width
        return parts

    def _join(self, parts: list[Tensor]) -> Tensor:
        floats = [p for p in parts if p.is_floating_point()]
        dtype = floats[0].dtype if floats else torch.long
        for p in floats[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        pairs = zip(parts, self._widths, strict=True)
        return torch.cat([p.reshape(p.shape[0], w).to(dtype) for p, w in pairs], 1)

    # ----- raw operations ----------------------------------------------------------------------
    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return self._join([f._identity(n, device) for f in self.factors])

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        pairs = zip(self.factors, self._split(a), self._split(b), strict=True)
        return self._join([f._compose(x, y) for f, x, y in pairs])

    def _inverse(self, a: Tensor) -> Tensor:
        return self._join(
            [f._inverse(x) for f, x in zip(self.factors, self._split(a), strict=True)]
        )

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        pairs = zip(self.factors, self._split(a), self._split(b), strict=True)
        same = [f._equal(x, y) for f, x, y in pairs]
        out = same[0]
        for s in same[1:]:
            out = out & s
        return out

    def _validate(self, data: Tensor) -> Tensor:
        width = sum(self._widths)
        if data.dim() == 1 and data.shape[0] == width:
            data = data[None]
        if data.dim() != 2 or data.shape[1] != width:
            sizes = " + ".join(str(w) for w in self._widths)
            raise ValueError(
                f"{self!r}.element: expected rows of the factors' data ({sizes} values) of shape "
                f"[B, {width}] (got {list(data.shape)})"
            )
        return self._join(
            [f._validate(x) for f, x in zip(self.factors, self._split(data), strict=True)]
        )

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        return self._join([f._sample(n, generator, device) for f in self.factors])

    def _generators(self) -> Tensor:
        rows = []
        for i, f in enumerate(self.factors):
            gens = f._generators()
            parts = [g._identity(gens.shape[0], None) for g in self.factors]
            parts[i] = gens
            rows.append(self._join(parts))
        # float rows (from continuous factors) and long rows cannot be concatenated as they are
        dtype = torch.promote_types(rows[0].dtype, rows[-1].dtype)
        for r in rows:
            dtype = torch.promote_types(dtype, r.dtype)
        return torch.cat([r.to(dtype) for r in rows])

    @property
    def order(self) -> int | None:
        total = 1
        for f in self.factors:
            if f.order is None:
                return None
            total *= f.order
        return total

    def elements(self) -> Elements:
        """All elements (every factor finite), the last factor varying fastest."""
        if self.order is None:
            return super().elements()
        lists = [f.elements().data for f in self.factors]
        index = torch.cartesian_prod(*(torch.arange(len(x)) for x in lists))
        index = index.reshape(-1, len(lists))
        return Elements(self, self._join([x[index[:, i]] for i, x in enumerate(lists)]))

    def index_of(self, g: Elements) -> Tensor:
        """Positions ``[B]`` of ``g`` in `elements()` (every factor finite)."""
        _check_same_group(self, g, "index_of")
        if self.order is None:
            raise ValueError(f"index_of: {self!r} is infinite, so its elements have no index")
        index = torch.zeros(len(g), dtype=torch.long, device=g.device)
        for f, part in zip(self.factors, self._split(g.data), strict=True):
            assert isinstance(f, FiniteGroup)
            index = index * f.order + f.index_of(Elements(f, part))
        return index

    @property
    def lie_algebra_dim(self) -> int:  # type: ignore[override]
        return sum(f.lie_algebra_dim for f in self.factors)

    def exp(self, coeffs: Tensor) -> Elements:
        """``exp`` on ⊕ Lie(G_i) is ``exp`` on each factor (its block of coefficients)."""
        parts, start = [], 0
        for f in self.factors:
            width = f.lie_algebra_dim
            parts.append(f.exp(coeffs[:, start : start + width]))
            start += width
        return self.element_from(*parts)

    # ----- representations come from the factors ----------------------------------------------
    @property
    def product_factors(self) -> tuple[Group, ...]:
        return self.factors

    def _project(self, data: Tensor, index: int = 0) -> Tensor:
        return self._split(data)[index]

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        raise TypeError(
            f"irrep_keys: no irreps are tabulated for {self!r}; they are outer products of the "
            "factors' irreps"
        )

    # ----- factors -----------------------------------------------------------------------------
    def project(self, g: Elements, factor: int) -> Elements:
        """The projection onto factor ``factor``: ``(g_1, ..., g_k) ↦ g_factor``."""
        _check_same_group(self, g, "project")
        return Elements(self.factors[factor], self._split(g.data)[factor])

    def element_from(self, *parts: Elements) -> Elements:
        """The elements ``(g_1, ..., g_k)`` from one batch of elements per factor."""
        if len(parts) != len(self.factors):
            raise ValueError(
                f"element_from: expected {len(self.factors)} batches of elements, one per factor "
                f"of {self!r} (got {len(parts)})"
            )
        for f, p in zip(self.factors, parts, strict=True):
            _check_same_group(f, p, "element_from")
        return Elements(self, self._join([p.data for p in parts]))

    def describe(self, data: Tensor) -> str:
        parts = self._split(data)
        return (
            "(" + ", ".join(f.describe(p) for f, p in zip(self.factors, parts, strict=True)) + ")"
        )

    def __repr__(self) -> str:
        return "DirectProduct((" + ", ".join(repr(f) for f in self.factors) + "))"


def direct_product(*factors: Group) -> DirectProduct:
    """``G_1 × ... × G_k``; nested products are flattened (``(A × B) × C = A × B × C``)."""
    flat: list[Group] = []
    for f in factors:
        flat.extend(f.factors if isinstance(f, DirectProduct) else (f,))
    return DirectProduct(tuple(flat))
