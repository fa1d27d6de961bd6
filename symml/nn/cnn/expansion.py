"""Filter-bank expansion for group convolutions on regular fields: one precomputed gather.

A group convolution from regular fields of C_N / D_N to regular fields is an ordinary
``conv2d`` whose filter bank is built from the free filters ``ψ``: output field ``o`` at group
element ``h`` sees input field ``i`` at element ``k`` through the filter
``W[o, h, i, k] = h · ψ[o, i, h⁻¹k]``, the filter transformed by ``h`` (``(h·K)(x) = K(h⁻¹x)``).

- On the pixel grid, the elements of C1, C2, C4, D1, D2 and D4 permute the kernel pixels, so
  ``W`` is ``ψ`` read at precomputed positions: one ``index_select`` (its backward is the matching
  scatter-add), no loop over group elements. The free filters are the kernel pixels.
- Other rotations do not map pixels to pixels. There the free filters are coefficients in a
  steerable basis of circular harmonics on Gaussian rings (sampled at the rotated pixel positions,
  so the rotated filters are exact samples of the rotated continuous filter); the expansion is the
  same gather over the group index followed by one matmul. Rotating the *image* by such an
  angle still interpolates, so these layers are only approximately equivariant on the grid.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from symml.groups import Elements, FiniteGroup, act_on_images
from symml.nn.cnn._fields import check_positive, grid_exact_group, point_group

_RING_SIGMA = 0.6  # width of the Gaussian rings, in pixels
_OUTER_SIGMA = 0.4  # the outermost ring is cut by the kernel border: keep it narrower
_MAX_FREQUENCY = 2  # higher angular frequencies alias on a 1-pixel grid at these radii


def kernel_positions(kernel_size: int) -> Tensor:
    """``[k*k, 2]`` float64 ``(x, y)`` of the kernel pixels (x right, y up, centre at 0), row-major
    like the image convention of `symml.groups.act_on_images`."""
    c = (kernel_size - 1) / 2
    i, j = torch.meshgrid(
        torch.arange(kernel_size, dtype=torch.float64),
        torch.arange(kernel_size, dtype=torch.float64),
        indexing="ij",
    )
    return torch.stack([(j - c).flatten(), (c - i).flatten()], 1)


def harmonic_basis(points: Tensor, kernel_size: int) -> Tensor:
    """Circular harmonics on Gaussian rings sampled at ``points [P, 2]``: ``[P, nb]`` float64.

    Rings sit at radii ``0, 1, ..., (k-1)/2`` (``ceil(k/2)`` of them, Gaussian profiles of width
    0.6 px, 0.4 px for the outermost); ring ``r`` carries angular frequencies
    ``0 .. min(2, round(2r))`` (cos and sin). Higher frequencies alias on the pixel grid: with
    them, a C8 lifting layer's error under 45° rotations of smooth images doubles (measured).
    Each function has unit norm on the (unrotated) kernel grid.
    """
    return _harmonics(points, kernel_size) / _harmonic_norms(kernel_size)


def _harmonics(points: Tensor, kernel_size: int) -> Tensor:
    n_rings = (kernel_size + 1) // 2
    radii = torch.linspace(0.0, (kernel_size - 1) / 2, n_rings, dtype=torch.float64)
    r = points.norm(dim=1)
    theta = torch.atan2(points[:, 1], points[:, 0])
    at_origin = r < 1e-9
    columns = []
    outer = float(radii[-1])
    for radius in radii.tolist():
        sigma = _OUTER_SIGMA if radius == outer and radius > 0 else _RING_SIGMA
        ring = torch.exp(-((r - radius) ** 2) / (2 * sigma**2))
        columns.append(ring)
        for m in range(1, min(_MAX_FREQUENCY, round(2 * radius)) + 1):
            # angular functions are undefined at the origin: they vanish there
            columns.append(torch.where(at_origin, 0.0, ring * torch.cos(m * theta)))
            columns.append(torch.where(at_origin, 0.0, ring * torch.sin(m * theta)))
    return torch.stack(columns, 1)


@functools.cache
def _harmonic_norms(kernel_size: int) -> Tensor:
    return _harmonics(kernel_positions(kernel_size), kernel_size).norm(dim=0)


class FilterExpansion(nn.Module):
    """Builds the conv2d filter bank of a lifting or group convolution from its free filters.

    Args:
        group: C_N or D_N, or a name such as ``"C4"`` or ``"p4m"`` (the output fields are regular
            fields of it).
        in_fields: number of input fields (images channels for a lifting convolution).
        kernel_size: side of the square kernel.
        lifting: input fields are scalars (trivial) instead of regular fields.

    Attributes:
        exact: whether the group permutes kernel pixels (then the free filters are the pixels).
        weight_shape: shape of the free filters for ``out_fields`` = 1 (prepend ``out_fields``).

    Shapes: ``forward(weight [O, *weight_shape]) -> [O·|G|, in_fields·|G_in|, k, k]`` with
    ``|G_in| = 1`` for lifting.

    Example:
        >>> import torch
        >>> from symml.groups import Cyclic
        >>> expand = FilterExpansion(Cyclic(4), in_fields=2, kernel_size=3)
        >>> expand.weight_shape
        (2, 4, 3, 3)
        >>> expand(torch.randn(5, 2, 4, 3, 3)).shape
        torch.Size([20, 8, 3, 3])
    """

    index: Tensor
    basis: Tensor | None

    def __init__(
        self, group: FiniteGroup | str, in_fields: int, kernel_size: int, *, lifting: bool = False
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        point = point_group(group, owner)
        assert isinstance(point, FiniteGroup)  # point_group(finite=True) returns C_N / D_N
        group = point
        self.group = group
        self.in_fields = check_positive(in_fields, owner, "in_fields")
        self.kernel_size = kernel_size = check_positive(kernel_size, owner, "kernel_size")
        self.lifting = lifting
        self.exact = grid_exact_group(group)
        order = group.order
        self.in_order = 1 if lifting else order
        kk = kernel_size * kernel_size
        elements = group.elements()
        # group part: W[o, h, i, k] reads ψ[o, i, h⁻¹k]
        g_index = group.cayley_table[group.inverse_table]  # [h, k] → index of h⁻¹k
        if lifting:
            g_index = torch.zeros(order, 1, dtype=torch.long)
        fields = torch.arange(in_fields)
        if self.exact:
            p_index = _pixel_permutations(elements, kernel_size)  # [h, p]
            index = (
                fields[None, :, None, None] * (self.in_order * kk)
                + g_index[:, None, :, None] * kk
                + p_index[:, None, None, :]
            )  # [h, i, k, p]
            self.num_basis = kk
            self.register_buffer("index", index.reshape(-1), persistent=False)
            self.register_buffer("basis", None, persistent=False)
        else:
            index = fields[None, :, None] * self.in_order + g_index[:, None, :]  # [h, i, k]
            self.register_buffer("index", index.reshape(-1), persistent=False)
            points = kernel_positions(kernel_size)
            inverse = group.inverse(elements)
            mats = group.matrices(inverse, dtype=torch.float64)  # h⁻¹ for each h
            moved = torch.einsum("hab,pb->hpa", mats, points)
            rotated = harmonic_basis(moved.reshape(-1, 2), kernel_size)
            basis = rotated.reshape(order, kk, -1)  # [h, p, b]: basis b of h·K at pixel p
            self.num_basis = basis.shape[-1]
            self.register_buffer("basis", basis.to(torch.get_default_dtype()), persistent=False)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        k = self.kernel_size
        tail: tuple[int, ...] = (k, k) if self.exact else (self.num_basis,)
        group = () if self.lifting else (self.in_order,)
        return (self.in_fields, *group, *tail)

    @property
    def fan_in(self) -> int:
        """Free coefficients feeding one output channel (for nn.Conv2d-style initialisation)."""
        return math.prod(self.weight_shape)

    def forward(self, weight: Tensor) -> Tensor:
        out_fields = weight.shape[0]
        order, k = self.group.order, self.kernel_size
        in_channels = self.in_fields * self.in_order
        if self.basis is None:
            bank = weight.reshape(out_fields, -1).index_select(1, self.index)
            return bank.reshape(out_fields * order, in_channels, k, k)
        coeffs = weight.reshape(out_fields, in_channels, self.num_basis)
        gathered = coeffs.index_select(1, self.index).reshape(
            out_fields, order, in_channels, self.num_basis
        )
        bank = torch.einsum("ohib,hpb->ohip", gathered, self.basis.to(weight.dtype))
        return bank.reshape(out_fields * order, in_channels, k, k)

    def extra_repr(self) -> str:
        kind = "pixel permutation" if self.exact else f"{self.num_basis} harmonics"
        return f"{self.group!r}, in_fields={self.in_fields}, kernel_size={self.kernel_size}, {kind}"


def _pixel_permutations(elements: Elements, kernel_size: int) -> Tensor:
    """``[|G|, k*k]``: ``(h·K)`` flattened is ``K.flatten()[perm[h]]`` (exact elements only)."""
    kk = kernel_size * kernel_size
    grid = torch.arange(kk).reshape(1, kernel_size, kernel_size).expand(len(elements), -1, -1)
    return act_on_images(elements, grid.contiguous()).reshape(len(elements), kk)
