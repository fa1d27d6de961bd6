"""Random graphs for the graph-layer tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import Data

from symml.nn.gnn import knn_graph

GraphFactory = Callable[..., Data]


@pytest.fixture
def random_graph() -> GraphFactory:
    """``random_graph(n, features, dim=3, edge_dim=0, seed=0, k=4, dtype=float32)``: a kNN graph
    on Gaussian points with random ``x [n, features]``, ``vel [n, dim]`` and ``edge_attr``."""

    def make(
        n: int = 9,
        features: int = 4,
        dim: int = 3,
        edge_dim: int = 0,
        seed: int = 0,
        k: int = 4,
        dtype: torch.dtype = torch.float32,
    ) -> Data:
        gen = torch.Generator().manual_seed(seed)
        pos = torch.randn(n, dim, generator=gen, dtype=dtype)
        edge_index = knn_graph(pos, k)
        data = Data(pos=pos, edge_index=edge_index)
        data.vel = torch.randn(n, dim, generator=gen, dtype=dtype)
        if features:
            data.x = torch.randn(n, features, generator=gen, dtype=dtype)
        if edge_dim:
            data.edge_attr = torch.randn(edge_index.shape[1], edge_dim, generator=gen, dtype=dtype)
        return data

    return make
