"""``symml tour``: a five-minute tour of a group, its representations and equivariant maps, in
four steps printed one after the other."""

from __future__ import annotations

import torch
from rich.table import Table

from symml.cli._errors import console
from symml.cli.explore import print_decomposition
from symml.groups import Dihedral
from symml.reps import intertwiners, irrep, irrep_keys, regular, standard


def tour() -> None:
    """A five-minute tour: a group, its representations, and equivariant maps."""
    group = Dihedral(4)
    _a_group(group)
    _representations(group)
    _equivariant_maps(group)
    _continuous_groups()


def _a_group(group: Dihedral) -> None:
    console.rule("1. A group: the dihedral group D4 (symmetries of a square)")
    elements = group.elements()
    console.print(f"{group!r} has {group.order} elements: {group.describe(elements.data)}")
    r, f = group.generators
    console.print(
        f"generators r = {r.data.tolist()}, f = {f.data.tolist()};  r·f·r = f: "
        f"{bool(((r @ f @ r) == f).all())}"
    )
    table = Table(title="Cayley table (row · column, element indices)")
    table.add_column("·")
    for j in range(group.order):
        table.add_column(str(j), justify="right")
    for i, row in enumerate(group.cayley_table.tolist()):
        table.add_row(str(i), *(str(v) for v in row))
    console.print(table)


def _representations(group: Dihedral) -> None:
    console.rule("2. Representations: matrices that multiply like the group")
    r, _ = group.generators
    console.print(f"standard(D4)(r) rotates the plane by 90°:\n{standard(group)(r)[0].tolist()}")
    reg = regular(group)
    console.print(f"regular(D4) permutes the 8 elements; is_permutation = {reg.is_permutation}")
    elements = group.elements()
    chars = Table(title="Character table of D4 (trace of each irrep at each element)")
    chars.add_column("irrep")
    chars.add_column("dim", justify="right")
    for j in range(group.order):
        chars.add_column(group.describe(elements.data[j : j + 1]).strip("[]"), justify="right")
    for key in irrep_keys(group):
        values = irrep(group, key).character(elements).round().long().tolist()
        chars.add_row(str(key), str(group.irrep_dim(key)), *(str(v) for v in values))
    console.print(chars)
    console.print("regular(D4) decomposes into irreps (each appears dim-many times):")
    print_decomposition(reg)


def _equivariant_maps(group: Dihedral) -> None:
    console.rule("3. Equivariant maps, solved for")
    reg = regular(group)
    basis = intertwiners(reg, reg)
    console.print(
        f"Hom_D4(regular, regular) has dimension {basis.shape[0]} (= |G|): a group convolution "
        "is a linear combination of these matrices"
    )
    weights = torch.randn(
        basis.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    w = torch.einsum("k,kij->ij", weights, basis)
    g = group.elements()
    err = (reg(g, torch.float64) @ w - w @ reg(g, torch.float64)).abs().max()
    console.print(f"ρ(g) W = W ρ(g) for all 8 elements: max error {float(err):.1e}")


def _continuous_groups() -> None:
    from symml.groups import O3

    console.rule("4. Continuous groups through e3nn: SO(3)/O(3)")
    vec = standard(O3())
    console.print(
        "vector ⊗ vector = scalar (trace) + pseudovector (antisymmetric) + 5-dim traceless:"
    )
    print_decomposition(vec.tensor(vec))
    console.print(
        'Next: `symml decompose "tensor(standard(SO2()), irrep(SO2(), 3))"` and `make test`.'
    )
