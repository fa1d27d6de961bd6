"""`EquivariantBilinear`: products of features, ``y = W(x) x`` with W(x) built from x (emlp)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from symml.nn import _kernels
from symml.nn._types import FieldType, field_types, is_trivial, same_matrices
from symml.nn.linear import check_reps
from symml.reps import Rep


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
        scale: a fixed factor on the products, ``y = scale · W(x) x``; it scales the weights'
            gradients too, so with Adam it slows how fast the products grow (emlp's EMLP uses
            0.1, see `symml.models.emlp.EMLPBlock`).

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

    def __init__(self, rep_in: Rep, rep_out: Rep, scale: float = 1.0) -> None:
        super().__init__()
        check_reps(rep_in, rep_out, "EquivariantBilinear")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(
                f"EquivariantBilinear: scale must be a positive number (got {scale!r}); it "
                "multiplies the products, e.g. 0.1 as in emlp"
            )
        self.scale = float(scale)
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, rep_in.group
        types_in, types_out = field_types(rep_in), field_types(rep_out)
        self._paths = bilinear_paths(rep_in, rep_out)
        if not self._paths:
            raise ValueError(
                f"EquivariantBilinear: no field of rep_in = {rep_in} transforms like a block "
                f"b ⊗ a* of Hom(rep_in, rep_out = {rep_out}), so every product is zero; include "
                "tensor-product fields (e.g. V.tensor(V) next to V) in rep_in"
            )
        self.weights = nn.ParameterList()
        for path in self._paths:
            a, b = types_in[path.a], types_out[path.b]
            # Var(y) ≈ σ² · (copies of a) · n · d_a for unit inputs: aim at 1 per path
            std = 1.0 / math.sqrt(a.copies * path.sources * a.rep.dim)
            self.weights.append(nn.Parameter(std * torch.randn(b.copies, a.copies, path.sources)))
        self._types_in: tuple[FieldType, ...] = types_in
        self._types_out: tuple[FieldType, ...] = types_out
        self._plan = _kernels.bilinear_plan(self._paths, types_in, types_out)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EquivariantBilinear: expected inputs [..., {self.rep_in.dim}] for rep_in "
                f"{self.rep_in} (got {list(x.shape)})"
            )
        flat = x.reshape(-1, x.shape[-1])
        return self.forward_t(flat.t()).t().reshape(*x.shape[:-1], self.rep_out.dim)

    def forward_t(self, xt: Tensor, residual: bool = False) -> Tensor:
        """The same map on feature-major inputs: ``[d_in, B] → [d_out, B]`` (no width check);
        ``residual``: return ``B(x) + x`` (rep_in = rep_out), without a separate addition.

        `reference_t` computed by the bilinear kernel (`symml.nn._kernels.bilinear`): per path a
        GEMM over the batch and a per-sample contraction, in the cheaper order, paths that share
        an operand sharing the GEMM, in one autograd node.
        """
        if residual and self.rep_in != self.rep_out:
            raise ValueError(
                f"EquivariantBilinear: residual needs rep_in = rep_out (got {self.rep_in} and "
                f"{self.rep_out})"
            )
        thetas = list(self.weights)
        if self.scale != 1.0:  # on the (small) weights, not on the products: one tiny op a path
            thetas = [self.scale * theta for theta in thetas]
        return _kernels.bilinear_t(self._plan, self.reference_t, xt, thetas, residual)

    def reference_t(self, xt: Tensor, thetas: Sequence[Tensor], residual: bool = False) -> Tensor:
        """`forward_t` in ordinary differentiable ops, for weights ``thetas`` (one per path).

        Per path, with ``x_a [m_a, d_a, B]`` the copies of input type a and ``S_l [d_b, d_a]`` the
        l-th copy of the source type read as a matrix: ``y_b[p] += Σ_{q,l} θ[p, q, l] S_l x_a[q]``.
        """
        batch = xt.shape[1]
        fields = [torch.stack([xt[o : o + t.rep.dim] for o in t.offsets]) for t in self._types_in]
        outputs: dict[int, Tensor] = {}
        for path, theta in zip(self._paths, thetas, strict=True):
            d_b, d_a = self._types_out[path.b].rep.dim, self._types_in[path.a].rep.dim
            sources = fields[path.source][: path.sources].view(path.sources, d_b, d_a, batch)
            products = torch.einsum("lijn,qjn->qlin", sources, fields[path.a])  # S_l x_q
            y_b = torch.einsum("pql,qlin->pin", theta, products)
            outputs[path.b] = outputs[path.b] + y_b if path.b in outputs else y_b
        rows: dict[int, Tensor] = {}  # each output copy's rows, by offset
        for b, t in enumerate(self._types_out):
            for p, offset in enumerate(t.offsets):
                rows[offset] = outputs[b][p] if b in outputs else xt.new_zeros(t.rep.dim, batch)
        y = torch.cat([rows[offset] for offset in sorted(rows)])
        return y + xt if residual else y

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in}, rep_out={self.rep_out}, paths={len(self._paths)}"
