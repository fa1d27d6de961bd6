"""Real irreducible representations of each group, in closed form (or via e3nn / Young).

Keys (the ``k`` of ``irrep(G, k)``):

- ``Trivial()``, ``Translations``, ``SemidirectProduct`` ``0`` (other reps of the last are pulled
  back from the point group); ``SpecialOrthogonal(n)``: ``0``; ``Orthogonal(n)``: ``(0, ±1)``.
- ``Cyclic(N)``: ``k`` in 0..N//2; ``r ↦ R(2πk/N)`` (2-D) or ``(-1)`` for k = N/2, 1 for k = 0.
- ``Dihedral(N)``: ``(j, k)``: ``(0, 0)`` trivial, ``(1, 0)`` sign of the reflection, ``(1, k)`` 2-D
  for 0 < k < N/2 with ``r^m f^s ↦ R(2πkm/N) F^s``, and for even N ``(j, N/2)``: ``r ↦ -1``,
  ``f ↦ (-1)^j``. (escnn's ids and matrices.)
- ``SO2()``: frequency ``k >= 0``: ``θ ↦ R(kθ)``. ``O2()``: ``(0, 0)``, ``(1, 0)`` (det),
  ``(1, k)``.
- ``SO3()``: ``l >= 0``; ``O3()``: ``(l, p)`` with parity ``p = ±1`` (e3nn's "le"/"lo"): the
  Wigner D matrices in e3nn's real basis (for l = 1 that is x, y, z).
- ``Permutations(n)``: a partition of n, e.g. ``(3, 1)``, in Young's orthogonal form.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import cast

import torch
from torch import Tensor

from symml.groups import (
    O2,
    O3,
    SO2,
    SO3,
    Cyclic,
    Dihedral,
    Group,
    Orthogonal,
    Permutations,
    SemidirectProduct,
    SpecialOrthogonal,
    Translations,
    Trivial,
    _young,
)
from symml.groups.planar import rotation_matrices

Key = int | tuple[int, ...]


def _int(key: Key) -> int:
    assert isinstance(key, int)  # guaranteed by validate_key for this group
    return key


def _pair(key: Key) -> tuple[int, int]:
    assert isinstance(key, tuple) and len(key) == 2  # guaranteed by validate_key
    return key[0], key[1]


_J = ((0.0, -1.0), (1.0, 0.0))
_F = ((1.0, 0.0), (0.0, -1.0))


def irrep_keys(group: Group, bandlimit: int | None = None) -> list[Key]:
    """All irreps of a finite group, or those of frequency <= ``bandlimit`` for a compact one."""
    if isinstance(group, (Trivial, Translations, SemidirectProduct, SpecialOrthogonal)):
        return [0]
    if isinstance(group, Orthogonal):
        return [(0, 1), (0, -1)]
    if isinstance(group, Cyclic):
        return list(range(group.n // 2 + 1))
    if isinstance(group, Dihedral):
        n = group.n
        keys: list[Key] = [(0, 0), (1, 0)]
        keys += [(1, k) for k in range(1, (n + 1) // 2)]
        return keys + ([(0, n // 2), (1, n // 2)] if n % 2 == 0 else [])
    if isinstance(group, Permutations):
        return list(_young.partitions(group.n))
    if bandlimit is None:
        raise ValueError(f"irrep_keys: {group!r} has infinitely many irreps; pass a bandlimit")
    if isinstance(group, SO2):
        return list(range(bandlimit + 1))
    if isinstance(group, O2):
        planar: list[Key] = [(0, 0), (1, 0)]
        return planar + [(1, k) for k in range(1, bandlimit + 1)]
    if isinstance(group, SO3):
        return list(range(bandlimit + 1))
    if isinstance(group, O3):
        return [(deg, p) for deg in range(bandlimit + 1) for p in (1, -1)]
    raise TypeError(f"irrep_keys: no irreps are tabulated for {group!r}")


def validate_key(group: Group, key: object) -> Key:
    """Normalise ``key`` (lists → tuples) and check it names an irrep of ``group``."""
    if isinstance(key, list):
        key = tuple(key)
    ok = False
    if isinstance(group, (SO2, SO3)):
        ok = isinstance(key, int) and not isinstance(key, bool) and key >= 0
    elif isinstance(group, O2):
        ok = key in ((0, 0), (1, 0)) or (
            isinstance(key, tuple) and len(key) == 2 and key[0] == 1 and _is_nat(key[1])
        )
    elif isinstance(group, O3):
        ok = isinstance(key, tuple) and len(key) == 2 and _is_nat(key[0]) and key[1] in (1, -1)
    elif isinstance(group, Permutations):
        ok = isinstance(key, tuple) and key in _young.partitions(group.n)
    else:
        try:
            ok = key in irrep_keys(group)
        except TypeError:
            ok = False
    if not ok:
        raise ValueError(f"irrep: {key!r} is not an irrep of {group!r}; {_key_help(group)}")
    return cast(Key, key)


def _is_nat(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _key_help(group: Group) -> str:
    if isinstance(group, (SO2, SO3)):
        return "expected an integer frequency k >= 0"
    if isinstance(group, O2):
        return "expected (0, 0), (1, 0) or (1, k) with k >= 1"
    if isinstance(group, O3):
        return "expected (l, p) with l >= 0 and parity p = 1 or -1"
    if isinstance(group, Permutations):
        return f"expected a partition of {group.n} such as {_young.partitions(group.n)[0]}"
    try:
        return f"expected one of {irrep_keys(group)}"
    except TypeError:
        return "no irreps are tabulated for this group"


def irrep_dim(group: Group, key: Key) -> int:
    if isinstance(group, Cyclic):
        return 1 if key == 0 or 2 * _int(key) == group.n else 2
    if isinstance(group, (Dihedral, O2)):
        _, k = _pair(key)
        return 1 if k == 0 or (isinstance(group, Dihedral) and 2 * k == group.n) else 2
    if isinstance(group, SO2):
        return 1 if key == 0 else 2
    if isinstance(group, SO3):
        return 2 * _int(key) + 1
    if isinstance(group, O3):
        return 2 * _pair(key)[0] + 1
    if isinstance(group, Permutations):
        return _young.hook_length_dimension(cast(tuple[int, ...], key))
    return 1


def frequency(group: Group, key: Key) -> int:
    """The band of an irrep: k for SO(2)/O(2), l for SO(3)/O(3), 0 otherwise."""
    if isinstance(group, (SO2, SO3)):
        return _int(key)
    if isinstance(group, (O2, O3)):
        return _pair(key)[1] if isinstance(group, O2) else _pair(key)[0]
    return 0


def irrep_matrices(group: Group, key: Key, data: Tensor) -> Tensor:
    """``ρ_key(g)`` for raw elements ``data``: ``[B, d, d]`` float64."""
    b, dev = data.shape[0], data.device
    if isinstance(group, Cyclic):
        angle = data.double() * (2 * math.pi / group.n)
        return _planar(angle, torch.zeros_like(angle), _int(key), 0, group.n, dev)
    if isinstance(group, Dihedral):
        s, m = data // group.n, data % group.n
        j, k = _pair(key)
        return _planar(m.double() * (2 * math.pi / group.n), s.double(), k, j, group.n, dev)
    if isinstance(group, SO2):
        return _planar(
            data.double(), torch.zeros(b, dtype=torch.float64, device=dev), _int(key), 0, 0, dev
        )
    if isinstance(group, O2):
        j, k = _pair(key)
        return _planar(data[:, 1].double(), data[:, 0].double(), k, j, 0, dev)
    if isinstance(group, (SO3, O3)):
        mats = data.double()
        deg, p = (_int(key), 1) if isinstance(group, SO3) else _pair(key)
        det = torch.linalg.det(mats).sign()
        out = wigner_d(deg, det[:, None, None] * mats)
        return out * torch.where(det < 0, float(p), 1.0)[:, None, None] if p == -1 else out
    if isinstance(group, Permutations):
        return _young.irrep_matrices(cast(tuple[int, ...], key), data).to(dev)
    if isinstance(group, Orthogonal) and key == (0, -1):
        return torch.linalg.det(data.double())[:, None, None].sign()
    return torch.ones(b, 1, 1, dtype=torch.float64, device=dev)


def _planar(angle: Tensor, flip: Tensor, k: int, j: int, n: int, dev: torch.device) -> Tensor:
    """Irreps of the planar groups from (rotation angle, flip flag); ``n`` for the C_N/D_N k = N/2
    one-dimensional irreps (0 for SO(2)/O(2))."""
    sign = 1.0 - 2.0 * flip * (1 if j == 1 else 0)
    if k == 0:
        return sign[:, None, None]
    if n and 2 * k == n:
        return (torch.cos(angle * k).round() * sign)[:, None, None]
    rot = rotation_matrices(angle * k)
    f = torch.tensor(_F, dtype=torch.float64, device=dev)
    out = torch.where((flip == 1)[:, None, None], rot @ f, rot)
    return torch.where(out.abs() < 1e-12, torch.zeros_like(out), out)


def irrep_lie(group: Group, key: Key) -> Tensor:
    """Images of the Lie algebra basis ``[L, d, d]`` (float64) under ``dρ_key``."""
    d = irrep_dim(group, key)
    if isinstance(group, (SO2, O2)):
        k = frequency(group, key)
        if d == 1:
            return torch.zeros(1, 1, 1, dtype=torch.float64)
        return k * torch.tensor([_J], dtype=torch.float64)
    if isinstance(group, (SO3, O3)):
        return so3_generators(frequency(group, key))
    return torch.zeros(group.lie_algebra_dim, d, d, dtype=torch.float64)


@lru_cache(maxsize=64)
def so3_generators(l: int) -> Tensor:  # noqa: E741 - l is the standard name of the degree
    """e3nn's real so(3) generators ``[3, 2l+1, 2l+1]`` (about x, y, z), in float64.

    e3nn builds them from integer tensors in torch's default dtype (float32 precision, ~1e-7);
    we run its code once per l with float64 as the default so the basis is exact to 1e-15.
    """
    if l == 0:  # the trivial rep: no need to import e3nn (1.5 s) for zeros
        return torch.zeros(3, 1, 1, dtype=torch.float64)
    from e3nn.o3 import so3_generators as e3nn_generators

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return e3nn_generators(l).to(torch.float64).contiguous()
    finally:
        torch.set_default_dtype(previous)


def wigner_d(l: int, rotations: Tensor) -> Tensor:  # noqa: E741
    """Wigner D matrices ``[B, 2l+1, 2l+1]`` of rotations ``[B, 3, 3]`` in e3nn's real basis,
    computed as ``exp(ω · X)`` from the rotation vector ω (axis × angle) of each matrix."""
    if l == 0:
        return torch.ones(rotations.shape[0], 1, 1, dtype=torch.float64, device=rotations.device)
    omega = rotation_vector(rotations)
    gens = so3_generators(l).to(rotations.device)
    return torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", omega, gens))


def rotation_vector(rotations: Tensor) -> Tensor:
    """Axis × angle ``[B, 3]`` of rotation matrices ``[B, 3, 3]`` (float64), through the unit
    quaternion by Shepperd's method: each matrix uses the largest of the four quaternion
    components as pivot, which stays accurate at every angle (acos of the trace does not)."""
    r = rotations.double()
    r00, r11, r22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    a, b, c = r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]
    p, q, u = r[:, 0, 1] + r[:, 1, 0], r[:, 0, 2] + r[:, 2, 0], r[:, 1, 2] + r[:, 2, 1]
    t = torch.stack(
        [1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], -1
    )
    # candidate quaternions (w, x, y, z), each scaled by 4·(its pivot component)
    cand = torch.stack(
        [
            torch.stack([t[:, 0], a, b, c], -1),
            torch.stack([a, t[:, 1], p, q], -1),
            torch.stack([b, p, t[:, 2], u], -1),
            torch.stack([c, q, u, t[:, 3]], -1),
        ],
        1,
    )
    pivot = t.argmax(-1)
    quat = cand[torch.arange(len(r)), pivot]
    quat = quat / quat.norm(dim=-1, keepdim=True)
    quat = quat * torch.where(quat[:, :1] < 0, -1.0, 1.0).to(quat)
    w, v = quat[:, 0], quat[:, 1:]
    norm = v.norm(dim=-1)
    angle = 2 * torch.atan2(norm, w)
    scale = torch.where(norm > 1e-300, angle / norm.clamp(min=1e-300), torch.full_like(norm, 2.0))
    return v * scale[:, None]
