"""Commands that show what symml provides: ``symml list``, ``symml check [MODEL]`` and
``symml decompose EXPR``."""

from __future__ import annotations

import time
from typing import Annotated

import torch
import typer
from rich.table import Table

from symml import models as symml_models
from symml.cli._errors import EXIT_USAGE, console, first_line, one_line_errors
from symml.cli.datasets import datasets_table
from symml.groups import group_names
from symml.reps import Rep, decompose, intertwiners, parse_rep

_REP_CONSTRUCTORS = [
    ("trivial(G)", "g ↦ 1"),
    ("sign(G)", "determinant / permutation sign / r ↦ -1"),
    ("standard(G)", "the group's own matrices on R^n (vectors)"),
    ("regular(G)", "permutations of the group's elements (finite G)"),
    ("quotient(G, H)", "permutations of the cosets G/H"),
    ("irrep(G, k)", "irreducible representation k (see `symml decompose`)"),
    ("a + b, k * a", "direct sums"),
    ("tensor(a, b), dual(a)", "tensor products, duals"),
    ("restrict(a, H)", "restriction to a subgroup"),
    ("from_e3nn('1x0e+1x1o')", "O(3) reps from e3nn irreps strings (Python API)"),
]


def list_command() -> None:
    """List the groups and representation constructors symml provides."""
    from symml.training.study import find_studies

    groups = Table(title="Groups (short names for symml.groups.group_from_name)")
    groups.add_column("name")
    groups.add_column("group")
    for name, description in group_names():
        groups.add_row(name, description)
    console.print(groups)
    reps = Table(title="Representations (symml.reps)")
    reps.add_column("constructor")
    reps.add_column("meaning")
    for name, description in _REP_CONSTRUCTORS:
        reps.add_row(name, description)
    console.print(reps)
    console.print(_models_table())
    console.print(datasets_table())
    studies = Table(title="Studies (symml reproduce STUDY)")
    studies.add_column("study")
    studies.add_column("config")
    for name, path in find_studies().items():
        studies.add_row(name, str(path))
    console.print(studies)


def _models_table() -> Table:
    table = Table(title="Models (symml.models.build(name, **overrides))")
    for column in ("name", "input", "group", "baseline", "description"):
        table.add_column(column)
    for name in symml_models.names():
        info = symml_models.info(name)
        table.add_row(name, info.kind, info.group, info.baseline or "—", info.description)
    return table


def check_command(
    model: Annotated[
        str | None, typer.Argument(help="a registered model (default: every registered model)")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="a model option key=value (the value read as YAML), e.g. -s group=O3",
        ),
    ] = None,
    float64: Annotated[bool, typer.Option(help="check in float64 instead of float32")] = False,
) -> None:
    """Equivariance error of registered models on random inputs (``max |f(g·x) - g·f(x)|``
    relative to ``max |g·f(x)|``).

    Example: symml check emlp -s group=O3 -s rep_in="5*S + 5*V" -s rep_out="T(2)"
    """
    # the CLI imports the harness (allowed for cli, see tests/test_architecture.py)
    from symml.testing import equivariance_error
    from symml.training.config_files import parse_override

    with one_line_errors():
        overrides = dict(parse_override(text) for text in option or [])
    table = Table(title="Equivariance error (relative; ~1e-7 in float32 is exact)")
    for column in ("model", "group", "baseline", "parameters", "output", "error", "seconds"):
        table.add_column(column)
    for name in [model] if model is not None else symml_models.names():
        start = time.perf_counter()
        try:
            built = symml_models.build(name, **overrides)
            errors = equivariance_error(built, dtype=torch.float64 if float64 else None)
        except (ValueError, TypeError, ImportError, AttributeError, KeyError) as err:
            console.print(f"[red]error: {name}: {first_line(err)}[/red]", soft_wrap=True)
            raise typer.Exit(code=EXIT_USAGE) from err
        info = symml_models.info(name)
        for output, error in errors.items():
            table.add_row(
                name,
                repr(getattr(built, "group", info.group)),
                info.baseline or "(is a baseline)",
                str(symml_models.parameter_count(built)),
                output,
                f"{error:.2e}",
                f"{time.perf_counter() - start:.1f}",
            )
    console.print(table)


def decompose_command(
    expr: Annotated[
        str, typer.Argument(help='a representation, e.g. "tensor(standard(O3()), standard(O3()))"')
    ],
) -> None:
    """Decompose a representation into irreps and count its equivariant maps."""
    with one_line_errors():
        print_decomposition(parse_rep(expr))


def print_decomposition(rep: Rep) -> None:
    """The irreps of ``rep`` with their multiplicities, and the dimension of its endomorphisms."""
    from symml.reps.intertwiners import check_solvable

    check_solvable(rep, rep, "symml decompose")  # refuse a huge rep before the decomposition
    dec = decompose(rep)
    table = Table(title=f"{rep}  (dim {rep.dim}, group {rep.group!r})")
    table.add_column("irrep")
    table.add_column("dim", justify="right")
    table.add_column("multiplicity", justify="right")
    for psi, mult in dec.irreps:
        table.add_row(str(psi), str(psi.dim), str(mult))
    console.print(table)
    endo = intertwiners(rep, rep).shape[0]
    console.print(f"equivariant linear maps {rep} → itself: a {endo}-dimensional space")
