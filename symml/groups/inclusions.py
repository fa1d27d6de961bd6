"""Subgroup inclusions ``H ⊂ G``, used to restrict representations.

Planar groups embed through O(2): C_M ⊂ C_N and D_M ⊂ D_N for M | N, C_N ⊂ D_N ⊂ O(2),
C_N ⊂ SO(2) ⊂ O(2); O(2) and its subgroups embed in O(3) as the rotations about an axis plus
the mirror reflection through a plane containing it (the rotation-only ones also in SO(3));
SO(3) ⊂ O(3); and point-group inclusions extend to p4 ⊂ p4m, SE(n) ⊂ E(n) and H ⊂ T ⋊ H
(at translation 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from symml.groups._tensors import wrap_angle
from symml.groups.group import Elements, Group, _check_same_group
from symml.groups.orthogonal import O3, SO3
from symml.groups.planar import Cyclic, Dihedral, Trivial, rotation_matrices
from symml.groups.planar_lie import O2, SO2
from symml.groups.semidirect import SemidirectProduct

_PLANAR = (Trivial, Cyclic, Dihedral, SO2, O2)


@dataclass(frozen=True)
class Inclusion:
    """The inclusion homomorphism ``sub → sup``. ``axis`` (unit vector) places planar groups in
    O(3)/SO(3). Call it on `Elements` of ``sub``; `lie_map` maps Lie algebras."""

    sub: Group
    sup: Group
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __call__(self, h: Elements) -> Elements:
        _check_same_group(self.sub, h, "Inclusion")
        return Elements(self.sup, _embed(self.sub, self.sup, h.data, self.axis))

    @property
    def lie_map(self) -> Tensor:
        """``[L_sub, L_sup]`` float64: row i gives sub's i-th Lie generator in sup's basis."""
        ls, lg = self.sub.lie_algebra_dim, self.sup.lie_algebra_dim
        if ls == 0:
            return torch.zeros(0, lg, dtype=torch.float64)
        if isinstance(self.sub, (SO2, O2)) and isinstance(self.sup, (SO3, O3)):
            return torch.tensor([self.axis], dtype=torch.float64)
        return torch.eye(ls, lg, dtype=torch.float64)

    def __repr__(self) -> str:
        axis = "" if self.axis == (0.0, 0.0, 1.0) else f", axis={self.axis}"
        return f"inclusion({self.sub!r}, {self.sup!r}{axis})"


def inclusion(
    sub: Group, sup: Group, axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
) -> Inclusion:
    """The inclusion of ``sub`` in ``sup``; ValueError when symml knows no such inclusion.

    Example:
        >>> from symml.groups import Cyclic, Dihedral
        >>> inc = inclusion(Cyclic(4), Dihedral(8))
        >>> inc(Cyclic(4).element([1])).data  # a quarter turn is r^2 in D_8
        tensor([2])
    """
    norm = math.sqrt(sum(a * a for a in axis))
    if len(axis) != 3 or norm < 1e-12:
        raise ValueError(f"inclusion: expected a non-zero 3-vector axis (got {axis!r})")
    if abs(norm - 1.0) < 1e-12:
        norm = 1.0  # already a unit vector: keep it bit for bit, so that repr round-trips
    axis_t = (float(axis[0] / norm), float(axis[1] / norm), float(axis[2] / norm))
    reason = _why_not(sub, sup)
    if reason:
        raise ValueError(
            f"inclusion: {sub!r} is not a subgroup of {sup!r} that symml knows: {reason}"
        )
    return Inclusion(sub, sup, axis_t)


def _rotation_only(g: Group) -> bool:
    return isinstance(g, (Trivial, Cyclic, SO2, SO3))


def _why_not(sub: Group, sup: Group) -> str:
    if sub == sup or isinstance(sub, Trivial):
        return ""
    if isinstance(sup, SemidirectProduct):
        if isinstance(sub, SemidirectProduct):
            if sub.lattice != sup.lattice:
                return "one acts on a lattice, the other on R^n"
            return _why_not(sub.point, sup.point)
        return _why_not(sub, sup.point)
    if isinstance(sub, SO3) and isinstance(sup, O3):
        return ""
    if not isinstance(sub, _PLANAR):
        return "no such inclusion is implemented"
    if isinstance(sup, (SO3, O3)):
        if isinstance(sup, SO3) and not _rotation_only(sub):
            return "reflections are not rotations (embed in O3() instead)"
        return ""
    if not isinstance(sup, _PLANAR):
        return "no such inclusion is implemented"
    if _rotation_only(sup) and not _rotation_only(sub):
        return "it contains reflections"
    if isinstance(sup, (SO2, O2)):
        return ""
    if isinstance(sub, (SO2, O2)):
        return "a continuous group is not a subgroup of a finite one"
    assert isinstance(sub, (Cyclic, Dihedral)) and isinstance(sup, (Cyclic, Dihedral))
    if sup.n % sub.n:
        return f"{sub.n} does not divide {sup.n}"
    return ""


def _to_o2(sub: Group, data: Tensor) -> Tensor:
    """Raw planar elements → raw O(2) elements ``[B, 2]`` (s, θ) in float64."""
    if isinstance(sub, Trivial):
        return torch.zeros(data.shape[0], 2, dtype=torch.float64, device=data.device)
    if isinstance(sub, Cyclic):
        theta = data.double() * (2 * math.pi / sub.n)
        return torch.stack([torch.zeros_like(theta), theta], -1)
    if isinstance(sub, Dihedral):
        s, k = data // sub.n, data % sub.n
        return torch.stack([s.double(), k.double() * (2 * math.pi / sub.n)], -1)
    if isinstance(sub, SO2):
        return torch.stack([torch.zeros_like(data), data], -1).double()
    return data.double()


def _from_o2(
    sup: Group, o2: Tensor, axis: tuple[float, float, float], dtype: torch.dtype
) -> Tensor:
    s, theta = o2[:, 0], o2[:, 1]
    if isinstance(sup, (Cyclic, Dihedral)):
        k = torch.round(wrap_angle(theta) * sup.n / (2 * math.pi)).long() % sup.n
        return k + (s.long() * sup.n if isinstance(sup, Dihedral) else 0)
    if isinstance(sup, SO2):
        return theta.to(dtype)
    if isinstance(sup, O2):
        return o2.to(dtype)
    # about `axis` in R^3: U maps e_z to the axis; planar part acts on U's first two columns
    u = _frame(axis).to(o2.device)
    # r_θ f^s: scaling column 1 by (1 - 2s) applies the reflection (x, y) ↦ (x, -y) first
    flip = torch.ones(len(theta), 2, dtype=torch.float64, device=o2.device)
    flip[:, 1] = 1 - 2 * s
    planar = rotation_matrices(theta) * flip[:, None, :]
    m = torch.zeros(len(theta), 3, 3, dtype=torch.float64, device=o2.device)
    m[:, :2, :2] = planar
    m[:, 2, 2] = 1.0
    return (u @ m @ u.T).to(dtype)


def _frame(axis: tuple[float, float, float]) -> Tensor:
    """An orthonormal, right-handed frame whose third column is ``axis``."""
    z = torch.tensor(axis, dtype=torch.float64)
    helper = torch.tensor(
        [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0], dtype=torch.float64
    )
    x = helper - (helper @ z) * z
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    return torch.stack([x, y, z], 1)


def _embed(sub: Group, sup: Group, data: Tensor, axis: tuple[float, float, float]) -> Tensor:
    if sub == sup:
        return data
    # integer (finite-group) data: land in float64 so restricted reps keep full precision
    float_dtype = data.dtype if data.is_floating_point() else torch.float64
    if isinstance(sup, SemidirectProduct):
        if isinstance(sub, SemidirectProduct):
            h, t = sub._split(data)
            h = _embed(sub.point, sup.point, h, axis)
            return sup._join(h, t)
        h = _embed(sub, sup.point, data, axis)
        t = sup.translations._identity(data.shape[0], data.device)
        # keep float64 elements float64 (`_join` casts the point part to the translations' dtype)
        return sup._join(h, t.to(h.dtype) if h.is_floating_point() and not sup.lattice else t)
    if isinstance(sup, O3) and isinstance(sub, SO3):
        return data
    if isinstance(sub, Trivial):
        return sup._identity(data.shape[0], data.device)
    return _from_o2(sup, _to_o2(sub, data), axis, float_dtype)
