"""EMLP (Finzi, Welling, Wilson 2021) and its plain MLP baseline, for vector data ``[B, d]``.

An EMLP is a stack of blocks ``x ↦ gate(B(Lx) + Lx)`` — an `EquivariantLinear` L into the hidden
representation plus gate scalars, an `EquivariantBilinear` B, a `GatedNonlinearity` — and a final
`EquivariantLinear` to ``rep_out``. Hidden representations come from a channel budget by
`uniform_rep`. Representations in configs are strings over ``V`` (the group's standard rep),
``S`` (a scalar), ``T(r)`` (rank-r tensors V^{⊗r}) and every symml constructor, e.g.
``"5*S + 5*V"`` or ``"T(2)"``.
"""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from symml.groups import Group, group_from_name
from symml.nn import (
    EquivariantBilinear,
    EquivariantLinear,
    EquivariantSequential,
    GatedNonlinearity,
    gated,
)
from symml.nn._checks import check_like, check_positive, reference_tensor
from symml.nn.bilinear import bilinear_paths
from symml.reps import Rep, parse_rep, standard, trivial

BILINEAR_SCALE = 0.1  # emlp's factor on the bilinear products (see `EMLPBlock`)


def tensor_power(v: Rep, rank: int) -> Rep:
    """``V^{⊗rank}`` (the trivial rep for rank 0)."""
    if rank < 0:
        raise ValueError(f"tensor_power: expected rank >= 0 (got {rank})")
    if rank == 0:
        return trivial(v.group)
    out = v
    for _ in range(rank - 1):
        out = out.tensor(v)
    return out


def uniform_rep(group: Group, channels: int) -> Rep:
    """A hidden representation of dimension ``channels`` spread evenly over tensor ranks.

    emlp's "uniform" heuristic (Finzi et al. 2021), restated: with d = dim V, let R be the
    largest rank with ``(R + 1)·d^R <= c`` for the c channels left; add ``d^(R−r)`` copies of
    ``V^{⊗r}`` for each rank r = 0..R (every rank gets d^R numbers), take those ``(R + 1)·d^R``
    channels from c, and repeat until none are left (the last rounds add scalars). Every rank
    carries about the same number of numbers, so no tensor order dominates the width, and the
    bilinear layer finds the sources it needs (rank r+s fields for the V^r → V^s blocks).
    384 channels give O(3) 102 scalars, 34 vectors, 11 matrices and 3 rank-3 tensors, and O(5)
    134 / 25 / 5 (scalars / vectors / matrices), as emlp's models have.

    Example:
        >>> from symml.groups import O
        >>> rep = uniform_rep(O(5), 384)
        >>> rep.dim, str(rep).count("standard")  # 134 scalars, 25 vectors, 5 matrices
        (384, 3)
    """
    if channels < 1:
        raise ValueError(f"uniform_rep: expected channels >= 1 (got {channels})")
    try:
        v = standard(group)
    except ValueError as err:
        raise ValueError(
            f"uniform_rep: {group!r} has no standard representation to build tensors from; "
            "pass the hidden representation explicitly (e.g. hidden=8 * regular(G))"
        ) from err
    d = v.dim
    counts: list[int] = []
    left = channels
    while left > 0:
        top = 0
        while (top + 2) * d ** (top + 1) <= left:
            top += 1
        counts += [0] * (top + 1 - len(counts))
        for r in range(top + 1):
            counts[r] += d ** (top - r)
        left -= (top + 1) * d**top
    return sum_reps([c * tensor_power(v, r) for r, c in enumerate(counts) if c])


def sum_reps(reps: list[Rep]) -> Rep:
    """The direct sum of a non-empty list of reps."""
    out = reps[0]
    for r in reps[1:]:
        out = out + r
    return out


