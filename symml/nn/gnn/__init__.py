"""Graph layers on torch-geometric graphs (layer L2): E(n)-equivariant convolutions, e3nn tensor
field convolutions, invariant and plain baselines, and graph builders.

Every layer declares ``rep_in`` (a `GraphRep`: how the group moves positions, velocities and node
features) and ``rep_out``, so `symml.testing` checks it.

Example:
    >>> import torch
    >>> from symml.nn.gnn import EGNNConv, knn_graph
    >>> pos = torch.randn(20, 3)
    >>> edge_index = knn_graph(pos, k=4)
    >>> h, x = EGNNConv(8, hidden=16)(torch.randn(20, 8), pos, edge_index)
    >>> edge_index.shape, x.shape
    (torch.Size([2, 80]), torch.Size([20, 3]))
"""

from symml.nn.gnn._checks import check_graph
from symml.nn.gnn.builders import fully_connected_graph, knn_graph, radius_graph
from symml.nn.gnn.egnn import EGNNConv, EGNNOptions
from symml.nn.gnn.gnn_conv import GNNConv
from symml.nn.gnn.radial_field import RadialFieldConv
from symml.nn.gnn.schnet import SchNetConv
from symml.nn.gnn.sequential import GraphSequential
from symml.nn.gnn.tensor_field import TensorFieldConv

__all__ = [
    "EGNNConv",
    "EGNNOptions",
    "GNNConv",
    "GraphSequential",
    "RadialFieldConv",
    "SchNetConv",
    "TensorFieldConv",
    "check_graph",
    "fully_connected_graph",
    "knn_graph",
    "radius_graph",
]
