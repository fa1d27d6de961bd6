"""`SchNetConv`: an invariant continuous-filter convolution on interatomic distances."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock

from symml.groups import E
from symml.nn._checks import check_like, check_real, reference_tensor
from symml.nn.gnn._checks import check_graph, check_nodes, check_sizes
from symml.reps import GraphRep, NodeRep, trivial


class SchNetConv(nn.Module):
    r"""SchNet interaction with a residual connection (Schütt et al. 2017,
    https://arxiv.org/abs/1706.08566)::

        h_i' = h_i + Lin(ssp(Σ_j Lin₁(h_j) ⊙ W(e(‖x_i − x_j‖)) · C(‖x_i − x_j‖)))

    with ``e`` a Gaussian expansion of the distance on ``[0, cutoff]``, ``W`` a filter MLP and
    ``C(d) = (cos(π d / cutoff) + 1)/2`` the cosine cutoff; the interaction block and the expansion
    are torch-geometric's (`torch_geometric.nn.models.schnet`). Only distances enter, so the
    output is invariant: for g ∈ E(n), ``(h, g·x) ↦ h'``. Build edges with
    `radius_graph` of the same ``cutoff`` (``C`` is not zero beyond it).

    Args:
        channels: F, width of h (in and out).
        filters: width of the continuous filters (SchNet uses F).
        gaussians: number of Gaussians in the distance expansion.
        cutoff: the interaction radius.
        dim: n, the dimension of the coordinates.

    Shapes:
        h ``[N, F]``, pos ``[N, n]``, edge_index ``[2, E]`` → h' ``[N, F]``.

    Example:
        >>> import torch
        >>> from symml.nn.gnn import SchNetConv, radius_graph
        >>> conv = SchNetConv(8, cutoff=2.0)
        >>> pos = torch.randn(6, 3)
        >>> conv(torch.randn(6, 8), pos, radius_graph(pos, 2.0)).shape
        torch.Size([6, 8])
    """

    def __init__(
        self,
        channels: int,
        filters: int | None = None,
        gaussians: int = 50,
        cutoff: float = 5.0,
        *,
        dim: int = 3,
    ) -> None:
        super().__init__()
        filters = channels if filters is None else filters
        check_sizes("SchNetConv", channels=channels, filters=filters, gaussians=gaussians)
        check_sizes("SchNetConv", dim=dim)
        cutoff = check_real(cutoff, "SchNetConv", "cutoff", positive=True)
        self.channels, self.cutoff, self.dim = channels, cutoff, dim
        self.expansion = GaussianSmearing(0.0, cutoff, gaussians)
        self.interaction = InteractionBlock(channels, gaussians, filters, cutoff)
        self.group = E(dim)
        scalars = trivial(self.group) * channels
        self.rep_in = GraphRep(self.group, node=scalars)
        self.rep_out = NodeRep(scalars)

    def forward(self, h: Tensor, pos: Tensor, edge_index: Tensor) -> Tensor:
        n = check_nodes("SchNetConv", "h", h, None, self.channels)
        check_like(h, reference_tensor(self), "SchNetConv", "h")
        if isinstance(pos, Tensor):
            check_like(pos, h, "SchNetConv", "pos")
        check_graph("SchNetConv", pos, edge_index, n, self.dim)
        check_nodes("SchNetConv", "pos", pos, n, self.dim)
        src, dst = edge_index
        dist = (pos[dst] - pos[src]).norm(dim=1)
        return h + self.interaction(h, edge_index, dist, self.expansion(dist))

    def extra_repr(self) -> str:
        return f"{self.channels}, cutoff={self.cutoff}, dim={self.dim}"
