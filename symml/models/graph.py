"""N-body dynamics models of the EGNN paper (Satorras et al. 2021, docs/published.md §4b): from
positions, velocities and charges to the positions 1,000 steps later.

Input: a torch-geometric ``Data`` / ``Batch`` with ``pos [N, 3]``, ``vel [N, 3]``, ``edge_index``
and either ``edge_attr [E, 1]`` (q_i q_j, as `symml.data`'s ``nbody_charged`` provides) or
``charge [N, 1]`` (then ``edge_attr`` = q_i q_j is formed here); with neither, particles are
treated as uncharged (``edge_attr`` = 0). Output: predicted positions ``[N, 3]``.

===================  ============================================  ==========  ===========
name                 model                                         group       equivariant
===================  ============================================  ==========  ===========
``egnn``             EGNN_vel: h⁰ = Linear(‖v‖), 4 `EGNNConv`      E(3)        yes
``gnn``              Linear([x, v]) → 4 `GNNConv` → MLP → x         (E(3))      no
``radial_field``     RF_vel: 4 `RadialFieldConv`                   E(3)        yes
``tfn``              4 `TensorFieldConv` on (‖v‖, v) → Δx          E(3)        yes
``linear_dynamics``  x + t·v, learnable t (init 0.7)               E(3)        yes
===================  ============================================  ==========  ===========
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from symml.groups import O3, E
from symml.nn._checks import (
    check_finite,
    check_flag,
    check_like,
    check_positive,
    check_real,
    reference_tensor,
)
from symml.nn.gnn import (
    EGNNConv,
    GNNConv,
    GraphSequential,
    RadialFieldConv,
    TensorFieldConv,
    check_graph,
)
from symml.nn.gnn.egnn import EGNNOptions
from symml.reps import GraphRep, PointRep, from_e3nn, standard, trivial

__all__ = [
    "EGNNDynamics",
    "GNNDynamics",
    "LinearDynamics",
    "RadialFieldDynamics",
    "TFNDynamics",
    "build_egnn",
    "build_gnn",
    "build_linear_dynamics",
    "build_radial_field",
    "build_tfn",
]

DIM = 3


class _Dynamics(nn.Module):
    """Shared input handling and types: ``(pos, vel, charges) ↦ positions``, E(3)."""

    def __init__(self) -> None:
        super().__init__()
        self.group = E(DIM)
        self.rep_in = GraphRep(self.group, vectors=("vel",))
        self.rep_out = PointRep(self.group)

    def inputs(self, data: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(pos [N, 3], vel [N, 3], edge_index [2, E], edge_attr [E, 1])`` of a graph.

        A graph without nodes is a valid input (the output is ``[0, 3]``, one row per node);
        NaN or infinite inputs, and inputs of another dtype or device than the model's
        weights, are one-line errors naming the field.
        """
        name = type(self).__name__
        pos, vel = getattr(data, "pos", None), getattr(data, "vel", None)
        edge_index = getattr(data, "edge_index", None)
        for key, value in (("pos", pos), ("vel", vel), ("edge_index", edge_index)):
            if not isinstance(value, Tensor):
                raise ValueError(
                    f"{name}: expected a torch-geometric graph with `{key}` (pos [N, 3], "
                    f"vel [N, 3], edge_index [2, E]); it has none"
                )
        assert isinstance(pos, Tensor) and isinstance(vel, Tensor)  # narrowed by the loop
        assert isinstance(edge_index, Tensor)
        if pos.dim() != 2 or pos.shape[1] != DIM or vel.shape != pos.shape:
            raise ValueError(
                f"{name}: expected pos and vel of shape [N, {DIM}] (got {list(pos.shape)} and "
                f"{list(vel.shape)})"
            )
        check_like(pos, reference_tensor(self), name, "data.pos")
        check_like(vel, pos, name, "data.vel")
        check_graph(name, pos, edge_index, len(pos), DIM)
        check_finite(vel, name, "vel")
        edge_attr = getattr(data, "edge_attr", None)
        if edge_attr is None:
            charge = getattr(data, "charge", None)
            if isinstance(charge, Tensor):
                if (
                    charge.dim() not in (1, 2)
                    or charge.shape[0] != len(pos)
                    or charge.numel() < len(pos)
                ):
                    raise ValueError(
                        f"{name}: expected charge of shape [N, 1] with N = {len(pos)} nodes "
                        f"(got {list(charge.shape)})"
                    )
                check_like(charge, pos, name, "data.charge")
                check_finite(charge, name, "charge")
                q = charge[:, :1] if charge.dim() == 2 else charge[:, None]
                edge_attr = q[edge_index[0]] * q[edge_index[1]]
            else:
                edge_attr = pos.new_zeros(edge_index.shape[-1], 1)
        else:
            shape = list(edge_attr.shape) if isinstance(edge_attr, Tensor) else None
            if shape not in ([edge_index.shape[1]], [edge_index.shape[1], 1]):
                got = shape if shape is not None else type(edge_attr).__name__
                raise ValueError(
                    f"{name}: expected edge_attr of shape [E, 1] with E = "
                    f"{edge_index.shape[1]} edges (got {got})"
                )
            check_like(edge_attr, pos, name, "data.edge_attr")
            check_finite(edge_attr, name, "edge_attr")
            if edge_attr.dim() == 1:
                edge_attr = edge_attr[:, None]
        return pos, vel, edge_index, edge_attr


