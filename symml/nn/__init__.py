"""Equivariant layers (layer L2): generic ones here, image layers in `symml.nn.cnn`, graph
layers in `symml.nn.gnn`. The nonlinearities (`PointwiseNonlinearity`, `NormNonlinearity`,
`GatedNonlinearity`) act on vector features typed by a `Rep` and on image fields typed by a
`GridRep` alike.

Every module declares ``rep_in`` / ``rep_out`` (and its ``group``), so `symml.testing` checks any
of them, and containers check that neighbours chain when they are built.

Example:
    >>> from symml.groups import Dihedral
    >>> from symml.nn import EquivariantLinear
    >>> from symml.reps import regular, trivial
    >>> G = Dihedral(4)
    >>> EquivariantLinear(regular(G), 3 * trivial(G)).weight_coefficients.numel()
    3
"""

from symml.nn.bilinear import EquivariantBilinear
from symml.nn.linear import EquivariantLinear
from symml.nn.nonlinear import GatedNonlinearity, NormNonlinearity, PointwiseNonlinearity, gated
from symml.nn.sequential import EquivariantSequential

__all__ = [
    "EquivariantBilinear",
    "EquivariantLinear",
    "EquivariantSequential",
    "GatedNonlinearity",
    "NormNonlinearity",
    "PointwiseNonlinearity",
    "gated",
]
