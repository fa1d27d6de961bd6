"""`RadialFieldConv`: the radial-field layer of Köhler et al., as used in the EGNN paper."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from symml.groups import E
from symml.nn._checks import check_finite, check_like, check_positive, reference_tensor
from symml.nn.gnn._checks import check_edges, check_graph, check_nodes, check_sizes
from symml.reps import GraphRep, PointRep


class RadialFieldConv(MessagePassing):
    r"""Radial-field update of positions (Köhler, Klein & Noé 2019,
    https://arxiv.org/abs/1910.00753; the ``GCL_rf_vel`` layer of the EGNN paper's N-body
    baseline, https://arxiv.org/abs/2102.09844)::

        x_i' = x_i + mean_j (x_i − x_j) · φ(‖x_i − x_j‖, a_ij)  [+ v_i · φ_v(‖v_i‖)]

    where φ = Linear(1 + A, H), SiLU, Linear(H, 1, no bias, xavier gain 0.001), tanh, and
    φ_v = Linear(1, H), SiLU, Linear(H, 1). Messages are vectors along the edges weighted by
    invariants, so the layer is E(n)-equivariant: ``(Rx + t, Rv) ↦ Rx' + t``.

    Args:
        hidden: H (the EGNN paper uses 64).
        dim: n, the dimension of the coordinates.
        edge_dim: A, width of the invariant edge attributes (0: none).
        velocity: add ``v_i · φ_v(‖v_i‖)`` (RF_vel); ``vel`` is then required.

    Shapes:
        pos ``[N, n]``, edge_index ``[2, E]``, vel ``[N, n]``, edge_attr ``[E, A]`` →
        x' ``[N, n]``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import RadialFieldConv, fully_connected_graph
        >>> conv = RadialFieldConv(hidden=16, velocity=True)
        >>> pos, vel = torch.randn(4, 3), torch.randn(4, 3)
        >>> conv(pos, fully_connected_graph(4), vel=vel).shape
        torch.Size([4, 3])
    """

    def __init__(
        self, hidden: int = 64, *, dim: int = 3, edge_dim: int = 0, velocity: bool = False
    ) -> None:
        super().__init__(aggr="mean")
        check_sizes("RadialFieldConv", hidden=hidden, dim=dim)
        check_positive(edge_dim, "RadialFieldConv", "edge_dim", minimum=0)
        self.hidden, self.dim, self.edge_dim, self.velocity = hidden, dim, edge_dim, velocity
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)
        self.phi = nn.Sequential(nn.Linear(1 + edge_dim, hidden), nn.SiLU(), last, nn.Tanh())
        self.vel_mlp = (
            nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, 1))
            if velocity
            else None
        )
        self.group = E(dim)
        self.rep_in = GraphRep(self.group, vectors=("vel",))
        self.rep_out = PointRep(self.group)

    def forward(
        self,
        pos: Tensor,
        edge_index: Tensor,
        vel: Tensor | None = None,
        edge_attr: Tensor | None = None,
    ) -> Tensor:
        n = check_nodes("RadialFieldConv", "pos", pos, None, self.dim)
        check_like(pos, reference_tensor(self), "RadialFieldConv", "pos")
        check_graph("RadialFieldConv", pos, edge_index, n, self.dim)
        if self.velocity and vel is None:
            raise ValueError(
                "RadialFieldConv: built with velocity=True, so forward needs vel [N, dim]"
            )
        check_nodes("RadialFieldConv", "vel", vel, n, self.dim)
        if vel is not None:
            check_finite(vel, "RadialFieldConv", "vel")
        check_edges("RadialFieldConv", edge_attr, edge_index.shape[1], self.edge_dim)
        out = pos + self.propagate(edge_index, pos=pos, edge_attr=edge_attr)
        if self.vel_mlp is not None:
            assert vel is not None  # checked above
            out = out + vel * self.vel_mlp(vel.norm(dim=1, keepdim=True))
        return out

    def message(self, pos_i: Tensor, pos_j: Tensor, edge_attr: Tensor | None) -> Tensor:
        diff = pos_i - pos_j
        radial = diff.norm(dim=1, keepdim=True)
        features = radial if edge_attr is None else torch.cat([radial, edge_attr], dim=1)
        return diff * self.phi(features)

    def extra_repr(self) -> str:
        return (
            f"hidden={self.hidden}, dim={self.dim}, edge_dim={self.edge_dim}, "
            f"velocity={self.velocity}"
        )
