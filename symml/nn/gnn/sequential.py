"""`GraphSequential`: a stack of feature convolutions on one graph, types checked when built."""

from __future__ import annotations

from torch import Tensor, nn

from symml.reps import GraphRep, NodeRep


class GraphSequential(nn.ModuleList):
    """Apply graph convolutions that map node features ``x ↦ x'`` on a fixed graph, one after
    the other: ``layer(x, pos, edge_index[, edge_attr])`` (`TensorFieldConv`, `SchNetConv`).

    Each layer's ``rep_in`` (a `GraphRep`) must carry the node rep that the previous layer's
    ``rep_out`` (a `NodeRep`) returns, and all must act on the same group; a mismatch is a
    ValueError here, at construction, never a shape error deep inside ``forward``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import GraphSequential, TensorFieldConv, fully_connected_graph
        >>> net = GraphSequential(
        ...     TensorFieldConv("1x0e", "4x0e + 2x1o", lmax=1),
        ...     TensorFieldConv("4x0e + 2x1o", "1x1o", lmax=1, gate=False),
        ... )
        >>> net(torch.ones(4, 1), torch.randn(4, 3), fully_connected_graph(4)).shape
        torch.Size([4, 3])
    """

    def __init__(self, *layers: nn.Module) -> None:
        if not layers:
            raise ValueError("GraphSequential: expected at least one layer")
        types: list[tuple[GraphRep, NodeRep]] = []
        for k, layer in enumerate(layers):
            rep_in, rep_out = getattr(layer, "rep_in", None), getattr(layer, "rep_out", None)
            if not isinstance(rep_in, GraphRep) or not isinstance(rep_out, NodeRep):
                raise TypeError(
                    f"GraphSequential: layer {k} ({type(layer).__name__}) must declare rep_in as a "
                    "GraphRep and rep_out as a NodeRep (a feature convolution such as "
                    "TensorFieldConv)"
                )
            types.append((rep_in, rep_out))
        for k in range(len(layers) - 1):
            returns, expects = types[k][1].fibre, types[k + 1][0].node
            if returns != expects:
                raise ValueError(
                    f"GraphSequential: layer {k + 1} ({type(layers[k + 1]).__name__}) expects node "
                    f"features {expects}, but layer {k} ({type(layers[k]).__name__}) returns "
                    f"{returns}; make layer {k}'s rep_out equal layer {k + 1}'s rep_in"
                )
        super().__init__(layers)
        self.rep_in: GraphRep = types[0][0]
        self.rep_out: NodeRep = types[-1][1]
        self.group = self.rep_in.group

    def forward(
        self, x: Tensor, pos: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None
    ) -> Tensor:
        for layer in self:
            x = (
                layer(x, pos, edge_index)
                if edge_attr is None
                else layer(x, pos, edge_index, edge_attr)
            )
        return x
