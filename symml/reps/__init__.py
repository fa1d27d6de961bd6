"""Representations (layer L1): immutable values with an algebra, intertwiner bases, interop.

Example:
    >>> from symml.groups import Dihedral
    >>> from symml.reps import regular, intertwiners
    >>> rho = regular(Dihedral(4))
    >>> rho.dim, intertwiners(rho, rho).shape[0]  # dim End_G(regular) = |G|
    (8, 8)
"""

from symml.reps.basis import ChangeOfBasis, change_basis
from symml.reps.constructors import (
    Quotient,
    Standard,
    irrep,
    pullback,
    quotient,
    regular,
    sign,
    standard,
    trivial,
)
from symml.reps.fields import GraphRep, GridRep, NodeRep, PointRep, RepLike, act
from symml.reps.interop import escnn_group, from_e3nn, from_escnn, to_e3nn, to_escnn
from symml.reps.intertwiners import constraint_generators, intertwiners
from symml.reps.irreps import irrep_keys
from symml.reps.parse import parse_rep
from symml.reps.rep import (
    Decomposition,
    DirectSum,
    Dual,
    Irrep,
    Pullback,
    Rep,
    Restricted,
    TensorProduct,
    decompose,
    direct_sum,
)

__all__ = [
    "ChangeOfBasis",
    "Decomposition",
    "DirectSum",
    "Dual",
    "GraphRep",
    "GridRep",
    "Irrep",
    "NodeRep",
    "PointRep",
    "Pullback",
    "Quotient",
    "Rep",
    "RepLike",
    "Restricted",
    "Standard",
    "TensorProduct",
    "act",
    "change_basis",
    "constraint_generators",
    "decompose",
    "direct_sum",
    "escnn_group",
    "from_e3nn",
    "from_escnn",
    "intertwiners",
    "irrep",
    "irrep_keys",
    "parse_rep",
    "pullback",
    "quotient",
    "regular",
    "sign",
    "standard",
    "to_e3nn",
    "to_escnn",
    "trivial",
]
