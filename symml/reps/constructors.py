"""The basic representations: irreps, trivial, sign, standard, regular and quotient.

Each asks the group what it needs (its irrep keys, standard matrices, factors or point group);
none knows a particular group type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from symml.groups import Elements, FiniteGroup, Group, Inclusion, Trivial, inclusion
from symml.reps.irreps import validate_key
from symml.reps.product import factor_pullback
from symml.reps.rep import Irrep, Pullback, Rep, direct_sum


def irrep(group: Group, key: object) -> Rep:
    """The irrep ``key`` of ``group`` (its keys: ``group.irrep_keys()``).

    Example:
        >>> from symml.groups import Dihedral
        >>> rho = irrep(Dihedral(4), (1, 1))
        >>> rho.dim
        2
    """
    if group.point_group is not None:
        return Pullback(irrep(group.point_group, key), group)
    if group.product_factors:
        raise ValueError(
            f"irrep: the irreps of {group!r} are outer products of its factors' irreps: build "
            "them as pullback(irrep(G_i, k), group, factor=i).tensor(...)"
        )
    return Irrep(group, validate_key(group, key))


def trivial(group: Group) -> Rep:
    """The one-dimensional trivial representation ``g ↦ 1``."""
    if group.point_group is not None:
        return Pullback(trivial(group.point_group), group)
    if group.product_factors:
        return factor_pullback(trivial(group.product_factors[0]), group, 0)
    return Irrep(group, group.trivial_irrep_key)


def sign(group: Group) -> Rep:
    """The sign representation: the determinant for reflection groups (D_N, O(2), O(3), O(n)),
    ``r ↦ -1`` for C_N with N even, the sign of a permutation for S_n."""
    if group.point_group is not None:
        return Pullback(sign(group.point_group), group)
    key = group.sign_irrep_key
    if key is None:
        raise ValueError(
            f"sign: {group!r} has no sign representation (no index-2 subgroup symml knows)"
        )
    return Irrep(group, key)


@dataclass(frozen=True, repr=False)
class Standard(Rep):
    """The defining representation: the group's own matrices on R^n (`Group.matrices`:
    rotations for planar and 3-D groups, permutation matrices for S_n: ``ρ(σ) e_i = e_σ(i)``)."""

    group: Group

    def __post_init__(self) -> None:
        if self.group.standard_dim is not None:
            return
        if self.group.point_dim is None:
            raise ValueError(
                f"standard: {self.group!r} has no standard representation (it acts on no "
                f"space); use trivial({self.group!r}) for the one-dimensional rep"
            )
        raise ValueError(
            f"standard: {self.group!r} has no linear standard representation "
            "(translations act affinely); for E(n)/p4 use standard(E(n)), which is pulled "
            "back from the point group"
        )

    @property
    def dim(self) -> int:
        assert self.group.standard_dim is not None  # checked in __post_init__
        return self.group.standard_dim

    def _matrices(self, data: Tensor) -> Tensor:
        return self.group.matrices(Elements(self.group, data), dtype=torch.float64)

    def _lie(self) -> Tensor:
        return self.group.lie_algebra

    @property
    def bandlimit(self) -> int:
        return 1

    @property
    def is_permutation(self) -> bool:
        return self.group.standard_is_permutation

    def _expr(self) -> str:
        return f"standard({self.group!r})"


def standard(group: Group) -> Rep:
    """The standard (defining) representation; for ``T ⋊ H`` the one pulled back from ``H``
    (how vectors, e.g. velocities, transform under E(n)); for a direct product the sum of its
    factors' (e.g. points of R^3 and a 2-D frame)."""
    if group.point_group is not None:
        return Pullback(Standard(group.point_group), group)
    if group.product_factors:
        return direct_sum(
            *(factor_pullback(standard(f), group, i) for i, f in enumerate(group.product_factors))
        )
    return Standard(group)