def resolve_rep(spec: str | Rep, group: Group) -> Rep:
    """A `Rep` from a config string over ``V``, ``S``, ``T(r)`` (see the module docstring)."""
    if isinstance(spec, Rep):
        if spec.group != group:
            raise ValueError(f"expected a representation of {group!r} (got one of {spec.group!r})")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"expected a Rep or a string such as '2*V' (got {type(spec).__name__})")
    try:
        v: Rep | None = standard(group)
    except ValueError:
        v = None
    names: dict[str, object] = {"S": trivial(group), "G": group}
    if v is not None:
        names["V"] = v
        names["T"] = lambda rank: tensor_power(v, rank)
    return parse_rep(spec, names=names)


def _group(group: str | Group) -> Group:
    return group_from_name(group) if isinstance(group, str) else group


class EMLPBlock(nn.Module):
    """``x ↦ gate(0.1·B(Lx) + Lx)``: linear into ``gated(hidden)``, bilinear products added as a
    residual (when ``hidden`` has fields to multiply), gated nonlinearity down to ``hidden``.

    Shapes:
        ``[..., rep_in.dim] → [..., hidden.dim]``.
    """

    def __init__(self, rep_in: Rep, hidden: Rep) -> None:
        super().__init__()
        # the gates come first: next to the hidden scalars when those come first (as
        # `uniform_rep` builds them), so every field type is one block of coordinates, which the
        # layers use without copies, and the gate is one fused node (`GatedNonlinearity.forward_t`)
        width = gated(hidden)
        self.rep_in, self.rep_out, self.group = rep_in, hidden, rep_in.group
        self.linear = EquivariantLinear(rep_in, width)
        # emlp's BiLinear multiplies its products by 0.1 (emlp/nn/objax.py). Without it the
        # three stacked quadratic blocks grow with every Adam step at emlp's 3e-3 and training
        # diverges (O(5) task: training loss 1e6 within 30 steps, test MSE 1e3 instead of 0.02)
        self.bilinear = (
            EquivariantBilinear(width, width, scale=BILINEAR_SCALE)
            if bilinear_paths(width, width)
            else None
        )
        self.gate = GatedNonlinearity(hidden)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep_in.dim:
            raise ValueError(
                f"EMLPBlock: expected inputs [..., {self.rep_in.dim}] for rep_in {self.rep_in} "
                f"(got {list(x.shape)})"
            )
        flat = x.reshape(-1, x.shape[-1])
        return self.forward_t(flat.t()).t().reshape(*x.shape[:-1], self.rep_out.dim)

    def forward_t(self, xt: Tensor) -> Tensor:
        """The same map on feature-major inputs ``[rep_in.dim, B] → [hidden.dim, B]``: the
        bilinear products vectorise over a contiguous batch, so the block stays in this layout."""
        h = self.linear.forward_t(xt)
        if self.bilinear is not None:
            h = self.bilinear.forward_t(h, residual=True)
        return self.gate.forward_t(h)


