"""Types of structured data, built from a fibre representation: what equivariant modules declare
as ``rep_in`` / ``rep_out`` besides plain vector `Rep`s.

- `GridRep`: images ``[B, C, H, W]``: the group moves pixels (`act_on_images`) and acts on the
  C channels of each pixel by the fibre rep.
- `PointRep`: coordinates ``[..., n]`` moved by the group's standard action (translations too).
- `NodeRep`: per-node features ``[N, C]`` (fibre rep on C, nodes permuted with the graph).
- `GraphRep`: a torch-geometric graph: ``pos`` by the action, vector attributes (``vel``) by its
  linear part, ``x`` by the node fibre rep, nodes permutable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from symml.groups import Elements, Group, act_on_graph, act_on_images
from symml.reps.rep import Rep


@dataclass(frozen=True)
class GridRep:
    """A field on the pixel grid with fibre representation ``fibre`` (``C = fibre.dim``)."""

    fibre: Rep

    @property
    def group(self) -> Group:
        return self.fibre.group

    @property
    def channels(self) -> int:
        return self.fibre.dim


@dataclass(frozen=True)
class PointRep:
    """Point coordinates ``[..., n]`` transformed by ``group``'s standard action."""

    group: Group

    def __post_init__(self) -> None:
        if self.group.point_dim is None:
            raise ValueError(
                f"PointRep: {self.group!r} does not act on points; expected a group such as "
                "E(3), SO3() or Dihedral(4)"
            )


@dataclass(frozen=True)
class NodeRep:
    """Node features ``[N, C]`` with fibre representation ``fibre``."""

    fibre: Rep

    @property
    def group(self) -> Group:
        return self.fibre.group


@dataclass(frozen=True)
class GraphRep:
    """A graph whose ``pos`` moves under ``group`` and whose ``x`` carries ``node`` (None: ``x``
    is absent or invariant). ``vectors`` name node attributes that rotate like velocities."""

    group: Group
    node: Rep | None = None
    vectors: tuple[str, ...] = ("vel",)

    def __post_init__(self) -> None:
        if self.node is not None and self.node.group != self.group:
            raise ValueError(
                f"GraphRep: the node rep is of {self.node.group!r}, the graph's group is "
                f"{self.group!r}"
            )


RepLike = Rep | GridRep | PointRep | NodeRep | GraphRep
"""Anything a module or dataset declares as the type of its inputs or outputs."""


def act(rep: RepLike, g: Elements, value: Any, *, interpolation: bool = False) -> Any:
    """Transform ``value`` of type ``rep`` by one group element ``g``.

    - `Rep` / `NodeRep`: ``value [..., d] ↦ value ρ(g)ᵀ``;
    - `GridRep`: images ``[B, C, H, W]``: pixels by `act_on_images` (exact elements unless
      ``interpolation``), channels by the fibre rep;
    - `PointRep`: the group's standard action on ``[..., n]``;
    - `GraphRep`: a copy of the graph with ``pos``, vector attributes and ``x`` transformed.
    """
    if isinstance(rep, (Rep, NodeRep)):
        fibre = rep if isinstance(rep, Rep) else rep.fibre
        mat = fibre(g, dtype=value.dtype)[0].to(value.device)
        return value @ mat.T
    if isinstance(rep, GridRep):
        moved = act_on_images(g, value, interpolation=interpolation)
        mat = rep.fibre(g, dtype=value.dtype)[0].to(value.device)
        return torch.einsum("ij,bj...->bi...", mat, moved)
    if isinstance(rep, PointRep):
        return rep.group.act_on_points(g, value)
    if isinstance(rep, GraphRep):
        moved = act_on_graph(g, value, vectors=rep.vectors)
        if rep.node is not None:
            mat = rep.node(g, dtype=value.x.dtype)[0].to(value.x.device)
            moved.x = value.x @ mat.T
        return moved
    raise TypeError(
        f"act: expected a Rep, GridRep, PointRep, NodeRep or GraphRep (got {type(rep).__name__})"
    )
