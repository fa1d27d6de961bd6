"""`EquivariantSequential`: a chain of equivariant modules whose types are checked when built."""

from __future__ import annotations

from torch import Tensor, nn


class EquivariantSequential(nn.Sequential):
    """Like `torch.nn.Sequential`, for modules that declare ``rep_in`` / ``rep_out``: each
    module's ``rep_in`` must equal the previous module's ``rep_out`` (checked at construction, so a
    mismatch never reaches ``forward``). The container's ``rep_in`` / ``rep_out`` / ``group`` are
    those of its ends, so `symml.testing` checks it like any layer.

    Example:
        >>> from symml.groups import SO
        >>> from symml.nn import EquivariantLinear, GatedNonlinearity, gated
        >>> from symml.reps import standard, trivial
        >>> V, S = standard(SO(3)), trivial(SO(3))
        >>> net = EquivariantSequential(
        ...     EquivariantLinear(V, gated(2 * V)),
        ...     GatedNonlinearity(2 * V),
        ...     EquivariantLinear(2 * V, S),
        ... )
        >>> net.rep_out
        irrep(SO3(), 0)
    """

    def __init__(self, *modules: nn.Module) -> None:
        if not modules:
            raise ValueError("EquivariantSequential: expected at least one module")
        for i, m in enumerate(modules):
            if not hasattr(m, "rep_in") or not hasattr(m, "rep_out"):
                raise TypeError(
                    f"EquivariantSequential: module {i} ({type(m).__name__}) declares no "
                    "rep_in / rep_out, so its equivariance cannot be checked"
                )
        for i, (prev, nxt) in enumerate(zip(modules, modules[1:], strict=False)):
            if prev.rep_out != nxt.rep_in:
                raise ValueError(
                    f"EquivariantSequential: module {i + 1} ({type(nxt).__name__}) expects "
                    f"rep_in = {nxt.rep_in}, but module {i} ({type(prev).__name__}) returns "
                    f"rep_out = {prev.rep_out}"
                )
        super().__init__(*modules)
        self.rep_in = modules[0].rep_in
        self.rep_out = modules[-1].rep_out
        self.group = getattr(modules[0], "group", None)

    def forward(self, x: Tensor) -> Tensor:
        for module in self:
            x = module(x)
        return x
