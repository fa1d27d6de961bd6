"""Groups and their actions on points, images and graphs (layer L0: pure torch, no nn.Module).

Example:
    >>> from symml.groups import Dihedral
    >>> G = Dihedral(4)
    >>> G.order
    8
    >>> r, f = G.generators
    >>> (r @ f @ r).data == f.data  # r f r = f
    tensor([True])
"""

from symml.groups.finite import FiniteGroup, IndexedGroup
from symml.groups.graph_action import act_on_graph
from symml.groups.group import Elements, Group, IrrepKey, cat
from symml.groups.image_action import act_on_images, grid_exact
from symml.groups.inclusions import Inclusion, inclusion
from symml.groups.names import group_from_name, group_names
from symml.groups.orthogonal import O3, SO, SO3, O, Orthogonal, SpecialOrthogonal
from symml.groups.permutations import Permutations
from symml.groups.planar import Cyclic, Dihedral, Trivial
from symml.groups.planar_lie import O2, SO2
from symml.groups.product import DirectProduct, direct_product
from symml.groups.quaternion import Quaternion
from symml.groups.semidirect import SE, E, SemidirectProduct, p4, p4m
from symml.groups.translations import Translations

__all__ = [
    "E",
    "O",
    "O2",
    "O3",
    "SE",
    "SO",
    "SO2",
    "SO3",
    "Cyclic",
    "Dihedral",
    "DirectProduct",
    "Elements",
    "FiniteGroup",
    "Group",
    "Inclusion",
    "IndexedGroup",
    "IrrepKey",
    "Orthogonal",
    "Permutations",
    "Quaternion",
    "SemidirectProduct",
    "SpecialOrthogonal",
    "Translations",
    "Trivial",
    "act_on_graph",
    "act_on_images",
    "cat",
    "direct_product",
    "grid_exact",
    "group_from_name",
    "group_names",
    "inclusion",
    "p4",
    "p4m",
]
