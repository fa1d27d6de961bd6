"""`Rep`: representations as small immutable values, their algebra, and the irreps.

A representation is an expression tree (irrep, standard, regular, quotient, direct sum, tensor
product, dual, restriction, pull-back, change of basis). Equal trees are equal reps (equality and
hashing are structural, so memoised bases are shared); ``str(rep)`` is a Python expression that
`parse_rep` reads back. `Rep.decompose` finds the irreps and the change of basis Q with
``rep(g) = Q · (⊕ irreps)(g) · Qᵀ``, a `Decomposition` into `Irrep`s (both here, since the
algebra builds them).

In `symml.reps` this module stands above `decompose` and `intertwiners`, which need reps only
through the `RepBase` interface, and below the constructors and conversions built on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups import Elements, Group, Inclusion, IrrepKey, inclusion
from symml.reps._linalg import block_diag, embed_float64, kron
from symml.reps.base import RepBase, check_group
from symml.reps.decompose import candidate_keys, check_decomposable, decompose_into
from symml.reps.irreps import validate_key


class Rep(RepBase):
    """A real orthogonal representation ρ: G → O(d) of ``group``, with its algebra.

    Call it on `Elements` to get matrices: ``rep(g)`` is ``[B, d, d]`` (see `RepBase`). ``+``,
    ``k * rep``, `tensor`, `dual`, `restrict` and `decompose` build and take apart reps.
    """

    # ----- algebra -----------------------------------------------------------------------------
    def __add__(self, other: Rep) -> Rep:
        if not isinstance(other, Rep):
            return NotImplemented
        check_group(self, other, "+")
        return direct_sum(self, other)

    def __mul__(self, k: int) -> Rep:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"rep * k: expected a positive integer number of copies (got {k!r})")
        return direct_sum(*([self] * k))

    __rmul__ = __mul__

    def tensor(self, other: Rep) -> Rep:
        """The tensor product ``ρ ⊗ σ`` (dimension ``d_ρ d_σ``, row-major Kronecker)."""
        check_group(self, other, "tensor")
        if isinstance(self, Pullback) and isinstance(other, Pullback):
            return Pullback(self.rep.tensor(other.rep), self.group)
        return TensorProduct(self, other)

    def dual(self) -> Rep:
        """The dual ``g ↦ ρ(g⁻¹)ᵀ`` (equal to ρ for the orthogonal reps symml builds)."""
        if isinstance(self, Pullback):
            return Pullback(self.rep.dual(), self.group)
        return Dual(self)

    def restrict(self, subgroup: Group | Inclusion) -> Rep:
        """Restriction to a subgroup (a `Group`, with symml's default inclusion, or an
        `Inclusion`, e.g. ``inclusion(SO2(), SO3(), axis=(1, 0, 0))``)."""
        inc = subgroup if isinstance(subgroup, Inclusion) else inclusion(subgroup, self.group)
        if inc.sup != self.group:
            raise ValueError(
                f"restrict: the inclusion goes into {inc.sup!r}, but this rep is of {self.group!r}"
            )
        if inc.sub == self.group:
            return self
        if isinstance(self, Pullback):
            return _restrict_pullback(self, inc)
        return Restricted(self, inc)

    def decompose(self) -> Decomposition:
        """Irreps with multiplicities and an orthogonal Q with ``ρ(g) = Q (⊕ irreps)(g) Qᵀ``
        (see `symml.reps.decompose`)."""
        check_decomposable(self)
        return self._decompose()

    def _decompose(self) -> Decomposition:
        # against every irrep of the group up to this rep's band (overridden where it is known)
        candidates = [Irrep(self.group, k) for k in candidate_keys(self)]
        return Decomposition(*decompose_into(self, candidates))

    # as in RepBase, typed for Reps: the parts and solving rep of a Rep are Reps
    def _summands(self) -> tuple[Rep, ...]:
        return (self,)

    def _solving_rep(self) -> Rep:
        return self


@dataclass(frozen=True, repr=False)
class DirectSum(Rep):
    """ρ_1 ⊕ ... ⊕ ρ_k (block diagonal, in order)."""

    parts: tuple[Rep, ...]

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.parts[0].group

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts)

    def _matrices(self, data: Tensor) -> Tensor:
        return block_diag([p._matrices(data) for p in self.parts])

    def _lie(self) -> Tensor:
        return block_diag([p._lie() for p in self.parts])

    @property
    def bandlimit(self) -> int:
        return max(p.bandlimit for p in self.parts)

    @property
    def is_permutation(self) -> bool:
        return all(p.is_permutation for p in self.parts)

    def _summands(self) -> tuple[Rep, ...]:
        return self.parts

    def _expr(self) -> str:
        runs = [(part, len(list(same))) for part, same in itertools.groupby(self.parts)]
        return " + ".join(f"{n} * {part}" if n > 1 else str(part) for part, n in runs)


def direct_sum(*reps: Rep) -> Rep:
    """ρ_1 ⊕ ... ⊕ ρ_k, flattening nested sums (pull-backs stay pull-backs)."""
    if not reps:
        raise ValueError("direct_sum: expected at least one representation")
    for r in reps[1:]:
        check_group(reps[0], r, "direct_sum")
    if all(isinstance(r, Pullback) for r in reps):
        inner = direct_sum(*(r.rep for r in reps))  # type: ignore[attr-defined]
        return Pullback(inner, reps[0].group)
    flat: list[Rep] = []
    for r in reps:
        flat.extend(r.parts if isinstance(r, DirectSum) else (r,))
    return flat[0] if len(flat) == 1 else DirectSum(tuple(flat))


@dataclass(frozen=True, repr=False)
class TensorProduct(Rep):
    """ρ ⊗ σ: ``(ρ ⊗ σ)(g) = kron(ρ(g), σ(g))``."""

    left: Rep
    right: Rep

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.left.group

    @property
    def dim(self) -> int:
        return self.left.dim * self.right.dim

    def _matrices(self, data: Tensor) -> Tensor:
        return kron(self.left._matrices(data), self.right._matrices(data))

    def _lie(self) -> Tensor:
        a, b = self.left._lie(), self.right._lie()
        ia = torch.eye(a.shape[-1], dtype=a.dtype).expand_as(a)
        ib = torch.eye(b.shape[-1], dtype=b.dtype).expand_as(b)
        return kron(a, ib) + kron(ia, b)

    @property
    def bandlimit(self) -> int:
        return self.left.bandlimit + self.right.bandlimit

    @property
    def is_permutation(self) -> bool:
        return self.left.is_permutation and self.right.is_permutation

    def _expr(self) -> str:
        return f"tensor({self.left}, {self.right})"


class _Derived(Rep):
    """A rep built from one other rep ``self.rep`` with the same dimension and band."""

    rep: Rep

    @property
    def dim(self) -> int:
        return self.rep.dim

    @property
    def bandlimit(self) -> int:
        return self.rep.bandlimit

    @property
    def is_permutation(self) -> bool:
        return self.rep.is_permutation


@dataclass(frozen=True, repr=False)
class Dual(_Derived):
    """ρ*: ``g ↦ ρ(g⁻¹)ᵀ``."""

    rep: Rep

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.rep.group

    def _matrices(self, data: Tensor) -> Tensor:
        return self.rep._matrices(self.group._inverse(data)).transpose(-1, -2)

    def _lie(self) -> Tensor:
        return -self.rep._lie().transpose(-1, -2)

    def _expr(self) -> str:
        return f"dual({self.rep})"


@dataclass(frozen=True, repr=False)
class Restricted(_Derived):
    """ρ restricted to a subgroup: ``h ↦ ρ(ι(h))`` for the inclusion ι."""

    rep: Rep
    inclusion: Inclusion

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.inclusion.sub

    def _matrices(self, data: Tensor) -> Tensor:
        return self.rep._matrices(embed_float64(self.inclusion, data))

    def _lie(self) -> Tensor:
        sup = self.rep._lie()
        lie_map = self.inclusion.lie_map
        if lie_map.shape[0] == 0:
            return sup.new_zeros(0, self.dim, self.dim)
        return torch.einsum("ij,jkl->ikl", lie_map, sup)

    def _expr(self) -> str:
        axis = "" if self.inclusion.axis == (0.0, 0.0, 1.0) else f", axis={self.inclusion.axis}"
        return f"restrict({self.rep}, {self.group!r}{axis})"


@dataclass(frozen=True, repr=False)
class Pullback(_Derived):
    """A representation of ``T ⋊ H`` pulled back from one of ``H``: ``(h, t) ↦ ρ(h)``
    (translations act trivially on the fibre)."""

    rep: Rep
    group: Group

    def __post_init__(self) -> None:
        if self.rep.group != self.group.point_group:
            raise ValueError(
                f"pullback: expected a rep of the point group {self.group.point_group!r} "
                f"(got one of {self.rep.group!r})"
            )

    @property
    def point(self) -> Group:
        """The point group H whose rep this is pulled back from."""
        point = self.group.point_group
        assert point is not None  # checked in __post_init__
        return point

    def _matrices(self, data: Tensor) -> Tensor:
        return self.rep._matrices(self.group._project(data))

    def _lie(self) -> Tensor:
        return self.rep._lie()

    def _decompose(self) -> Decomposition:
        inner = self.rep.decompose()
        wrapped = tuple((Pullback(psi, self.group), m) for psi, m in inner.irreps)
        return Decomposition(wrapped, inner.change_of_basis)

    def _summands(self) -> tuple[Rep, ...]:
        parts = self.rep._summands()
        return (self,) if len(parts) == 1 else tuple(Pullback(p, self.group) for p in parts)

    def _solving_rep(self) -> Rep:
        # translations act trivially on every fibre rep symml builds, so a rep of T ⋊ H is
        # equivariant iff it is for H: solve on the point group (its generators are discrete + Lie)
        return self.rep

    def _expr(self) -> str:
        return f"pullback({self.rep}, {self.group!r})"


def _restrict_pullback(rep: Pullback, inc: Inclusion) -> Rep:
    sub_point = inc.sub.point_group
    if sub_point is not None:
        inner = inclusion(sub_point, rep.point, axis=inc.axis)
        return Pullback(rep.rep.restrict(inner), inc.sub)
    # a subgroup of the point group, placed at translation 0
    return rep.rep.restrict(inclusion(inc.sub, rep.point, axis=inc.axis))


@dataclass(frozen=True, repr=False)
class Irrep(Rep):
    """The irreducible representation ``key`` of ``group``: its matrices, dimension and band
    are the group's own (`symml.groups.Group.irrep_matrices`; the keys are listed there)."""

    group: Group
    key: IrrepKey

    def __post_init__(self) -> None:
        point = self.group.point_group
        if point is not None:
            raise ValueError(
                f"irrep: irreps of {self.group!r} used by symml are pulled back from its point "
                f"group: use pullback(irrep({point!r}, k), {self.group!r})"
            )
        object.__setattr__(self, "key", validate_key(self.group, self.key))

    @property
    def dim(self) -> int:
        return self.group.irrep_dim(self.key)

    def _matrices(self, data: Tensor) -> Tensor:
        return self.group.irrep_matrices(self.key, data)

    def _lie(self) -> Tensor:
        return self.group.irrep_lie(self.key)

    @property
    def bandlimit(self) -> int:
        return self.group.irrep_frequency(self.key)

    @property
    def is_permutation(self) -> bool:
        return self.key == self.group.trivial_irrep_key

    def _decompose(self) -> Decomposition:
        return Decomposition(((self, 1),), torch.eye(self.dim, dtype=torch.float64))

    def _expr(self) -> str:
        return f"irrep({self.group!r}, {self.key!r})"


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Irreps with multiplicities and the orthogonal change of basis.

    Attributes:
        irreps: ``((ψ_1, m_1), (ψ_2, m_2), ...)`` in the group's irrep order.
        change_of_basis: Q, ``[d, d]`` float64, orthogonal; column blocks follow ``irreps``.
    """

    irreps: tuple[tuple[Rep, int], ...]
    change_of_basis: Tensor

    @property
    def rep(self) -> Rep:
        """The block-diagonal rep ``⊕ ψ_i^{⊕m_i}`` (equivalent to the decomposed one)."""
        return direct_sum(*(m * psi for psi, m in self.irreps))

    def reconstruct(self, g: Elements, dtype: torch.dtype = torch.float64) -> Tensor:
        """``Q (⊕ ψ_i)(g) Qᵀ``, ``[B, d, d]`` — equals the decomposed rep at ``g``."""
        q = self.change_of_basis.to(device=g.device, dtype=dtype)
        return q @ self.rep(g, dtype=dtype) @ q.T

    def __str__(self) -> str:
        return " + ".join(f"{m}x{psi}" for psi, m in self.irreps)


def decompose(rep: Rep) -> Decomposition:
    """Decompose ``rep`` into irreps (numerically, through Hom_G(ψ, ρ) for each candidate ψ of
    the group); the same as ``rep.decompose()``. Representations above `MAX_REP_DIM`, or whose
    solves would cost more than one at `MAX_SOLVE_UNKNOWNS` unknowns, are refused up front with
    a ValueError (see `symml.reps.decompose`).

    Example:
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> print(decompose(regular(Cyclic(4))))
        1xirrep(Cyclic(4), 0) + 1xirrep(Cyclic(4), 1) + 1xirrep(Cyclic(4), 2)
    """
    return rep.decompose()
