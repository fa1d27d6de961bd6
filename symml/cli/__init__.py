"""The ``symml`` command line, thin over the library: each command parses its arguments, calls
one function of `symml.groups`, `symml.reps`, `symml.models`, `symml.data`, `symml.testing` or
`symml.training`, and prints what it returns.

Commands (``symml COMMAND --help`` for each):

- ``symml list``: groups, representation constructors, models, datasets and studies;
- ``symml tour``: a five-minute tour of a group, its representations and equivariant maps;
- ``symml decompose EXPR``: a representation's irreps and its equivariant maps;
- ``symml check [MODEL]``: equivariance error of registered models on random inputs;
- ``symml data list``, ``symml data prepare NAME...``, ``symml data download NAME``: datasets;
- ``symml run CONFIG``: train and evaluate one run (``--devices N``: on N processes);
- ``symml sweep CONFIG``: every run of an experiment's sweep grid, then its report;
- ``symml report RUNS_DIR``: tables and plots of finished runs;
- ``symml reproduce STUDY``: a study of experiments/ under a budget, then one report.

``symml --debug COMMAND`` shows errors with their tracebacks; exit codes are in
docs/experiments.md (`symml.cli._errors`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from symml.cli import datasets, experiments, explore
from symml.cli._errors import OPTIONS
from symml.cli.tour import tour

app = typer.Typer(
    help="symml: groups, representations and equivariant deep learning.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False,
) -> None:
    OPTIONS.debug = debug


data_app = typer.Typer(help="Datasets: where symml looks for them, downloading and preparing them.")
data_app.command("list")(datasets.data_list)
data_app.command("prepare")(datasets.data_prepare)
data_app.command("download")(datasets.data_download)
app.add_typer(data_app, name="data")
app.command("list")(explore.list_command)
app.command("check")(explore.check_command)
app.command("decompose")(explore.decompose_command)
app.command("tour")(tour)
app.command("run", context_settings={"allow_extra_args": False})(experiments.run_command)
app.command("sweep")(experiments.sweep_command)
app.command("report")(experiments.report_command)
app.command("reproduce")(experiments.reproduce_command)


def main() -> None:
    """Entry point of the ``symml`` console script."""
    app()


__all__ = ["app", "main"]
