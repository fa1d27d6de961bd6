"""3-D Tetris classifiers (Thomas et al. 2018, docs/published.md §6): point clouds → logits.

Input: a torch-geometric ``Data`` / ``Batch`` with ``pos [N, 3]``, ``edge_index`` (the shapes'
fully connected graphs), optional node scalars ``x [N, F]`` (`symml.data`'s ``tetris3d`` gives
ones) and ``batch``. Output: logits ``[B, 8]``.

How logits transform under E(3) (``rep_out``): a rotation or translation keeps every class; a
reflection swaps the chiral pair (classes 0 and 1, mirror images of each other) — `label_rep`.

===============  ===========================================================  ================
name             model                                                        claims
===============  ===========================================================  ================
``tetris_tfn``   3 gated `TensorFieldConv` (scalars, pseudoscalars, vectors,  E(3), logits by
                 pseudovectors) → per-node ``0e ⊕ 0o ⊕ 6·0e`` → mean            `label_rep`
``tetris_egnn``  4 `EGNNConv` → mean of h → MLP                               E(3), invariant
``tetris_mlp``   point-wise MLP on ``[x, pos]`` → mean → MLP                   none (baseline)
``tetris_gnn``   4 `GNNConv` on ``[x, pos]`` → mean → MLP                      none (baseline)
===============  ===========================================================  ================

``tetris_egnn`` sees only distances, which a shape and its mirror image share: it is exactly
invariant, and so cannot tell the chiral pair apart (at best 7/8 of the classes under
reflections). ``tetris_tfn`` separates them through a parity-odd scalar.
"""

from __future__ import annotations

from typing import Any

import torch
from e3nn import o3
from torch import Tensor, nn
from torch_geometric.utils import scatter

from symml.groups import O3, E
from symml.nn._checks import check_finite, check_like, check_positive, reference_tensor
from symml.nn.gnn import EGNNConv, GNNConv, GraphSequential, TensorFieldConv, check_graph
from symml.reps import GraphRep, Rep, change_basis, from_e3nn, pullback, sign, trivial

__all__ = [
    "TetrisEGNN",
    "TetrisGNN",
    "TetrisMLP",
    "TetrisTFN",
    "build_tetris_egnn",
    "build_tetris_gnn",
    "build_tetris_mlp",
    "build_tetris_tfn",
    "label_rep",
]

CLASSES = 8
CHIRAL_PAIR = (0, 1)


def label_rep(group: Any, classes: int = CLASSES, pair: tuple[int, int] = CHIRAL_PAIR) -> Rep:
    """How logits over ``classes`` transform when a reflection swaps the classes in ``pair``
    (rotations fix all): ``change_basis(trivial + sign + (classes − 2)·trivial, Q)`` with ``Q``
    taking the first two basis vectors to ``(e_a ± e_b)/√2``. For E(3), O(3) or their point
    groups (a permutation representation).

    Example:
        >>> from symml.groups import E
        >>> g = E(3).element(torch.cat([-torch.eye(3).flatten(), torch.zeros(3)]))
        >>> label_rep(E(3))(g)[0][:3, :3].abs().round()
        tensor([[0., 1., 0.],
                [1., 0., 0.],
                [0., 0., 1.]])
    """
    a, b = pair
    q = torch.eye(classes, dtype=torch.float64)
    s = 2**-0.5
    order = [a, b] + [k for k in range(classes) if k not in pair]
    q = q[:, order]  # column k: the class carried by the k-th irrep
    q[:, 0], q[:, 1] = (q[:, 0] + q[:, 1]) * s, (q[:, 0] - q[:, 1]) * s
    return change_basis(trivial(group) + sign(group) + trivial(group) * (classes - 2), q)