@dataclass(frozen=True, repr=False)
class Quotient(Rep):
    """The permutation representation on the cosets G/H: ``ρ(g) e_{kH} = e_{gkH}``.
    ``quotient(G, Trivial())`` is the regular representation."""

    group: FiniteGroup
    subgroup: Group

    def __post_init__(self) -> None:
        if not isinstance(self.group, FiniteGroup):
            raise ValueError(f"quotient: expected a finite group (got {self.group!r})")
        if not isinstance(self.subgroup, FiniteGroup):
            raise ValueError(f"quotient: expected a finite subgroup (got {self.subgroup!r})")

    @cached_property
    def _inclusion(self) -> Inclusion:
        return inclusion(self.subgroup, self.group)

    @cached_property
    def _cosets(self) -> Tensor:
        """``coset[i]``: the coset index of element i (cosets numbered by smallest member)."""
        table = self.group.cayley_table
        assert isinstance(self.subgroup, FiniteGroup)
        sub = self.group.index_of(self._inclusion(self.subgroup.elements()))
        smallest = table[:, sub].min(1).values  # representative of g H
        return torch.unique(smallest, return_inverse=True)[1]

    @property
    def dim(self) -> int:
        assert isinstance(self.subgroup, FiniteGroup)
        return self.group.order // self.subgroup.order

    def _matrices(self, data: Tensor) -> Tensor:
        idx = self.group.index_of(Elements(self.group, data)).cpu()
        cosets = self._cosets
        reps = torch.stack([(cosets == c).nonzero()[0, 0] for c in range(self.dim)])
        image = cosets[self.group.cayley_table[idx][:, reps]]  # [B, cosets]: g kH ↦ coset
        out = torch.zeros(len(idx), self.dim, self.dim, dtype=torch.float64)
        out.scatter_(1, image[:, None, :], 1.0)
        return out.to(data.device)

    def _lie(self) -> Tensor:
        return torch.zeros(0, self.dim, self.dim, dtype=torch.float64)

    @property
    def bandlimit(self) -> int:
        return 0

    @property
    def is_permutation(self) -> bool:
        return True

    def _expr(self) -> str:
        if self.subgroup == Trivial():
            return f"regular({self.group!r})"
        return f"quotient({self.group!r}, {self.subgroup!r})"


def quotient(group: Group, subgroup: Group) -> Rep:
    """Permutation representation of a finite group on the cosets of ``subgroup``
    (dimension |G|/|H|)."""
    if not isinstance(group, FiniteGroup):
        raise ValueError(f"quotient: expected a finite group (got {group!r})")
    inclusion(subgroup, group)  # raises a clear error if it is not a subgroup
    return Quotient(group, subgroup)


def regular(group: Group) -> Rep:
    """The regular representation of a finite group: ``ρ(g) e_h = e_{gh}`` (dimension |G|)."""
    factors = group.product_factors
    if factors and group.order is not None:
        # regular(G × H) = regular(G) ⊠ regular(H), with elements in `DirectProduct.elements` order
        out = factor_pullback(regular(factors[0]), group, 0)
        for i, f in enumerate(factors[1:], start=1):
            out = out.tensor(factor_pullback(regular(f), group, i))
        return out
    if not isinstance(group, FiniteGroup):
        raise ValueError(
            f"regular: expected a finite group (got {group!r}, which is infinite); "
            "use a finite subgroup such as Cyclic(N) or Dihedral(N)"
        )
    return Quotient(group, Trivial())


def pullback(rep: Rep, group: Group, factor: int | None = None) -> Rep:
    """A representation of ``T ⋊ H`` pulled back from one of ``H``, or of a `DirectProduct`
    pulled back from one of its factors (``factor``: which one, needed when factors repeat).

    Example:
        >>> from symml.groups import Cyclic, O, direct_product
        >>> G = direct_product(O(3), Cyclic(4))
        >>> outer = pullback(standard(O(3)), G).tensor(pullback(regular(Cyclic(4)), G))
        >>> outer.dim
        12
    """
    if group.product_factors:
        return factor_pullback(rep, group, factor)
    if group.point_group is None:
        raise ValueError(
            "pullback: expected a SemidirectProduct such as E(3) or a DirectProduct "
            f"(got {group!r})"
        )
    if factor is not None:
        raise ValueError(f"pullback: factor= is for direct products; {group!r} is semidirect")
    return Pullback(rep, group)
