"""`TensorFieldConv`: SE(3)/E(3)-equivariant convolution on e3nn irreps (TFN / NequIP style)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet, Gate
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from symml.groups import O3, SE, SO3, E, SemidirectProduct
from symml.nn._checks import (
    check_choice,
    check_like,
    check_positive,
    check_real,
    reference_tensor,
)
from symml.nn.gnn._checks import check_edges, check_graph, check_nodes, check_sizes
from symml.reps import GraphRep, NodeRep, Rep, from_e3nn, pullback, to_e3nn
from symml.reps.rep import Pullback

RepSpec = Rep | str


class TensorFieldConv(nn.Module):
    r"""Tensor-field convolution (Thomas et al. 2018, https://arxiv.org/abs/1802.08219) in the
    NequIP form, built from e3nn::

        m_i  = agg_j TP_uvu(x_j, Y(x_j − x_i); R(‖x_j − x_i‖, a_ij))
        y_i  = Gate(Linear(m_i) + Linear_self(x_i))

    ``Y`` are the spherical harmonics up to ``lmax``; ``R`` is an MLP (e3nn ``FullyConnectedNet``)
    on a smooth radial basis (``soft_one_hot_linspace``; with ``cutoff`` it vanishes smoothly at
    ``max_radius``) plus optional invariant edge attributes, giving the per-edge weights of an
    e3nn ``TensorProduct`` with ``uvu`` paths (every path ``ir_in ⊗ Y_l → ir`` that ``rep_out``
    needs); ``Linear`` are e3nn ``o3.Linear`` self-interactions and the nonlinearity is e3nn's
    ``Gate`` (SiLU / tanh on scalars by parity, sigmoid gates on the others).

    Equivariance: for reps of O(3) the layer is E(3)-equivariant, reflections included:
    ``(ρ_in(R) x, R pos + t) ↦ ρ_out(R) y``. For reps of SO(3) it is SE(3)-equivariant only and
    may be chiral: the spherical harmonics are fed in with both parities, which opens paths such
    as the cross product of two vectors.

    Args:
        rep_in / rep_out: symml reps of O3() or SO3() (or pulled back to E(3) / SE(3)), or e3nn
            irreps strings such as ``"8x0e + 4x1o"`` (O(3)); any basis (converted with `to_e3nn`,
            with its change of basis applied to the features).
        lmax: largest degree of the spherical harmonics.
        edge_dim: width of invariant edge attributes fed to the radial MLP.
        num_basis: size of the radial basis.
        max_radius: end of the radial basis.
        cutoff: smooth cutoff at ``max_radius`` (edges beyond contribute nothing); without it a
            Gaussian basis on ``[0, max_radius]``.
        radial_hidden: width of the radial MLP's hidden layer.
        gate: apply the gate nonlinearity (off for a final linear layer).
        aggr: ``"mean"`` or ``"sum"`` over incoming edges.

    Attributes:
        irreps_in / irreps_out: e3nn ``Irreps`` with exactly the layout of the input / output
            (for e3nn tools such as ``e3nn.util.test.assert_equivariant``), or None when the rep
            is not a plain sum of irreps (e.g. ``standard(O3())``, in (x, y, z) order).

    Shapes:
        x ``[N, rep_in.dim]``, pos ``[N, 3]``, edge_index ``[2, E]``, edge_attr ``[E, edge_dim]`` →
        ``[N, rep_out.dim]``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import TensorFieldConv, fully_connected_graph
        >>> conv = TensorFieldConv("1x0e + 1x1o", "4x0e + 2x1o", lmax=1)
        >>> conv.rep_out.fibre.dim
        10
        >>> conv(torch.randn(5, 4), torch.randn(5, 3), fully_connected_graph(5)).shape
        torch.Size([5, 10])
    """

    q_in: Tensor | None
    q_out: Tensor | None

    def __init__(
        self,
        rep_in: RepSpec,
        rep_out: RepSpec,
        *,
        lmax: int = 2,
        edge_dim: int = 0,
        num_basis: int = 8,
        max_radius: float = 2.5,
        cutoff: bool = True,
        radial_hidden: int = 64,
        gate: bool = True,
        aggr: Literal["mean", "sum"] = "mean",
    ) -> None:
        super().__init__()
        point_in, point_out = _point_reps(rep_in, rep_out)
        _check_options(lmax, edge_dim, num_basis, max_radius, radial_hidden, aggr)
        chiral = isinstance(point_in.group, SO3)
        self.group: SemidirectProduct = SE(3) if chiral else E(3)
        self.rep_in = GraphRep(self.group, node=pullback(point_in, self.group))
        self.in_dim = point_in.dim
        self.rep_out = NodeRep(pullback(point_out, self.group))
        self.lmax, self.edge_dim, self.num_basis = lmax, edge_dim, num_basis
        self.max_radius, self.cutoff, self.aggr = float(max_radius), cutoff, aggr

        irreps_in, q_in = _e3nn_basis(point_in)
        irreps_out, q_out = _e3nn_basis(point_out)
        self.irreps_in, self.irreps_out = _plain_irreps(point_in), _plain_irreps(point_out)
        # kept in float64 and cast per call: a float32 copy would cap float64 runs at 1e-8
        self.register_buffer("q_in", q_in, persistent=False)
        self.register_buffer("q_out", q_out, persistent=False)
        self.gate = _gate(irreps_out) if gate else None
        target = self.gate.irreps_in if self.gate is not None else irreps_out
        self.sh_irreps = o3.Irreps.spherical_harmonics(lmax)
        edge_irreps = self.sh_irreps + _flip_parity(self.sh_irreps) if chiral else self.sh_irreps
        self.chiral = chiral
        mid, instructions = _checked_paths(irreps_in, edge_irreps, target, irreps_out, lmax)
        self.tp = o3.TensorProduct(
            irreps_in,
            edge_irreps,
            mid,
            instructions,
            internal_weights=False,
            shared_weights=False,
        )
        self.radial = FullyConnectedNet(
            [num_basis + edge_dim, radial_hidden, self.tp.weight_numel], F.silu
        )
        self.linear = o3.Linear(mid, target)
        self.self_interaction = o3.Linear(irreps_in, target)

    def forward(
        self, x: Tensor, pos: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None
    ) -> Tensor:
        n = check_nodes("TensorFieldConv", "x", x, None, self.in_dim)
        check_like(x, reference_tensor(self), "TensorFieldConv", "x")
        if isinstance(pos, Tensor):
            check_like(pos, x, "TensorFieldConv", "pos")
        check_graph("TensorFieldConv", pos, edge_index, n, 3)
        check_nodes("TensorFieldConv", "pos", pos, n, 3)
        check_edges("TensorFieldConv", edge_attr, edge_index.shape[1], self.edge_dim)
        if self.q_in is not None:
            x = x @ self.q_in.to(x.dtype)
        src, dst = edge_index
        vec = pos.index_select(0, src) - pos.index_select(0, dst)
        sh = o3.spherical_harmonics(self.sh_irreps, vec, normalize=True, normalization="component")
        if self.chiral:
            sh = torch.cat([sh, sh], dim=1)
        radial = self.radial(self.embed(vec.norm(dim=1), edge_attr))
        messages = self.tp(x.index_select(0, src), sh, radial)
        out = self.linear(scatter(messages, dst, 0, dim_size=n, reduce=self.aggr))
        out = out + self.self_interaction(x)
        if self.gate is not None:
            out = self.gate(out)
        return out if self.q_out is None else out @ self.q_out.to(out.dtype).T

    def embed(self, length: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """The radial MLP's input: ``[E, num_basis (+ edge_dim)]``."""
        basis = "smooth_finite" if self.cutoff else "gaussian"
        emb = soft_one_hot_linspace(
            length, 0.0, self.max_radius, self.num_basis, basis=basis, cutoff=self.cutoff
        ).mul(math.sqrt(self.num_basis))
        return emb if edge_attr is None else torch.cat([emb, edge_attr], dim=1)

    def extra_repr(self) -> str:
        return (
            f"{self.rep_in.node} -> {self.rep_out.fibre}, lmax={self.lmax}, "
            f"edge_dim={self.edge_dim}, gate={self.gate is not None}, chiral={self.chiral}"
        )


def _point_reps(rep_in: RepSpec, rep_out: RepSpec) -> tuple[Rep, Rep]:
    """``rep_in`` and ``rep_out`` as reps of one group, O3() or SO3()."""
    point_in, point_out = _point_rep(rep_in, "rep_in"), _point_rep(rep_out, "rep_out")
    if point_in.group != point_out.group:
        raise ValueError(
            f"TensorFieldConv: rep_in is a rep of {point_in.group!r}, rep_out of "
            f"{point_out.group!r}; expected both of O3() or both of SO3()"
        )
    return point_in, point_out


def _check_options(
    lmax: int, edge_dim: int, num_basis: int, max_radius: float, radial_hidden: int, aggr: str
) -> None:
    if isinstance(lmax, bool) or not isinstance(lmax, int) or lmax < 0:
        raise ValueError(f"TensorFieldConv: expected lmax as an integer >= 0 (got {lmax!r})")
    check_sizes("TensorFieldConv", num_basis=num_basis, radial_hidden=radial_hidden)
    check_positive(edge_dim, "TensorFieldConv", "edge_dim", minimum=0)
    check_real(max_radius, "TensorFieldConv", "max_radius", positive=True)
    check_choice(aggr, ("mean", "sum"), "TensorFieldConv", "aggr")


def _point_rep(rep: RepSpec, name: str) -> Rep:
    """A rep of O3() / SO3() from a rep of it, of E(3) / SE(3) pulled back from it, or a string."""
    if isinstance(rep, str):
        return from_e3nn(rep)
    if not isinstance(rep, Rep):
        raise TypeError(
            f"TensorFieldConv: expected {name} as a symml Rep or an e3nn irreps string (got "
            f"{type(rep).__name__})"
        )
    if isinstance(rep, Pullback):
        rep = rep.rep
    if not isinstance(rep.group, (O3, SO3)):
        raise ValueError(
            f"TensorFieldConv: expected {name} as a rep of O3() or SO3() (or E(3) / SE(3)), got "
            f"one of {rep.group!r}"
        )
    return rep


def _e3nn_basis(rep: Rep) -> tuple[o3.Irreps, Tensor | None]:
    """e3nn irreps sorted by degree (scalars first, as the gate needs) and the orthogonal ``Q``
    with ``rep(g) = Q D(g) Qᵀ`` (None when it is the identity)."""
    irreps, q = to_e3nn(rep, change_of_basis=True)
    ordered = irreps.sort()
    starts = [0]
    for mul, ir in irreps:
        starts.append(starts[-1] + mul * ir.dim)
    columns = [
        torch.arange(starts[old], starts[old + 1]) for old in ordered.inv
    ]  # block k of the sorted irreps is block inv[k] of the original
    q = q[:, torch.cat(columns)] if columns else q
    eye = torch.eye(q.shape[0], dtype=q.dtype)
    if torch.equal(q, eye):
        return ordered.irreps.simplify(), None
    return ordered.irreps.simplify(), q


def _plain_irreps(rep: Rep) -> o3.Irreps | None:
    """e3nn irreps laid out exactly as ``rep``'s coordinates, or None if it needs a change of
    basis."""
    try:
        return to_e3nn(rep)
    except ValueError:
        return None


def _flip_parity(irreps: o3.Irreps) -> o3.Irreps:
    return o3.Irreps([(mul, (ir.l, -ir.p)) for mul, ir in irreps])


def _gate(irreps_out: o3.Irreps) -> Gate:
    scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l > 0])
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    return Gate(
        scalars,
        [F.silu if ir.p == 1 else torch.tanh for _, ir in scalars],
        gates,
        [torch.sigmoid] * len(gates),
        gated,
    )


