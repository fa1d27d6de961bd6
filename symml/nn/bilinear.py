"""`EquivariantBilinear`: products of features, ``y = W(x) x`` with W(x) built from x (emlp)."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from symml.nn._types import FieldType, field_types, is_trivial, same_matrices
from symml.nn.linear import check_reps
from symml.reps import Rep


def _inner(x: Tensor, y: Tensor) -> Tensor:
    """``out[b, i, k] = Σ_j x[b, i, j] y[b, k, j]`` for a small inner dimension j.

    A bmm of B tiny matrices is slow on CPU (10x here, backward included); for j <= 8 an unrolled
    sum of broadcast products is fastest, above it one broadcast multiply and a reduction.
    """
    if x.shape[-1] > 8:
        return (x[:, :, None, :] * y[:, None, :, :]).sum(-1)
    out = x[:, :, None, 0] * y[:, None, :, 0]
    for j in range(1, x.shape[-1]):
        out = out + x[:, :, None, j] * y[:, None, :, j]
    return out


def _products(source: Tensor, x: Tensor, theta: Tensor) -> Tensor:
    """``y[b, p, i] = Σ_{q, l, j} θ[p, q, l] · source[b, l, i, j] · x[b, q, j]``.

    Shapes: source ``[B, n, d_b, d_a]``, x ``[B, m_a, d_a]``, theta ``[m_b, m_a, n]`` →
    ``[B, m_b, d_b]``. The contraction order is picked by cost: with d_a >= d_b, first the
    products W_l(x)·x_q (`_inner`), then one GEMM with θ; with d_a < d_b, first θ with x (one
    GEMM), then a broadcast multiply-sum with the sources (a bmm of B matrices [m_b, n] @ [n, d_b]
    was 3-6x slower on CPU).
    """
    batch, n, d_b, d_a = source.shape
    m_b, m_a, _ = theta.shape
    if d_a >= d_b:
        products = _inner(x, source.reshape(batch, n * d_b, d_a))  # [B, m_a, n·d_b]
        # one GEMM over the whole batch: [B·d_b, m_a·n] @ [m_a·n, m_b]
        products = products.reshape(batch, m_a * n, d_b).transpose(1, 2).reshape(-1, m_a * n)
        y = products @ theta.reshape(m_b, m_a * n).T
        return y.reshape(batch, d_b, m_b).transpose(1, 2)
    mixed = torch.matmul(x.transpose(1, 2), theta.permute(1, 0, 2).reshape(m_a, m_b * n))
    mixed = mixed.reshape(batch, d_a, m_b, n).permute(0, 2, 3, 1)  # [B, m_b, n, d_a]
    return (mixed[:, :, :, None, :] * source[:, None]).sum((2, 4))


def _runs(types: tuple[FieldType, ...]) -> list[tuple[int, int, int]]:
    """``(type, first copy, end copy)`` for each run of consecutive copies of one type, in the
    order the runs appear in the representation (so concatenating them rebuilds the vector)."""
    copies = sorted((off, ti, ci) for ti, t in enumerate(types) for ci, off in enumerate(t.offsets))
    runs: list[tuple[int, int, int]] = []
    for _, ti, ci in copies:
        if runs and runs[-1][0] == ti and runs[-1][2] == ci:
            runs[-1] = (ti, runs[-1][1], ci + 1)
        else:
            runs.append((ti, ci, ci + 1))
    return runs


class Path(NamedTuple):
    """Products from input type ``a`` to output type ``b``, with W(x) blocks read from the first
    ``sources`` copies of input type ``source`` (indices into `field_types`)."""

    a: int
    b: int
    source: int
    sources: int


@functools.cache
def bilinear_paths(rep_in: Rep, rep_out: Rep) -> tuple[Path, ...]:
    """The nonzero paths of ``EquivariantBilinear(rep_in, rep_out)`` (empty: the layer is zero)."""
    types_in, types_out = field_types(rep_in), field_types(rep_out)
    sources = [i for i, t in enumerate(types_in) if not is_trivial(t.rep)]
    paths = []
    for bi, b in enumerate(types_out):
        for ai, a in enumerate(types_in):
            block = b.rep.tensor(a.rep.dual())
            match = [s for s in sources if same_matrices(types_in[s].rep, block)]
            if match:
                source = types_in[match[0]]
                paths.append(Path(ai, bi, match[0], min(source.copies, source.rep.dim)))
    return tuple(paths)


class EquivariantBilinear(nn.Module):
    """Equivariant bilinear layer (Finzi et al. 2021, https://arxiv.org/abs/2104.09459):
    ``y = W(x) x`` where the matrix ``W(x) ∈ Hom(ρ_in, ρ_out)`` is itself a linear function of x.

    W(x) is assembled block by block: the block from a field of type a to a field of type b
    transforms as ``b ⊗ a*``; it is filled with a learned combination of the input fields whose
    representation *is* ``b ⊗ a*`` (same matrices, e.g. 2-tensors for the V → V blocks of O(n)).
    Then ``W(ρ_in(g)x) = ρ_out(g) W(x) ρ_in(g)⁻¹`` and so ``y(ρ_in(g)x) = ρ_out(g) y(x)``.
    Scalars are not used as sources (as in emlp) and at most ``d`` copies of a source type of
    dimension d are used, which keeps the layer as cheap as a linear one. Blocks with no source
    stay zero; a layer where every block is zero raises.

    Args:
        rep_in: representation of the inputs.
        rep_out: representation of the outputs (same group).

    Shapes:
        ``[..., d_in] → [..., d_out]``.

    Example:
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> V = standard(O(3))
        >>> rep = 4 * trivial(O(3)) + 2 * V + V.tensor(V)
        >>> EquivariantBilinear(rep, rep)(torch.randn(5, rep.dim)).shape
        torch.Size([5, 19])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        super().__init__()
        check_reps(rep_in, rep_out, "EquivariantBilinear")
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, rep_in.group
        types_in, types_out = field_types(rep_in), field_types(rep_out)
        self._paths = bilinear_paths(rep_in, rep_out)
        self.weights = nn.ParameterList()
        for path in self._paths:
            a, b = types_in[path.a], types_out[path.b]
            # Var(y) ≈ σ² · (copies of a) · n · d_a for unit inputs: aim at 1 per path
            std = 1.0 / math.sqrt(a.copies * path.sources * a.rep.dim)
            self.weights.append(nn.Parameter(std * torch.randn(b.copies, a.copies, path.sources)))
        if not self._paths:
            raise ValueError(
                f"EquivariantBilinear: no field of rep_in = {rep_in} transforms like a block "
                f"b ⊗ a* of Hom(rep_in, rep_out = {rep_out}), so every product is zero; include "
                "tensor-product fields (e.g. V.tensor(V) next to V) in rep_in"
            )
        self._types_in: tuple[FieldType, ...] = types_in
        self._types_out: tuple[FieldType, ...] = types_out
        for i, t in enumerate(types_in):
            self.register_buffer(f"_in_{i}", t.indices().reshape(-1), persistent=False)
        self._runs = _runs(types_out)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EquivariantBilinear: expected inputs [..., {self.rep_in.dim}] for rep_in "
                f"{self.rep_in} (got {list(x.shape)})"
            )
        batch = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        fields = [self._field(flat, i) for i in range(len(self._types_in))]
        outputs: dict[int, Tensor] = {}
        for path, theta in zip(self._paths, self.weights, strict=True):
            d_a, d_b = self._types_in[path.a].rep.dim, self._types_out[path.b].rep.dim
            n = path.sources
            source = fields[path.source][:, :n].reshape(-1, n, d_b, d_a)  # n matrices [d_b, d_a]
            y = _products(source, fields[path.a], theta)  # [B, copies of b, d_b]
            y = y.reshape(len(flat), -1)
            outputs[path.b] = outputs[path.b] + y if path.b in outputs else y
        pieces = []
        for bi, first, last in self._runs:  # runs of consecutive copies, in output order
            d = self._types_out[bi].rep.dim
            if bi in outputs:
                pieces.append(outputs[bi][:, first * d : last * d])
            else:
                pieces.append(flat.new_zeros(len(flat), (last - first) * d))
        return torch.cat(pieces, 1).reshape(*batch, self.rep_out.dim)

    def _field(self, flat: Tensor, i: int) -> Tensor:
        """The copies of input type i, ``[B, m, d]``: a view when they are contiguous (the
        usual layout), else a gather (index_select: its backward is an index_add)."""
        t = self._types_in[i]
        start, width = t.offsets[0], t.copies * t.rep.dim
        if t.offsets == tuple(range(start, start + width, t.rep.dim)):
            return flat[:, start : start + width].reshape(len(flat), t.copies, t.rep.dim)
        picked = flat.index_select(1, getattr(self, f"_in_{i}"))
        return picked.reshape(len(flat), t.copies, t.rep.dim)

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in}, rep_out={self.rep_out}, paths={len(self._paths)}"
