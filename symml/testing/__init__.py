"""The shipped equivariance and group-law harness (imports groups, reps and nn only).

Example:
    >>> import torch
    >>> from symml.groups import Cyclic
    >>> from symml.reps import regular
    >>> from symml.testing import equivariance_error
    >>> rho = regular(Cyclic(4))
    >>> shift = lambda x: torch.roll(x, 1, dims=-1)  # commutes with cyclic shifts
    >>> equivariance_error(shift, rho, rho)["output"] < 1e-6
    True
"""

from symml.reps.fields import GraphRep, GridRep, NodeRep, PointRep
from symml.testing.equivariance import assert_equivariant, equivariance_error
from symml.testing.laws import assert_group_axioms, assert_homomorphism, assert_intertwiner

__all__ = [
    "GraphRep",
    "GridRep",
    "NodeRep",
    "PointRep",
    "assert_equivariant",
    "assert_group_axioms",
    "assert_homomorphism",
    "assert_intertwiner",
    "equivariance_error",
]
