"""`EGNNConv`: the E(n)-equivariant graph convolution of Satorras, Hoogeboom & Welling (2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from torch import Tensor, nn

from symml.groups import E
from symml.nn._checks import (
    check_finite,
    check_flag,
    check_like,
    check_positive,
    check_real,
    reference_tensor,
)
from symml.nn._kernels import EdgeOptions, Weights
from symml.nn.gnn._checks import (
    check_edges,
    check_graph,
    check_nodes,
    check_sizes,
    in_degree_inverse,
)
from symml.nn.gnn._edge_mlp import fused_edges
from symml.reps import GraphRep, NodeRep, PointRep, trivial

Aggregation = Literal["sum", "mean"]


@dataclass(frozen=True)
class EGNNOptions:
    """How an `EGNNConv` forms and sums its messages (defaults: the published layer).

    Attributes:
        attention: gate messages with a learned sigmoid.
        residual: ``h' = h + φ_h(...)`` (the original's ``recurrent=True``).
        normalize: use ``(x_i − x_j)/(‖x_i − x_j‖ + 1)`` in the coordinate update.
        clamp: bound on ``|φ_x(m_ij)|`` (None: unbounded).
        aggr: ``"sum"`` (original) or ``"mean"`` over incoming messages for φ_h.
        coords_aggr: ``"mean"`` (original) or ``"sum"`` over incoming coordinate updates.

    Example:
        >>> EGNNOptions(attention=True, clamp=None).coords_aggr
        'mean'
    """

    attention: bool = False
    residual: bool = True
    normalize: bool = False
    clamp: float | None = 100.0
    aggr: Aggregation = "sum"
    coords_aggr: Aggregation = "mean"

    def __post_init__(self) -> None:
        for flag in ("attention", "residual", "normalize"):
            check_flag(getattr(self, flag), "EGNNConv", flag)
        for name in ("aggr", "coords_aggr"):
            if getattr(self, name) not in ("sum", "mean"):
                raise ValueError(
                    f"EGNNConv: expected {name} 'sum' or 'mean' (got {getattr(self, name)!r})"
                )
        if self.clamp is not None:
            clamp = check_real(self.clamp, "EGNNConv", "clamp", positive=True, also=" or None")
            object.__setattr__(self, "clamp", clamp)  # frozen: the checked float replaces it

    def edges(self) -> EdgeOptions:
        """The edge kernel's options for these (positions and the node MLP always on)."""
        return EdgeOptions(
            distance=True,
            coords=True,
            attention=self.attention,
            normalize=self.normalize,
            clamp=self.clamp,
            messages_mean=self.aggr == "mean",
            coords_mean=self.coords_aggr == "mean",
            node=True,
            residual=self.residual,
        )