def _checked_paths(
    irreps_in: o3.Irreps,
    irreps_edge: o3.Irreps,
    target: o3.Irreps,
    irreps_out: o3.Irreps,
    lmax: int,
) -> tuple[o3.Irreps, list[tuple[int, int, int, str, bool]]]:
    """`_uvu_paths`, or a ValueError naming the output irreps that no path (and no
    self-interaction) reaches."""
    mid, instructions = _uvu_paths(irreps_in, irreps_edge, target)
    reachable = {ir for _, ir in mid} | {ir for _, ir in irreps_in}
    missing = [str(ir) for _, ir in irreps_out if ir not in reachable]
    if not instructions or missing:
        raise ValueError(
            f"TensorFieldConv: no path from rep_in ({irreps_in}) ⊗ Y^(l<={lmax}) to "
            f"{', '.join(missing) or 'rep_out'} in rep_out ({irreps_out}); raise lmax or "
            "change the reps"
        )
    return mid, instructions


def _uvu_paths(
    irreps_in: o3.Irreps, irreps_edge: o3.Irreps, target: o3.Irreps
) -> tuple[o3.Irreps, list[tuple[int, int, int, str, bool]]]:
    """Every ``uvu`` path ``ir_in ⊗ ir_edge → ir`` with ``ir`` in ``target``: the output irreps
    (one block per path, multiplicity of the input) and e3nn instructions."""
    wanted = {ir for _, ir in target}
    mid: list[tuple[int, o3.Irrep]] = []
    instructions = []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for k, (_, ir_edge) in enumerate(irreps_edge):
            for ir in ir_in * ir_edge:
                if ir in wanted:
                    instructions.append((i, k, len(mid), "uvu", True))
                    mid.append((mul, ir))
    return o3.Irreps(mid), instructions
