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

from symml.groups import Group
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
