"""`EquivariantLinear`: the most general G-equivariant linear map between two representations."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symml.nn import _kernels
from symml.nn._expansion import Expansion, assemble, expansion
from symml.reps import Rep, trivial


def check_reps(rep_in: object, rep_out: object, what: str) -> None:
    """Both are `Rep`s of one group, else a ValueError/TypeError naming ``what``."""
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise TypeError(
                f"{what}: expected {name} to be a symml Rep, e.g. 2 * standard(O(3)) "
                f"(got {type(rep).__name__})"
            )
    assert isinstance(rep_in, Rep) and isinstance(rep_out, Rep)
    if rep_in.group != rep_out.group:
        raise ValueError(
            f"{what}: rep_in is a representation of {rep_in.group!r} but rep_out one of "
            f"{rep_out.group!r}; expected one group (restrict one of them first)"
        )


class EquivariantLinear(nn.Module):
    """``y = W x + b`` with ``ρ_out(g) W = W ρ_in(g)`` and ``ρ_out(g) b = b`` for all g ∈ G.

    ``W = Σ_k θ_k B_k`` over an orthonormal basis of Hom_G(ρ_in, ρ_out) (`symml.reps.intertwiners`,
    solved once per pair of field types and memoised), so the layer has exactly
    ``dim Hom_G(ρ_in, ρ_out)`` weights; the bias lives on the trivial parts of ``rep_out``. W is
    built from θ block by block (no dense basis is stored) and cached in eval mode; in training,
    `forward_t` builds it in one scatter from a list of its nonzeros (`symml.nn._kernels.linear`).
    Initialisation: every output coordinate has variance ≈ 1 for unit-variance inputs.

    Args:
        rep_in: representation of the inputs (dimension ``d_in``).
        rep_out: representation of the outputs, of the same group.
        bias: learn an invariant bias (default True).

    Shapes:
        ``[..., d_in] → [..., d_out]``.

    Raises:
        ValueError: reps of different groups, a group the solver cannot handle, or no nonzero
            equivariant map (the message names the reps and how to fix them).

    Example:
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> V = standard(O(3))
        >>> layer = EquivariantLinear(2 * V + trivial(O(3)), V)
        >>> layer.weight_coefficients.numel()  # Hom(2V + 1, V): one scale per copy of V
        2
        >>> layer(torch.randn(4, 7)).shape
        torch.Size([4, 3])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, bias: bool = True) -> None:
        super().__init__()
        check_reps(rep_in, rep_out, "EquivariantLinear")
        self.rep_in, self.rep_out = rep_in, rep_out
        self.group = rep_in.group
        exp = expansion(rep_in, rep_out)
        bias_exp = expansion(trivial(self.group), rep_out) if bias else None
        if exp.size == 0 and (bias_exp is None or bias_exp.size == 0):
            raise ValueError(
                f"EquivariantLinear: Hom_G(rep_in, rep_out) is zero for rep_in = {rep_in} and "
                f"rep_out = {rep_out}: no nonzero equivariant linear map exists (they share no "
                "irreps). Add to rep_in a field of the types in rep_out (for example the same "
                "rep, or a tensor product that contains it)"
            )
        dtype = torch.get_default_dtype()
        self.weight_coefficients = nn.Parameter(exp.std.to(dtype) * torch.randn(exp.size))
        self._exp = exp
        self._register_bases("_basis", exp)
        self._bias_exp: Expansion | None = None
        self.bias_coefficients: nn.Parameter | None = None
        if bias_exp is not None and bias_exp.size:
            self.bias_coefficients = nn.Parameter(torch.zeros(bias_exp.size))
            self._bias_exp = bias_exp
            self._register_bases("_bias_basis", bias_exp)
        self._cache: tuple[object, Tensor, Tensor | None] | None = None
        self._plan = _kernels.linear_plan(exp, self._bias_exp)
        self._kernel_cache: dict[tuple[torch.dtype, torch.device], _kernels.LinearKernel] = {}

    def _register_bases(self, prefix: str, exp: Expansion) -> None:
        # buffers, so that .to() / .double() move them; not persistent: derived from the reps
        dtype = torch.get_default_dtype()
        for i, blk in enumerate(exp.blocks):
            self.register_buffer(f"{prefix}_{i}", blk.basis.to(dtype), persistent=False)

    def _bases(self, prefix: str, exp: Expansion) -> list[Tensor]:
        return [getattr(self, f"{prefix}_{i}") for i in range(len(exp.blocks))]

    def weight(self) -> Tensor:
        """The equivariant matrix W ``[d_out, d_in]``."""
        return assemble(self._exp, self._bases("_basis", self._exp), self.weight_coefficients)

    def bias(self) -> Tensor | None:
        """The invariant bias ``[d_out]`` (None without one)."""
        if self.bias_coefficients is None or self._bias_exp is None:
            return None
        exp = self._bias_exp
        return assemble(exp, self._bases("_bias_basis", exp), self.bias_coefficients)[:, 0]

    def _weight_and_bias(self) -> tuple[Tensor, Tensor | None]:
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self.weight(), self.bias()
        # eval without autograd: W only changes when θ does, so keep it until θ's version moves
        key = tuple((p._version, p.data_ptr(), p.dtype) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.weight(), self.bias())
        return self._cache[1], self._cache[2]

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EquivariantLinear: expected inputs [..., {self.rep_in.dim}] for rep_in "
                f"{self.rep_in} (got {list(x.shape)})"
            )
        w, b = self._weight_and_bias()
        return nn.functional.linear(x, w, b)

    def forward_t(self, xt: Tensor) -> Tensor:
        """The same map on feature-major inputs: ``[d_in, B] → [d_out, B]`` (no width check).

        `reference_t` computed by the linear kernel (`symml.nn._kernels.linear`): W assembled in
        one scatter and multiplied in one GEMM, in one autograd node. Without autograd (or for an
        empty batch) the cached W is one GEMM.
        """
        if not (self.training or torch.is_grad_enabled()) or xt.shape[1] == 0:
            w, b = self._weight_and_bias()
            return w @ xt if b is None else torch.addmm(b[:, None], w, xt)
        theta = self.weight_coefficients
        kernel = self._kernel_cache.get((theta.dtype, theta.device))
        if kernel is None:  # W's entries in θ's dtype and on its device, once
            bias_bases = (
                [] if self._bias_exp is None else self._bases("_bias_basis", self._bias_exp)
            )
            kernel = _kernels.linear_kernel(
                self._plan, self._bases("_basis", self._exp), bias_bases
            )
            self._kernel_cache[theta.dtype, theta.device] = kernel
        return _kernels.linear_t(kernel, self.reference_t, xt, theta, self.bias_coefficients)

    def reference_t(self, xt: Tensor, theta: Tensor, bias_theta: Tensor | None) -> Tensor:
        """`forward_t` in ordinary differentiable ops, for coefficients ``theta`` and
        ``bias_theta``: W assembled densely, ``W xt + b``."""
        y = assemble(self._exp, self._bases("_basis", self._exp), theta) @ xt
        if bias_theta is not None and self._bias_exp is not None:
            b = assemble(self._bias_exp, self._bases("_bias_basis", self._bias_exp), bias_theta)
            y = y + b
        return y

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_cache"] = None  # derived data: never pickled
        state["_kernel_cache"] = {}
        return state

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in}, rep_out={self.rep_out}"
