"""Rotation groups of R^n as matrix groups: SO3, O3 and, for n >= 4, SpecialOrthogonal(n),
Orthogonal(n). Elements are orthogonal matrices ``[B, n, n]``. Use `SO(n)` / `O(n)` to get the
right class for any n (SO2 / O2 store angles instead, see `symml.groups.planar_lie`).

Real irreps (the keys of `irrep_keys`): ``SO3()``: ``l >= 0``; ``O3()``: ``(l, p)`` with parity
``p = ±1`` (e3nn's "le" / "lo"): the Wigner D matrices in e3nn's real basis (for l = 1 that is
x, y, z). For n >= 4 only the one-dimensional ones are tabulated: ``SpecialOrthogonal(n)``: ``0``;
``Orthogonal(n)``: ``(0, ±1)`` (the determinant for -1); intertwiners are solved from the Lie
algebra without them.
"""

from __future__ import annotations

import abc
import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups._keys import FrequencyKeys, int_key, is_natural, need_bandlimit, pair_key
from symml.groups._tensors import float_tolerance
from symml.groups._wigner import so3_generators, wigner_d
from symml.groups.counterparts import E3nnCounterpart
from symml.groups.group import Elements, Group, IrrepKey, _check_same_group
from symml.groups.planar_lie import O2, SO2


def so_n_basis(n: int) -> Tensor:
    """Basis ``[n(n-1)/2, n, n]`` (float64) of so(n): ``E_ji - E_ij`` for i < j. For n = 3 the
    order is (L_x, L_y, L_z), the generators of rotations about the x, y, z axes."""
    if n == 3:
        basis = torch.zeros(3, 3, 3, dtype=torch.float64)
        for i, j, k in itertools.permutations(range(3)):
            basis[i, j, k] = -float(torch.linalg.det(torch.eye(3, dtype=torch.float64)[[i, j, k]]))
        return basis
    pairs = list(itertools.combinations(range(n), 2))
    basis = torch.zeros(len(pairs), n, n, dtype=torch.float64)
    for m, (i, j) in enumerate(pairs):
        basis[m, j, i], basis[m, i, j] = 1.0, -1.0
    return basis


def haar_orthogonal(n: int, batch: int, generator: torch.Generator | None) -> Tensor:
    """Haar-random matrices of O(n), ``[B, n, n]`` (QR of a Gaussian with the sign fix)."""
    a = torch.randn(batch, n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]


class _MatrixGroup(Group):
    special: bool = True

    @property
    @abc.abstractmethod
    def n(self) -> int:
        """The dimension of the space the matrices act on."""

    @property
    def point_dim(self) -> int:  # type: ignore[override]
        return self.n

    @property
    def lie_algebra_dim(self) -> int:  # type: ignore[override]
        return self.n * (self.n - 1) // 2

    @property
    def order(self) -> None:
        return None

    @property
    def lie_algebra(self) -> Tensor:
        return so_n_basis(self.n)

    def _identity(self, n: int, device: torch.device | None) -> Tensor:
        return torch.eye(self.n, device=device).expand(n, self.n, self.n).clone()

    def _compose(self, a: Tensor, b: Tensor) -> Tensor:
        return a @ b

    def _inverse(self, a: Tensor) -> Tensor:
        return a.transpose(-1, -2)

    def _equal(self, a: Tensor, b: Tensor) -> Tensor:
        return (a - b).abs().flatten(1).amax(1) < float_tolerance(a.dtype)

    def _validate(self, data: Tensor) -> Tensor:
        if data.dim() == 2:
            data = data[None]
        n = self.n
        if data.dim() != 3 or data.shape[1:] != (n, n):
            raise ValueError(
                f"{self!r}.element: expected matrices of shape [B, {n}, {n}] "
                f"(got {list(data.shape)})"
            )
        data = data if data.is_floating_point() else data.to(torch.get_default_dtype())
        tol = 1e-4 if data.dtype != torch.float64 else 1e-8
        eye = torch.eye(n, dtype=data.dtype, device=data.device)
        if data.numel() and (data @ data.transpose(-1, -2) - eye).abs().max() > tol:
            raise ValueError(f"{self!r}.element: expected orthogonal matrices (R Rᵀ = I)")
        if self.special and data.numel() and (torch.linalg.det(data) < 0).any():
            raise ValueError(f"{self!r}.element: expected rotations (det R = +1), got a reflection")
        return data

    def _sample(
        self, n: int, generator: torch.Generator | None, device: torch.device | None
    ) -> Tensor:
        q = haar_orthogonal(self.n, n, generator)
        if self.special:
            # flipping one column maps the det = -1 coset onto SO(n), keeping Haar measure
            neg = torch.linalg.det(q) < 0
            q[neg, :, 0] = -q[neg, :, 0]
        return q.to(device=device)

    def _generators(self) -> Tensor:
        if self.special:
            return torch.zeros(0, self.n, self.n)
        return (
            -torch.eye(self.n)[None]
            if self.n % 2
            else torch.diag(torch.tensor([-1.0] + [1.0] * (self.n - 1)))[None]
        )

    def matrices(self, g: Elements, dtype: torch.dtype | None = None) -> Tensor:
        _check_same_group(self, g, "matrices")
        return g.data.to(dtype or g.data.dtype)

    def exp(self, coeffs: Tensor) -> Elements:
        return self.element(
            torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", coeffs, self.lie_algebra))
        )

    def describe(self, data: Tensor) -> str:
        return f"<{data.shape[0]} matrices {self.n}x{self.n}>"

    @property
    def trivial_irrep_key(self) -> IrrepKey:
        return 0 if self.special else (0, 1)

    @property
    def sign_irrep_key(self) -> IrrepKey | None:
        return None if self.special else (0, -1)