class _Tetris(nn.Module):
    """Shared: types (E(3), graphs in, ``[B, 8]`` logits out) and graph pooling."""

    def __init__(self, rep_out: Rep) -> None:
        super().__init__()
        self.group = E(3)
        self.rep_in = GraphRep(self.group)
        self.rep_out = rep_out

    def inputs(self, data: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
        """``(pos, x, edge_index, batch, graphs)``; ``x`` defaults to ones ``[N, 1]``.

        Every graph must have a node: the mean over an empty shape has no value, and logits made
        up for it would be a silent wrong answer, so that is a ValueError.
        """
        name = type(self).__name__
        pos, edge_index = getattr(data, "pos", None), getattr(data, "edge_index", None)
        if not isinstance(pos, Tensor) or not isinstance(edge_index, Tensor):
            raise ValueError(
                f"{name}: expected a torch-geometric graph with pos [N, 3] and edge_index [2, E]"
            )
        if pos.dim() == 2 and len(pos) == 0:
            raise ValueError(
                f"{name}: expected a graph with at least one node (got pos of shape "
                f"{list(pos.shape)}); a shape without points has no class, drop it from the data"
            )
        check_like(pos, reference_tensor(self), name, "data.pos")
        check_graph(name, pos, edge_index, len(pos), 3)
        x = getattr(data, "x", None)
        if x is None:
            x = pos.new_ones(len(pos), 1)
        else:
            if not isinstance(x, Tensor) or x.dim() not in (1, 2) or x.shape[0] != len(pos):
                got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
                raise ValueError(
                    f"{name}: expected node features x of shape [N, 1] with N = {len(pos)} "
                    f"nodes (got {got})"
                )
            check_finite(x, name, "x")
            # any dtype of labels-as-features (e.g. integer ones) is fine: x is only a scalar
            x = (x[:, :1] if x.dim() == 2 else x[:, None]).to(pos)
        batch = getattr(data, "batch", None)
        if batch is None:
            return pos, x, edge_index, pos.new_zeros(len(pos), dtype=torch.long), 1
        graphs = getattr(data, "num_graphs", None)
        graphs = int(batch.max()) + 1 if graphs is None else int(graphs)
        if not torch.compiler.is_compiling():
            sizes = torch.bincount(batch, minlength=graphs)
            if bool((sizes == 0).any()):
                empty = int((sizes == 0).nonzero()[0, 0])
                raise ValueError(
                    f"{name}: expected every graph of the batch to have a node (got graph "
                    f"{empty} of {graphs} with none); drop empty shapes from the data"
                )
        return pos, x, edge_index, batch, graphs


class TetrisTFN(_Tetris):
    """Tensor field network: ``layers`` gated `TensorFieldConv` with ``channels`` copies each of
    ``0e, 0o, 1o, 1e`` (those a layer can reach: ``0e + 1o``, then ``+ 1e``, then ``+ 0o``), a
    linear one to per-node logits typed by `label_rep`, mean over nodes. Needs ``layers >= 3``:
    the parity-odd scalar that separates the chiral pair is a triple product of edge vectors.
    E(3)-equivariant: invariant logits except that a reflection swaps the chiral pair. Radial
    basis as in TFN: Gaussians on [0, 3.5].

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(pos=torch.randn(4, 3), edge_index=fully_connected_graph(4))
        >>> TetrisTFN(channels=2)(data).shape
        torch.Size([1, 8])
    """

    def __init__(self, channels: int = 4, layers: int = 3, lmax: int = 2) -> None:
        super().__init__(pullback(label_rep(O3()), E(3)))
        check_positive(channels, "TetrisTFN", "channels")
        # the parity-odd scalar that separates the chiral pair is a triple product of edge
        # vectors: it takes three layers and vectors (l = 1) among the spherical harmonics
        check_positive(layers, "TetrisTFN", "layers", minimum=3)
        check_positive(lmax, "TetrisTFN", "lmax")
        reps: list[Rep] = [trivial(O3())]
        for kinds in _reachable(("0e", "0o", "1o", "1e"), layers, lmax):
            reps.append(from_e3nn(" + ".join(f"{channels}x{k}" for k in kinds)))
        reps.append(label_rep(O3()))
        options = {"lmax": lmax, "num_basis": 4, "max_radius": 3.5, "cutoff": False}
        self.net = GraphSequential(
            *(
                TensorFieldConv(a, b, gate=k < layers, **options)  # type: ignore[arg-type]
                for k, (a, b) in enumerate(zip(reps, reps[1:], strict=False))
            )
        )

    def forward(self, data: Any) -> Tensor:
        pos, x, edge_index, batch, graphs = self.inputs(data)
        logits = self.net(x, pos, edge_index)
        return scatter(logits, batch, 0, dim_size=graphs, reduce="mean")


def _reachable(kinds: tuple[str, ...], layers: int, lmax: int) -> list[list[str]]:
    """Which of ``kinds`` each of ``layers`` convolutions can produce from one scalar ``0e``
    (an irrep is new after a layer if some ``ir ⊗ Y_l`` with l <= lmax contains it); e.g. the
    pseudoscalar ``0o`` first appears in the third layer (a triple product of edge vectors)."""
    have = {o3.Irrep("0e")}
    sh = [ir for _, ir in o3.Irreps.spherical_harmonics(lmax)]
    out = []
    for _ in range(layers):
        have |= {ir for a in have for b in sh for ir in a * b if str(ir) in kinds}
        out.append([k for k in kinds if o3.Irrep(k) in have])
    return out


class TetrisEGNN(_Tetris):
    """EGNN classifier: ``h⁰ = Linear(x)``, ``layers`` × `EGNNConv`, mean of h per graph, MLP to 8
    logits. Exactly E(3)-invariant (so blind to chirality, see the module docstring).

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(pos=torch.randn(4, 3), edge_index=fully_connected_graph(4))
        >>> TetrisEGNN(hidden=8)(data).shape
        torch.Size([1, 8])
    """

    def __init__(self, hidden: int = 32, layers: int = 4) -> None:
        super().__init__(trivial(E(3)) * CLASSES)
        check_positive(hidden, "TetrisEGNN", "hidden")
        check_positive(layers, "TetrisEGNN", "layers")
        self.embedding = nn.Linear(1, hidden)
        self.layers = nn.ModuleList(EGNNConv(hidden, hidden, hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, CLASSES))

    def forward(self, data: Any) -> Tensor:
        pos, x, edge_index, batch, graphs = self.inputs(data)
        h = self.embedding(x)
        for layer in self.layers:
            h, pos = layer(h, pos, edge_index)
        return self.head(scatter(h, batch, 0, dim_size=graphs, reduce="mean"))


class TetrisMLP(_Tetris):
    """Plain point network: an MLP on each point's coordinates ``[x, pos]``, the mean over the
    shape, and an MLP head to 8 logits (DeepSets / PointNet style, so it takes shapes of any size
    and node order). Not E(3)-invariant (coordinates are features); typed like `TetrisTFN` so
    that `symml.testing` measures how far it is.

    Example:
        >>> from torch_geometric.data import Data
        >>> data = Data(pos=torch.randn(4, 3), edge_index=torch.zeros(2, 0, dtype=torch.long))
        >>> TetrisMLP(hidden=8)(data).shape
        torch.Size([1, 8])
    """

    def __init__(self, hidden: int = 55) -> None:
        super().__init__(pullback(label_rep(O3()), E(3)))
        check_positive(hidden, "TetrisMLP", "hidden")
        self.point_mlp = nn.Sequential(
            nn.Linear(1 + 3, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, CLASSES))

    def forward(self, data: Any) -> Tensor:
        pos, x, _, batch, graphs = self.inputs(data)
        h = self.point_mlp(torch.cat([x, pos], dim=1))
        return self.head(scatter(h, batch, 0, dim_size=graphs, reduce="mean"))


class TetrisGNN(_Tetris):
    """Plain GNN: ``h⁰ = Linear([x, pos])``, ``layers`` × `GNNConv`, mean per graph, MLP to 8
    logits. Permutation-invariant but not E(3)-invariant (coordinates are features).

    Example:
        >>> from torch_geometric.data import Data
        >>> from symml.nn.gnn import fully_connected_graph
        >>> data = Data(pos=torch.randn(4, 3), edge_index=fully_connected_graph(4))
        >>> TetrisGNN(hidden=8)(data).shape
        torch.Size([1, 8])
    """

    def __init__(self, hidden: int = 32, layers: int = 4) -> None:
        super().__init__(pullback(label_rep(O3()), E(3)))
        check_positive(hidden, "TetrisGNN", "hidden")
        check_positive(layers, "TetrisGNN", "layers")
        self.embedding = nn.Linear(1 + 3, hidden)
        self.layers = nn.ModuleList(GNNConv(hidden, hidden, hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, CLASSES))

    def forward(self, data: Any) -> Tensor:
        pos, x, edge_index, batch, graphs = self.inputs(data)
        h = self.embedding(torch.cat([x, pos], dim=1))
        for layer in self.layers:
            h = layer(h, edge_index)
        return self.head(scatter(h, batch, 0, dim_size=graphs, reduce="mean"))


def build_tetris_tfn(channels: int = 4, layers: int = 3, lmax: int = 2) -> nn.Module:
    """TFN shape classifier (TFN's layer_dims [1, 4, 4, 4]: 3 layers of 4 channels per type)."""
    return TetrisTFN(channels=channels, layers=layers, lmax=lmax)


def build_tetris_egnn(hidden: int = 32, layers: int = 4) -> nn.Module:
    """EGNN shape classifier (E(3)-invariant)."""
    return TetrisEGNN(hidden=hidden, layers=layers)


def build_tetris_mlp(hidden: int = 55) -> nn.Module:
    """Plain point-network baseline on coordinate features (55 hidden: `tetris_tfn`'s budget)."""
    return TetrisMLP(hidden=hidden)


def build_tetris_gnn(hidden: int = 35, layers: int = 4) -> nn.Module:
    """Plain GNN baseline on coordinate features (35 hidden: `tetris_egnn`'s budget)."""
    return TetrisGNN(hidden=hidden, layers=layers)
