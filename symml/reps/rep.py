"""`Rep`: representations as small immutable values, and their algebra.

A representation is an expression tree (irrep, standard, regular, quotient, direct sum, tensor
product, dual, restriction, pull-back, change of basis). Equal trees are equal reps (equality and
hashing are structural, so memoised bases are shared); ``str(rep)`` is a Python expression that
`parse_rep` reads back. `Rep.decompose` finds the irreps and the change of basis Q with
``rep(g) = Q · (⊕ irreps)(g) · Qᵀ``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from symml.groups import Elements, FiniteGroup, Group, Inclusion, SemidirectProduct, inclusion
from symml.groups.group import _check_same_group

if TYPE_CHECKING:
    from symml.reps.decompose import Decomposition

_TABLE_MAX_ORDER = 4096  # finite groups up to this order tabulate all matrices once
# ... unless the table [|G|, d, d] would pass this many entries (128 MiB of float64): the table of
# regular(Cyclic(1000)) alone would take 8 GB to save recomputing a few matrices
_TABLE_MAX_ENTRIES = 2**24


class Rep(abc.ABC):
    """A real orthogonal representation ρ: G → O(d) of ``group``.

    Call it on `Elements` to get matrices: ``rep(g)`` is ``[B, d, d]``.
    """

    group: Group

    @property
    @abc.abstractmethod
    def dim(self) -> int: ...

    @abc.abstractmethod
    def _matrices(self, data: Tensor) -> Tensor:
        """``ρ(g)`` for raw elements, ``[B, d, d]`` float64 on ``data``'s device."""

    @abc.abstractmethod
    def _lie(self) -> Tensor:
        """``dρ`` of the group's Lie algebra basis, ``[L, d, d]`` float64."""

    @property
    @abc.abstractmethod
    def bandlimit(self) -> int:
        """Largest irrep frequency that can occur (compact groups; 0 for finite ones)."""

    @property
    @abc.abstractmethod
    def is_permutation(self) -> bool:
        """Whether every ``ρ(g)`` is a permutation matrix."""

    # ----- evaluation --------------------------------------------------------------------------
    def __call__(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """Matrices ``[B, d, d]`` of the elements ``g``, in ``dtype`` (default: the elements'
        float dtype, else torch's default) on ``g``'s device."""
        _check_same_group(self.group, g, f"{self}")
        if dtype is None:
            dtype = g.data.dtype if g.data.is_floating_point() else torch.get_default_dtype()
        if (
            isinstance(self.group, FiniteGroup)
            and self.group.order <= _TABLE_MAX_ORDER
            and self.group.order * self.dim**2 <= _TABLE_MAX_ENTRIES
        ):
            table = self._table.to(device=g.device)
            return table[self.group.index_of(g)].to(dtype)
        return self._matrices(g.data).to(dtype)

    @cached_property
    def _table(self) -> Tensor:
        assert isinstance(self.group, FiniteGroup)
        return self._matrices(self.group.elements().data)

    def character(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        """χ(g) = trace ρ(g), ``[B]``, in ``dtype`` (default as for ``rep(g)``)."""
        return torch.diagonal(self(g, dtype=dtype), dim1=-2, dim2=-1).sum(-1)

    def lie_algebra(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """dρ of the group's Lie algebra basis (`Group.lie_algebra`), ``[L, d, d]``."""
        return self._lie().to(dtype)

    # ----- algebra -----------------------------------------------------------------------------
    def __add__(self, other: Rep) -> Rep:
        if not isinstance(other, Rep):
            return NotImplemented
        _check_group(self, other, "+")
        return direct_sum(self, other)

    def __mul__(self, k: int) -> Rep:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"rep * k: expected a positive integer number of copies (got {k!r})")
        return direct_sum(*([self] * k))

    __rmul__ = __mul__

    def tensor(self, other: Rep) -> Rep:
        """The tensor product ``ρ ⊗ σ`` (dimension ``d_ρ d_σ``, row-major Kronecker)."""
        _check_group(self, other, "tensor")
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
        """Irreps with multiplicities and an orthogonal Q with ``ρ(g) = Q (⊕ irreps)(g) Qᵀ``."""
        from symml.reps.decompose import decompose

        return decompose(self)

    def __str__(self) -> str:
        return self._expr()

    def __repr__(self) -> str:
        return self._expr()

    @abc.abstractmethod
    def _expr(self) -> str: ...


def _check_group(a: Rep, b: object, op: str) -> None:
    if not isinstance(b, Rep):
        raise TypeError(f"{op}: expected a Rep (got {type(b).__name__})")
    if a.group != b.group:
        raise ValueError(
            f"{op}: representations of different groups ({a.group!r} and {b.group!r}); "
            "restrict one of them first"
        )


def _block_diag(blocks: list[Tensor]) -> Tensor:
    """Block-diagonal of batched matrices ``[B, d_i, d_i]`` → ``[B, Σd, Σd]``."""
    b = blocks[0].shape[0]
    d = sum(x.shape[-1] for x in blocks)
    out = blocks[0].new_zeros(b, d, d)
    i = 0
    for x in blocks:
        n = x.shape[-1]
        out[:, i : i + n, i : i + n] = x
        i += n
    return out


def _kron(a: Tensor, b: Tensor) -> Tensor:
    """Batched Kronecker product ``[B, m, m] ⊗ [B, n, n] → [B, mn, mn]``."""
    return torch.einsum("bij,bkl->bikjl", a, b).reshape(a.shape[0], *(a.shape[1] * b.shape[1],) * 2)


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
        return _block_diag([p._matrices(data) for p in self.parts])

    def _lie(self) -> Tensor:
        return _block_diag([p._lie() for p in self.parts])

    @property
    def bandlimit(self) -> int:
        return max(p.bandlimit for p in self.parts)

    @property
    def is_permutation(self) -> bool:
        return all(p.is_permutation for p in self.parts)

    def _expr(self) -> str:
        terms: list[str] = []
        i = 0
        while i < len(self.parts):
            j = i
            while j + 1 < len(self.parts) and self.parts[j + 1] == self.parts[i]:
                j += 1
            count = j - i + 1
            terms.append(f"{count} * {self.parts[i]}" if count > 1 else str(self.parts[i]))
            i = j + 1
        return " + ".join(terms)


def direct_sum(*reps: Rep) -> Rep:
    """ρ_1 ⊕ ... ⊕ ρ_k, flattening nested sums (pull-backs stay pull-backs)."""
    if not reps:
        raise ValueError("direct_sum: expected at least one representation")
    for r in reps[1:]:
        _check_group(reps[0], r, "direct_sum")
    if all(isinstance(r, Pullback) for r in reps):
        inner = direct_sum(*(r.rep for r in reps))  # type: ignore[attr-defined]
        return Pullback(inner, reps[0].group)  # type: ignore[arg-type]
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
        return _kron(self.left._matrices(data), self.right._matrices(data))

    def _lie(self) -> Tensor:
        a, b = self.left._lie(), self.right._lie()
        ia = torch.eye(a.shape[-1], dtype=a.dtype).expand_as(a)
        ib = torch.eye(b.shape[-1], dtype=b.dtype).expand_as(b)
        return _kron(a, ib) + _kron(ia, b)

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
        return self.rep._matrices(_embed_float64(self.inclusion, data))

    def _lie(self) -> Tensor:
        sup = self.rep._lie()
        lie_map = self.inclusion.lie_map
        if lie_map.shape[0] == 0:
            return sup.new_zeros(0, self.dim, self.dim)
        return torch.einsum("ij,jkl->ikl", lie_map, sup)

    def _expr(self) -> str:
        axis = "" if self.inclusion.axis == (0.0, 0.0, 1.0) else f", axis={self.inclusion.axis}"
        return f"restrict({self.rep}, {self.group!r}{axis})"


def _embed_float64(inc: Inclusion, data: Tensor) -> Tensor:
    """Raw elements of ``inc.sup`` for raw elements of ``inc.sub``, computed in float64: an
    embedding in float32 (e.g. about a tilted axis) would put ~1e-8 errors into ρ(g) even when
    ρ is evaluated in float64. (Integer C_N / D_N data already lands in float64.)"""
    return inc(Elements(inc.sub, data.double() if data.is_floating_point() else data)).data


@dataclass(frozen=True, repr=False)
class Pullback(_Derived):
    """A representation of ``T ⋊ H`` pulled back from one of ``H``: ``(h, t) ↦ ρ(h)``
    (translations act trivially on the fibre)."""

    rep: Rep
    group: SemidirectProduct

    def __post_init__(self) -> None:
        if self.rep.group != self.group.point:
            raise ValueError(
                f"pullback: expected a rep of the point group {self.group.point!r} "
                f"(got one of {self.rep.group!r})"
            )

    def _matrices(self, data: Tensor) -> Tensor:
        h, _ = self.group._split(data)
        return self.rep._matrices(h)

    def _lie(self) -> Tensor:
        return self.rep._lie()

    def _expr(self) -> str:
        return f"pullback({self.rep}, {self.group!r})"


def _restrict_pullback(rep: Pullback, inc: Inclusion) -> Rep:
    sub = inc.sub
    if isinstance(sub, SemidirectProduct):
        inner = inclusion(sub.point, rep.group.point, axis=inc.axis)
        return Pullback(rep.rep.restrict(inner), sub)
    # a subgroup of the point group, placed at translation 0
    return rep.rep.restrict(inclusion(sub, rep.group.point, axis=inc.axis))


@dataclass(frozen=True, repr=False)
class ChangeOfBasis(_Derived):
    """``g ↦ Q ρ(g) Qᵀ`` for an orthogonal matrix Q (stored as nested tuples, so hashable)."""

    rep: Rep
    matrix: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        q = self.q
        if q.shape != (self.rep.dim, self.rep.dim):
            raise ValueError(
                f"change_basis: expected a {self.rep.dim}x{self.rep.dim} matrix "
                f"(got {list(q.shape)})"
            )
        deviation = float((q @ q.T - torch.eye(len(q), dtype=q.dtype)).abs().max())
        if deviation > 1e-8:
            raise ValueError(
                "change_basis: expected an orthogonal matrix (Q Qᵀ = I up to 1e-8; got "
                f"max |Q Qᵀ - I| = {deviation:.3g}); orthonormalise it in float64, e.g. with "
                "torch.linalg.qr"
            )

    @property
    def q(self) -> Tensor:
        return torch.tensor(self.matrix, dtype=torch.float64)

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.rep.group

    def _matrices(self, data: Tensor) -> Tensor:
        q = self.q.to(data.device)
        return q @ self.rep._matrices(data) @ q.T

    def _lie(self) -> Tensor:
        return self.q @ self.rep._lie() @ self.q.T

    @property
    def is_permutation(self) -> bool:
        q = self.q
        is_perm = bool(((q == 0) | (q == 1)).all()) and bool((q.sum(0) == 1).all())
        return is_perm and self.rep.is_permutation

    def _expr(self) -> str:
        return f"change_basis({self.rep}, {[list(row) for row in self.matrix]})"


def change_basis(rep: Rep, q: Tensor | list[list[float]]) -> Rep:
    """The equivalent rep ``g ↦ Q ρ(g) Qᵀ`` for an orthogonal ``Q [d, d]``."""
    mat = torch.as_tensor(q, dtype=torch.float64)
    if mat.dim() != 2:
        raise ValueError(f"change_basis: expected a matrix (got shape {list(mat.shape)})")
    if isinstance(rep, Pullback):
        return Pullback(change_basis(rep.rep, mat), rep.group)
    return ChangeOfBasis(rep, tuple(tuple(float(x) for x in row) for row in mat.tolist()))