class _Rotations3(_MatrixGroup, E3nnCounterpart):
    """SO(3) and O(3): the irreps of degree l are e3nn's Wigner D matrices (times the parity p at
    reflections for O(3)); a key is ``l`` (SO(3)) or ``(l, p)`` (O(3))."""

    @property
    def n(self) -> int:
        return 3

    def _degree_parity(self, key: IrrepKey) -> tuple[int, int]:
        return (int_key(key), 1) if self.special else pair_key(key)

    def irrep_dim(self, key: IrrepKey) -> int:
        return 2 * self._degree_parity(key)[0] + 1

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        deg, p = self._degree_parity(key)
        mats = data.double()
        det = torch.linalg.det(mats).sign()
        # g = det·R with R a rotation: ρ_(l,p)(g) = D_l(R) · p^[det < 0]
        out = wigner_d(deg, det[:, None, None] * mats)
        return out * torch.where(det < 0, float(p), 1.0)[:, None, None] if p == -1 else out

    def irrep_lie(self, key: IrrepKey) -> Tensor:
        return so3_generators(self._degree_parity(key)[0])

    def irrep_frequency(self, key: IrrepKey) -> int:
        return self._degree_parity(key)[0]


@dataclass(frozen=True)
class SO3(FrequencyKeys, _Rotations3):
    """SO(3): rotations of R^3, elements are rotation matrices ``[B, 3, 3]``."""

    def e3nn_irrep(self, key: IrrepKey) -> tuple[int, int]:
        # e3nn's irreps are those of O(3): a rep of SO(3) gets the parity of its vectors, (-1)^l
        return int_key(key), (-1) ** int_key(key)

    def irrep_key_from_e3nn(self, l: int, p: int) -> IrrepKey:  # noqa: E741 - e3nn's name
        return l

    def __repr__(self) -> str:
        return "SO3()"


@dataclass(frozen=True)
class O3(_Rotations3):
    """O(3): rotations and reflections of R^3, elements are orthogonal matrices ``[B, 3, 3]``.
    Its discrete generator is the inversion ``-I``."""

    special = False

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return [(deg, p) for deg in range(need_bandlimit(self, bandlimit) + 1) for p in (1, -1)]

    def is_irrep_key(self, key: object) -> bool:
        return isinstance(key, tuple) and len(key) == 2 and is_natural(key[0]) and key[1] in (1, -1)

    @property
    def irrep_key_hint(self) -> str:
        return "expected (l, p) with l >= 0 and parity p = 1 or -1"

    def e3nn_irrep(self, key: IrrepKey) -> tuple[int, int]:
        return pair_key(key)

    def irrep_key_from_e3nn(self, l: int, p: int) -> IrrepKey:  # noqa: E741 - e3nn's name
        return (l, p)

    def __repr__(self) -> str:
        return "O3()"


@dataclass(frozen=True)
class SpecialOrthogonal(_MatrixGroup):
    """SO(n) for n >= 4 as a matrix group (irreps are not tabulated; intertwiners are solved
    from the Lie algebra directly)."""

    dim: int

    def __post_init__(self) -> None:
        _check_dim(self.dim, "SpecialOrthogonal", "SO2() / SO3()")

    @property
    def n(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return f"SpecialOrthogonal({self.dim})"


@dataclass(frozen=True)
class Orthogonal(_MatrixGroup):
    """O(n) for n >= 4 as a matrix group; its discrete generator is a reflection."""

    dim: int
    special = False

    def __post_init__(self) -> None:
        _check_dim(self.dim, "Orthogonal", "O2() / O3()")

    @property
    def n(self) -> int:
        return self.dim

    def irrep_keys(self, bandlimit: int | None = None) -> list[IrrepKey]:
        return [(0, 1), (0, -1)]

    def irrep_matrices(self, key: IrrepKey, data: Tensor) -> Tensor:
        if key == (0, -1):
            return torch.linalg.det(data.double())[:, None, None].sign()
        return super().irrep_matrices(key, data)

    def __repr__(self) -> str:
        return f"Orthogonal({self.dim})"


def _check_dim(n: int, name: str, small: str) -> None:
    if not isinstance(n, int) or n < 4:
        raise ValueError(
            f"{name}: expected n >= 4 (got {n!r}); for n = 2, 3 use {small}, or SO(n)/O(n)"
        )


def SO(n: int) -> Group:  # noqa: N802 - the mathematical name
    """The rotation group SO(n): `SO2`, `SO3`, or `SpecialOrthogonal(n)`."""
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"SO: expected n >= 2 (got {n!r})")
    return {2: SO2(), 3: SO3()}.get(n) or SpecialOrthogonal(n)


def O(n: int) -> Group:  # noqa: N802, E743 - the mathematical name
    """The orthogonal group O(n): `O2`, `O3`, or `Orthogonal(n)`."""
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"O: expected n >= 2 (got {n!r})")
    return {2: O2(), 3: O3()}.get(n) or Orthogonal(n)