class EGNNDynamics(_Dynamics):
    """EGNN_vel: ``h⁰ = Linear(1, H)(‖v‖)``, then ``layers`` × `EGNNConv` (velocity variant,
    residual, edge attributes ``[q_i q_j, ‖x_i − x_j‖² of the input]``); returns the final x.
    E(3)-equivariant: ``(Rx + t, Rv, q) ↦ R x' + t``.

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> model = EGNNDynamics(hidden=16, layers=2)
        >>> data = Data(
        ...     pos=torch.randn(5, 3),
        ...     vel=torch.randn(5, 3),
        ...     charge=torch.ones(5, 1),
        ...     edge_index=fully_connected_graph(5),
        ... )
        >>> model(data).shape
        torch.Size([5, 3])
    """

    def __init__(self, hidden: int = 64, layers: int = 4, attention: bool = False) -> None:
        super().__init__()
        check_positive(hidden, "EGNNDynamics", "hidden")
        check_positive(layers, "EGNNDynamics", "layers")
        check_flag(attention, "EGNNDynamics", "attention")
        self.embedding = nn.Linear(1, hidden)
        options = EGNNOptions(attention=attention)
        self.layers = nn.ModuleList(
            EGNNConv(hidden, hidden, hidden, edge_dim=2, velocity=True, options=options)
            for _ in range(layers)
        )

    def forward(self, data: Any) -> Tensor:
        pos, vel, edge_index, charges = self.inputs(data)
        src, dst = edge_index
        dist = (pos.index_select(0, dst) - pos.index_select(0, src)).pow(2).sum(1, keepdim=True)
        edge_attr = torch.cat([charges, dist], dim=1)  # fixed across layers, as in EGNN_vel
        h = self.embedding(vel.norm(dim=1, keepdim=True))
        x = pos
        for layer in self.layers:
            h, x = layer(h, x, edge_index, vel=vel, edge_attr=edge_attr)
        return x


class GNNDynamics(_Dynamics):
    """The plain GNN baseline: ``h⁰ = Linear(6, H)([x, v])``, ``layers`` × `GNNConv` with edge
    attribute q_i q_j, decoder Linear(H, H), SiLU, Linear(H, 3) predicting positions directly.
    Coordinates are features, so it is *not* E(3)-equivariant; its ``rep_in`` / ``rep_out`` are
    those of its equivariant partners so that `symml.testing` measures how far it is.

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(
        ...     pos=torch.randn(5, 3), vel=torch.randn(5, 3), edge_index=fully_connected_graph(5)
        ... )
        >>> GNNDynamics(hidden=16, layers=2)(data).shape
        torch.Size([5, 3])
    """

    def __init__(self, hidden: int = 64, layers: int = 4) -> None:
        super().__init__()
        check_positive(hidden, "GNNDynamics", "hidden")
        check_positive(layers, "GNNDynamics", "layers")
        self.embedding = nn.Linear(2 * DIM, hidden)
        self.layers = nn.ModuleList(
            GNNConv(hidden, hidden, hidden, edge_dim=1) for _ in range(layers)
        )
        self.decoder = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, DIM))

    def forward(self, data: Any) -> Tensor:
        pos, vel, edge_index, charges = self.inputs(data)
        h = self.embedding(torch.cat([pos, vel], dim=1))
        for layer in self.layers:
            h = layer(h, edge_index, charges)
        return self.decoder(h)


class RadialFieldDynamics(_Dynamics):
    """RF_vel: ``layers`` × `RadialFieldConv` (velocity variant, edge attribute q_i q_j).
    E(3)-equivariant.

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(
        ...     pos=torch.randn(5, 3), vel=torch.randn(5, 3), edge_index=fully_connected_graph(5)
        ... )
        >>> RadialFieldDynamics(hidden=16, layers=2)(data).shape
        torch.Size([5, 3])
    """

    def __init__(self, hidden: int = 64, layers: int = 4) -> None:
        super().__init__()
        check_positive(hidden, "RadialFieldDynamics", "hidden")
        check_positive(layers, "RadialFieldDynamics", "layers")
        self.layers = nn.ModuleList(
            RadialFieldConv(hidden, edge_dim=1, velocity=True) for _ in range(layers)
        )

    def forward(self, data: Any) -> Tensor:
        pos, vel, edge_index, charges = self.inputs(data)
        x = pos
        for layer in self.layers:
            x = layer(x, edge_index, vel=vel, edge_attr=charges)
        return x