class EMLP(EquivariantSequential):
    """Equivariant MLP for any ``rep_in → rep_out`` of a group (Finzi et al. 2021,
    https://arxiv.org/abs/2104.09459): ``f(ρ_in(g)x) = ρ_out(g)f(x)`` for every g ∈ G.

    Args:
        rep_in: input representation (``d_in``).
        rep_out: output representation (``d_out``), same group.
        hidden: the hidden representation, or a channel budget for `uniform_rep`.
        num_layers: number of `EMLPBlock`s before the output layer.

    Shapes:
        ``[B, d_in] → [B, d_out]``.

    Example:
        >>> import torch
        >>> from symml.groups import O
        >>> from symml.reps import standard, trivial
        >>> model = EMLP(2 * standard(O(5)), trivial(O(5)), hidden=64, num_layers=2)
        >>> model(torch.randn(8, 10)).shape
        torch.Size([8, 1])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, hidden: int | Rep = 384, num_layers: int = 3):
        check_positive(num_layers, "EMLP", "num_layers")
        if not isinstance(rep_in, Rep):
            raise TypeError(
                f"EMLP: expected rep_in to be a symml Rep, e.g. 2 * standard(O(3)) "
                f"(got {type(rep_in).__name__})"
            )
        if isinstance(hidden, Rep):
            if hidden.group != rep_in.group:
                raise ValueError(
                    f"EMLP: expected hidden as a representation of {rep_in.group!r}, the group of "
                    f"rep_in (got one of {hidden.group!r})"
                )
            hidden_rep = hidden
        elif isinstance(hidden, int) and not isinstance(hidden, bool) and hidden >= 1:
            hidden_rep = uniform_rep(rep_in.group, hidden)
        else:
            raise ValueError(
                "EMLP: expected hidden as an integer channel budget >= 1 or a Rep of "
                f"{rep_in.group!r} (got {hidden!r})"
            )
        blocks: list[nn.Module] = []
        prev = rep_in
        for _ in range(num_layers):
            blocks.append(EMLPBlock(prev, hidden_rep))
            prev = hidden_rep
        blocks.append(EquivariantLinear(prev, rep_out))
        super().__init__(*blocks)
        self.hidden = hidden_rep
        self._dims = (rep_in.dim, rep_out.dim)

    def forward(self, x: Tensor) -> Tensor:
        d_in, d_out = self._dims
        if not isinstance(x, Tensor) or x.dim() == 0 or x.shape[-1] != d_in:
            got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"EMLP: expected inputs [..., {d_in}] for rep_in {self.rep_in} (got {got})"
            )
        check_like(x, reference_tensor(self), "EMLP")
        # one transpose in and one out: every layer works feature-major ([d, B]) in between
        h = x.reshape(-1, d_in).t()
        for module in self:
            h = cast(EMLPBlock | EquivariantLinear, module).forward_t(h)
        return h.t().reshape(*x.shape[:-1], d_out)


class MLP(nn.Sequential):
    """The plain baseline: ``num_layers`` hidden layers of width ``hidden`` with SiLU (emlp's
    "3 × 384 Swish" MLP). It is typed with ``rep_in`` / ``rep_out`` of the group the EMLP claims
    only so that `symml.testing` can show that it is *not* equivariant.

    Shapes:
        ``[B, d_in] → [B, d_out]``.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, hidden: int = 384, num_layers: int = 3):
        check_positive(hidden, "MLP", "hidden")
        check_positive(num_layers, "MLP", "num_layers")
        widths = [rep_in.dim] + [hidden] * num_layers
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(a, b), nn.SiLU()]
        layers.append(nn.Linear(widths[-1], rep_out.dim))
        super().__init__(*layers)
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, rep_in.group

    def forward(self, x: Tensor) -> Tensor:
        """``[B, d_in] -> [B, d_out]``, with the same input checks as `EMLP`."""
        d_in = self.rep_in.dim
        if not isinstance(x, Tensor) or x.dim() == 0 or x.shape[-1] != d_in:
            got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"MLP: expected inputs [..., {d_in}] for rep_in {self.rep_in} (got {got})"
            )
        check_like(x, reference_tensor(self), "MLP")
        return super().forward(x)


def build_emlp(
    rep_in: str | Rep = "2*V",
    rep_out: str | Rep = "S",
    group: str | Group = "O5",
    hidden: int = 384,
    num_layers: int = 3,
) -> EMLP:
    """The registry's ``emlp``: defaults are the O(5) synthetic task of docs/published.md §5
    (2V → scalar, 3 layers, 384 channels); the inertia task is ``rep_in="5*S + 5*V",
    rep_out="T(2)", group="O3"``.
    """
    g = _group(group)
    return EMLP(resolve_rep(rep_in, g), resolve_rep(rep_out, g), hidden, num_layers)


def build_mlp(
    rep_in: str | Rep = "2*V",
    rep_out: str | Rep = "S",
    group: str | Group = "O5",
    hidden: int = 384,
    num_layers: int = 3,
) -> MLP:
    """The registry's ``mlp``: the plain baseline with the EMLP's width and depth."""
    g = _group(group)
    return MLP(resolve_rep(rep_in, g), resolve_rep(rep_out, g), hidden, num_layers)
