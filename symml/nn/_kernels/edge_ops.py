"""Types and small steps shared by the edge kernel's forward (`symml.nn._kernels.edges`) and
backward (`symml.nn._kernels.edges_backward`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

# Edges per chunk are chosen so that one [chunk, H] float32 block is 512 KB: a chunk's working set
# (a handful of such blocks) stays in the L2 cache of one core.
_CHUNK_ELEMENTS = 1 << 17


@dataclass(frozen=True)
class EdgeOptions:
    """What the pipeline computes (see `symml.nn.gnn._edge_mlp`).

    Attributes:
        distance: add ``w_d·‖x_i − x_j‖²`` to the first layer.
        coords: compute the coordinate messages ``T`` (needs ``W_3, b_3, w_4``).
        attention: gate messages with ``sigmoid(w_att·m + b_att)``.
        normalize: divide ``x_i − x_j`` by ``‖x_i − x_j‖ + 1`` in ``T``.
        clamp: bound ``|s|`` by this value (None: no bound).
        messages_mean / coords_mean: average instead of sum over incoming edges.
        node: also apply the node MLP φ_h and return ``h' = φ_h([h, M]) (+ h with residual)`` and
            ``x' = x + T`` instead of ``M`` and ``T`` (needs ``W_n1, b_n1, W_n2, b_n2``).
        residual: add h to φ_h's output.
    """

    distance: bool = True
    coords: bool = True
    attention: bool = False
    normalize: bool = False
    clamp: float | None = None
    messages_mean: bool = False
    coords_mean: bool = True
    node: bool = False
    residual: bool = False


class Weights(NamedTuple):
    """The pipeline's parameters (None where an option is off), for node features of width F,
    hidden width H and A edge attributes, as the ``nn.Linear`` weights hold them. ``w_1`` is the
    first edge layer as published, on the concatenation ``[h_i, h_j, ‖x_i − x_j‖², a_ij]``:
    columns ``[W_i | W_j | w_d | W_a]`` (no ``w_d`` without ``distance``)."""

    w_1: Tensor  # [H, 2F (+1) + A]
    b_1: Tensor  # [H]
    w_2: Tensor  # [H, H]
    b_2: Tensor  # [H]
    w_att: Tensor | None  # [1, H]
    b_att: Tensor | None  # [1]
    w_3: Tensor | None  # [H, H]
    b_3: Tensor | None  # [H]
    w_4: Tensor | None  # [1, H]
    w_n1: Tensor | None = None  # [H, F + H]: φ_h's first layer on [h, M]
    b_n1: Tensor | None = None  # [H]
    w_n2: Tensor | None = None  # [F_out, H]
    b_n2: Tensor | None = None  # [F_out]


def chunk_size(hidden: int) -> int:
    """Edges per chunk for hidden width ``hidden``."""
    return max(256, _CHUNK_ELEMENTS // max(hidden, 1))


def scatter_rows(out: Tensor, index: Tensor, rows: Tensor) -> None:
    """``out[index[e]] += rows[e]``. `Tensor.index_add_` would do, but on the CPU its speed swings
    by orders of magnitude with thread contention for narrow rows; `scatter_add_` is steady."""
    out.scatter_add_(0, index[:, None].expand_as(rows), rows)


def unit(r: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
    """``r / (‖r‖ + 1)`` and ``‖r‖`` (from ``d = ‖r‖²``)."""
    rho = d.sqrt()
    return r / (rho + 1)[:, None], rho


def columns(w_1: Tensor, features: int, distance: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``W_i, W_j, W_a`` ``[H, ·]`` (views) and ``w_d [H]`` (contiguous: broadcasting a strided
    column over ``[E, H]`` is several times slower; empty without ``distance``) of the first
    layer."""
    f, d = features, int(distance)
    w_d = w_1[:, 2 * f : 2 * f + d].contiguous().flatten()
    return w_1[:, :f], w_1[:, f : 2 * f], w_1[:, 2 * f + d :], w_d


class Chunk(NamedTuple):
    """What one chunk of edges keeps for the backward: pre-activations, ``r = x_i − x_j`` and
    ``d = ‖r‖²``, and the activations when all edges fit in one chunk (None where absent)."""

    z1: Tensor
    z2: Tensor
    z3: Tensor | None
    r: Tensor | None
    d: Tensor | None
    u1: Tensor | None
    m0: Tensor | None
    u3: Tensor | None


def silu_backward(grad: Tensor, z: Tensor) -> Tensor:
    """``grad · silu'(z)`` in one fused kernel (the one autograd itself uses for SiLU), written
    over ``grad`` (a temporary: no new [E, H] block, and the one just written is in cache)."""
    out: Tensor = torch.ops.aten.silu_backward.grad_input(grad, z, grad_input=grad)
    return out


def accumulate(grads: dict[str, Tensor], key: str, value: Tensor) -> None:
    """``grads[key] += value`` over the chunks (the first chunk's tensor is kept as is)."""
    if key in grads:
        grads[key] += value
    else:
        grads[key] = value