class TFNDynamics(_Dynamics):
    """Tensor field network on e3nn irreps: node input ``‖v‖ ⊕ v`` (``0e + 1o``), ``layers − 1``
    gated `TensorFieldConv` layers of ``channels`` scalars and vectors (``0e + 1o``), a last
    linear one to a vector ``1o``, added to the positions; the radial MLP also reads q_i q_j.
    E(3)-equivariant, reflections included (the EGNN paper's TFN: 4 layers, 32 channels, types
    0 and 1).

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(
        ...     pos=torch.randn(5, 3), vel=torch.randn(5, 3), edge_index=fully_connected_graph(5)
        ... )
        >>> TFNDynamics(channels=4, layers=2)(data).shape
        torch.Size([5, 3])
    """

    def __init__(
        self, channels: int = 32, layers: int = 4, lmax: int = 2, max_radius: float = 10.0
    ) -> None:
        super().__init__()
        check_positive(channels, "TFNDynamics", "channels")
        check_positive(layers, "TFNDynamics", "layers")
        check_positive(lmax, "TFNDynamics", "lmax", minimum=0)
        check_real(max_radius, "TFNDynamics", "max_radius", positive=True)
        group = O3()
        vector, scalar = standard(group), trivial(group)  # velocities come in (x, y, z)
        hidden = scalar * channels + from_e3nn(f"{channels}x1o")
        reps = [scalar + vector] + [hidden] * (layers - 1) + [vector]
        options = {"lmax": lmax, "edge_dim": 1, "max_radius": max_radius, "cutoff": False}
        self.net = GraphSequential(
            *(
                TensorFieldConv(a, b, gate=k < layers - 1, **options)  # type: ignore[arg-type]
                for k, (a, b) in enumerate(zip(reps, reps[1:], strict=False))
            )
        )

    def forward(self, data: Any) -> Tensor:
        pos, vel, edge_index, charges = self.inputs(data)
        features = torch.cat([vel.norm(dim=1, keepdim=True), vel], dim=1)
        return pos + self.net(features, pos, edge_index, charges)


class LinearDynamics(_Dynamics):
    """``x + t·v`` with a learnable time step ``t`` (initialised to 0.7, as EGNN's ``linear_vel``).

    Example:
        >>> from torch_geometric.data import Data
        >>> data = Data(
        ...     pos=torch.zeros(2, 3),
        ...     vel=torch.ones(2, 3),
        ...     edge_index=torch.zeros(2, 0, dtype=torch.long),
        ... )
        >>> LinearDynamics()(data)[0]
        tensor([0.7000, 0.7000, 0.7000], grad_fn=<SelectBackward0>)
    """

    def __init__(self, t: float = 0.7) -> None:
        super().__init__()
        self.t = nn.Parameter(torch.tensor(check_real(t, "LinearDynamics", "t")))

    def forward(self, data: Any) -> Tensor:
        pos, vel, _, _ = self.inputs(data)
        return pos + self.t * vel


def build_egnn(hidden: int = 64, layers: int = 4, attention: bool = False) -> nn.Module:
    """EGNN_vel for N-body dynamics (docs/published.md §4b: 4 layers, 64 hidden)."""
    return EGNNDynamics(hidden=hidden, layers=layers, attention=attention)


def build_gnn(hidden: int = 64, layers: int = 4) -> nn.Module:
    """The plain GNN baseline for N-body dynamics (4 layers, 64 hidden)."""
    return GNNDynamics(hidden=hidden, layers=layers)


def build_radial_field(hidden: int = 64, layers: int = 4) -> nn.Module:
    """Radial field (RF_vel) for N-body dynamics (4 layers, 64 hidden)."""
    return RadialFieldDynamics(hidden=hidden, layers=layers)


def build_tfn(
    channels: int = 32, layers: int = 4, lmax: int = 2, max_radius: float = 10.0
) -> nn.Module:
    """Tensor field network for N-body dynamics (4 layers, 32 channels of types 0 and 1)."""
    return TFNDynamics(channels=channels, layers=layers, lmax=lmax, max_radius=max_radius)


def build_linear_dynamics(t: float = 0.7) -> nn.Module:
    """``x + t·v`` with learnable t."""
    return LinearDynamics(t=t)