class EGNNConv(nn.Module):
    r"""E(n)-equivariant graph convolution (Satorras et al. 2021, https://arxiv.org/abs/2102.09844),
    with the velocity variant (``E_GCL_vel``) as an option.

    For every edge ``j → i`` (``j = edge_index[0]``, ``i = edge_index[1]``)::

        m_ij  = φ_e(h_i, h_j, ‖x_i − x_j‖², a_ij)                 2-layer SiLU MLP
        m_ij ← m_ij · sigmoid(w·m_ij + b)                          (options.attention)
        x_i'  = x_i + mean_j (x_i − x_j) · clamp(φ_x(m_ij), ±c)  [+ φ_v(h_i) v_i]
        h_i'  = h_i + φ_h(h_i, Σ_j m_ij)                          (options.residual)

    with ``x_i − x_j`` divided by ``‖x_i − x_j‖ + 1`` when ``options.normalize``. The MLPs have the
    published depths and widths: φ_e = Linear(2F + 1 + A, H), SiLU, Linear(H, H), SiLU;
    φ_x = Linear(H, H), SiLU, Linear(H, 1, no bias, xavier gain 0.001); φ_v = Linear(F, H), SiLU,
    Linear(H, 1); φ_h = Linear(F + H, H), SiLU, Linear(H, F_out).

    Equivariance: for g = (R, t) ∈ E(n), ``(h, Rx + t, Rv) ↦ (h', Rx' + t)``; h' is invariant.
    The original clamps the components of ``(x_i − x_j)·φ_x(m_ij)`` to ±100, which is not exactly
    equivariant; here the scalar ``φ_x(m_ij)`` is clamped to ``±options.clamp``, which is.

    Implementation: the first layer of φ_e is applied to the node features before the gather
    (``W[h_i, h_j, d, a] = W_i h_i + W_j h_j + w_d d + W_a a``) and the edge pipeline is one fused
    pass over cache-sized chunks of edges that keeps only three pre-activations per edge for the
    backward pass (`symml.nn.gnn._edge_mlp` has it in plain ops; `symml.nn._kernels.edges`).

    Args:
        in_features: F, width of the invariant node features h.
        out_features: width of h' (default F; must equal F with ``residual``).
        hidden: H, width of the messages and hidden layers (EGNN uses 64).
        dim: n, the dimension of the coordinates.
        edge_dim: A, width of the invariant edge attributes (0: none).
        velocity: add ``φ_v(h_i) v_i`` to the coordinate update (EGNN_vel); ``vel`` is required.
        options: attention, residual, normalisation, clamp and aggregations (`EGNNOptions`).

    Shapes:
        h ``[N, F]``, pos ``[N, n]``, edge_index ``[2, E]``, vel ``[N, n]``, edge_attr ``[E, A]``
        → ``(h' [N, F_out], x' [N, n])``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import EGNNConv, fully_connected_graph
        >>> conv = EGNNConv(4, hidden=16)
        >>> h, pos = torch.randn(5, 4), torch.randn(5, 3)
        >>> h2, pos2 = conv(h, pos, fully_connected_graph(5))
        >>> h2.shape, pos2.shape
        (torch.Size([5, 4]), torch.Size([5, 3]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        hidden: int = 64,
        *,
        dim: int = 3,
        edge_dim: int = 0,
        velocity: bool = False,
        options: EGNNOptions = EGNNOptions(),
    ) -> None:
        super().__init__()
        out_features = in_features if out_features is None else out_features
        check_sizes("EGNNConv", in_features=in_features, out_features=out_features, hidden=hidden)
        check_sizes("EGNNConv", dim=dim)
        check_positive(edge_dim, "EGNNConv", "edge_dim", minimum=0)
        if not isinstance(options, EGNNOptions):
            raise TypeError(
                f"EGNNConv: expected options as an EGNNOptions, e.g. EGNNOptions(attention=True) "
                f"(got {type(options).__name__})"
            )
        if options.residual and out_features != in_features:
            raise ValueError(
                f"EGNNConv: residual=True adds h to φ_h(...), so out_features must equal "
                f"in_features ({in_features}), got {out_features}; pass "
                "options=EGNNOptions(residual=False)"
            )
        self.in_features, self.out_features, self.hidden = in_features, out_features, hidden
        self.dim, self.edge_dim, self.velocity, self.options = dim, edge_dim, velocity, options
        self._edges = options.edges()
        act = nn.SiLU
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * in_features + 1 + edge_dim, hidden),
            act(),
            nn.Linear(hidden, hidden),
            act(),
        )
        self.att_mlp = (
            nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid()) if options.attention else None
        )
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)
        self.coord_mlp = nn.Sequential(nn.Linear(hidden, hidden), act(), last)
        self.vel_mlp = (
            nn.Sequential(nn.Linear(in_features, hidden), act(), nn.Linear(hidden, 1))
            if velocity
            else None
        )
        self.node_mlp = nn.Sequential(
            nn.Linear(in_features + hidden, hidden), act(), nn.Linear(hidden, out_features)
        )
        self.group = E(dim)
        scalars = trivial(self.group)
        self.rep_in = GraphRep(self.group, node=scalars * in_features, vectors=("vel",))
        self.rep_out = (NodeRep(scalars * out_features), PointRep(self.group))

    def forward(
        self,
        h: Tensor,
        pos: Tensor,
        edge_index: Tensor,
        vel: Tensor | None = None,
        edge_attr: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        n = check_nodes("EGNNConv", "h", h, None, self.in_features)
        check_like(h, reference_tensor(self), "EGNNConv", "h")
        if isinstance(pos, Tensor):
            check_like(pos, h, "EGNNConv", "pos")
        check_graph("EGNNConv", pos, edge_index, n, self.dim)
        check_nodes("EGNNConv", "pos", pos, n, self.dim)
        if self.velocity and vel is None:
            raise ValueError("EGNNConv: built with velocity=True, so forward needs vel [N, dim]")
        check_nodes("EGNNConv", "vel", vel, n, self.dim)
        if vel is not None:
            check_finite(vel, "EGNNConv", "vel")
        check_edges("EGNNConv", edge_attr, edge_index.shape[1], self.edge_dim)
        weights = self.edge_weights()
        opts = self._edges
        mean = opts.messages_mean or opts.coords_mean
        inv_deg = in_degree_inverse(edge_index, n, h.dtype) if mean else None
        # one pass: messages, x + T and h' = [h +] φ_h([h, M]) (`_edge_mlp`, option `node`)
        h_out, pos_out = fused_edges(opts, edge_index, inv_deg, h, pos, edge_attr, weights)
        if self.vel_mlp is not None:
            assert vel is not None  # checked above
            pos_out = pos_out + self.vel_mlp(h) * vel
        return h_out, pos_out

    def edge_weights(self) -> Weights:
        """The parameters of φ_e, the attention gate, φ_x and φ_h as the edge pipeline takes
        them (`symml.nn.gnn._edge_mlp`)."""
        first, second = _linear(self.edge_mlp[0]), _linear(self.edge_mlp[2])
        coord_hidden, coord_out = _linear(self.coord_mlp[0]), _linear(self.coord_mlp[2])
        att = _linear(self.att_mlp[0]) if self.att_mlp is not None else None
        return Weights(
            w_1=first.weight,
            b_1=first.bias,
            w_2=second.weight,
            b_2=second.bias,
            w_att=att.weight if att is not None else None,
            b_att=att.bias if att is not None else None,
            w_3=coord_hidden.weight,
            b_3=coord_hidden.bias,
            w_4=coord_out.weight,
            **_node_weights(self.node_mlp),
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, hidden={self.hidden}, dim={self.dim}, "
            f"edge_dim={self.edge_dim}, velocity={self.velocity}, options={self.options}"
        )


def _linear(module: nn.Module) -> nn.Linear:
    """A sub-module known to be an ``nn.Linear`` (``nn.Sequential`` indexing is untyped)."""
    return cast(nn.Linear, module)


def _node_weights(node_mlp: nn.Sequential) -> dict[str, Tensor]:
    """The `Weights` fields of φ_h = Linear, SiLU, Linear."""
    first, second = _linear(node_mlp[0]), _linear(node_mlp[2])
    return {"w_n1": first.weight, "b_n1": first.bias, "w_n2": second.weight, "b_n2": second.bias}
