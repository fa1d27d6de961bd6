"""`GNNConv`: the plain message-passing layer (EGNN's ``GCL``), the baselines' building block."""

from __future__ import annotations

from torch import Tensor, nn

from symml.groups import E
from symml.nn._checks import check_like, check_positive, reference_tensor
from symml.nn.gnn._checks import (
    check_edges,
    check_graph,
    check_nodes,
    check_sizes,
    in_degree_inverse,
)
from symml.nn.gnn._edge_mlp import EdgeOptions, Weights, fused_edges
from symml.nn.gnn.egnn import Aggregation, _linear, _node_weights
from symml.reps import GraphRep, NodeRep, trivial


class GNNConv(nn.Module):
    r"""Plain message passing (the ``GCL`` layer of the EGNN paper's GNN baseline,
    https://arxiv.org/abs/2102.09844): an edge MLP on ``[h_i, h_j, a_ij]`` and a node MLP with a
    residual connection::

        m_ij = φ_e(h_i, h_j, a_ij)            Linear(2F + A, H), SiLU, Linear(H, H), SiLU
        h_i' = h_i + φ_h(h_i, Σ_j m_ij)       Linear(F + H, H), SiLU, Linear(H, F_out)

    Coordinates take no special role: a model that wants them feeds them in as features, which
    is what makes the `gnn` baseline *not* equivariant. The layer itself only sees ``h``, so it is
    equivariant to node permutations, and invariant to E(n) when ``h`` and ``a`` are.

    It runs on the same fused edge pipeline as `EGNNConv` (first layer applied to nodes before
    the gather; chunked, memory-lean backward), so the two compare like for like.

    Args:
        in_features: F.
        out_features: F_out (default F; must equal F with ``residual``).
        hidden: H (the EGNN paper uses 64).
        edge_dim: A, width of the edge attributes (0: none).
        residual: ``h' = h + φ_h(...)``.
        aggr: ``"sum"`` (original) or ``"mean"`` over incoming messages.
        dim: the dimension n of ``E(n)`` in ``rep_in`` (the layer itself never reads positions).

    Shapes:
        h ``[N, F]``, edge_index ``[2, E]``, edge_attr ``[E, A]`` → h' ``[N, F_out]``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import GNNConv, fully_connected_graph
        >>> conv = GNNConv(6, hidden=16)
        >>> conv(torch.randn(5, 6), fully_connected_graph(5)).shape
        torch.Size([5, 6])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        hidden: int = 64,
        *,
        edge_dim: int = 0,
        residual: bool = True,
        aggr: Aggregation = "sum",
        dim: int = 3,
    ) -> None:
        super().__init__()
        out_features = in_features if out_features is None else out_features
        check_sizes("GNNConv", in_features=in_features, out_features=out_features, hidden=hidden)
        check_sizes("GNNConv", dim=dim)
        check_positive(edge_dim, "GNNConv", "edge_dim", minimum=0)
        if residual and out_features != in_features:
            raise ValueError(
                f"GNNConv: residual=True needs out_features == in_features ({in_features}), got "
                f"{out_features}; pass residual=False"
            )
        if aggr not in ("sum", "mean"):
            raise ValueError(f"GNNConv: expected aggr 'sum' or 'mean' (got {aggr!r})")
        self.in_features, self.out_features, self.hidden = in_features, out_features, hidden
        self.edge_dim, self.residual = edge_dim, residual
        self.options = EdgeOptions(
            distance=False,
            coords=False,
            messages_mean=aggr == "mean",
            node=True,
            residual=residual,
        )
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * in_features + edge_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
        )
        self.node_mlp = nn.Sequential(
            nn.Linear(in_features + hidden, hidden), nn.SiLU(), nn.Linear(hidden, out_features)
        )
        self.group = E(dim)
        scalars = trivial(self.group)
        self.rep_in = GraphRep(self.group, node=scalars * in_features)
        self.rep_out = NodeRep(scalars * out_features)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        n = check_nodes("GNNConv", "h", h, None, self.in_features)
        check_like(h, reference_tensor(self), "GNNConv", "h")
        check_graph("GNNConv", None, edge_index, n)
        check_edges("GNNConv", edge_attr, edge_index.shape[1], self.edge_dim)
        first, second = _linear(self.edge_mlp[0]), _linear(self.edge_mlp[2])
        weights = Weights(
            w_1=first.weight,
            b_1=first.bias,
            w_2=second.weight,
            b_2=second.bias,
            w_att=None,
            b_att=None,
            w_3=None,
            b_3=None,
            w_4=None,
            **_node_weights(self.node_mlp),
        )
        inv_deg = in_degree_inverse(edge_index, n, h.dtype) if self.options.messages_mean else None
        # one pass: messages and h' = [h +] φ_h([h, M]) (`_edge_mlp`, option `node`)
        h_out, _ = fused_edges(self.options, edge_index, inv_deg, h, None, edge_attr, weights)
        return h_out

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, hidden={self.hidden}, "
            f"edge_dim={self.edge_dim}, residual={self.residual}"
        )
