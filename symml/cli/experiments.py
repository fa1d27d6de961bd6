"""Commands that train and report: ``symml run``, ``symml sweep``, ``symml report`` and
``symml reproduce``; each calls one function of `symml.training` inside the error boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from symml.cli._errors import console, one_line_errors

RUNS_DIR = typer.Option("--runs-dir", help="where run directories are written")


def run_command(
    config: Annotated[
        Path, typer.Argument(help="an experiment YAML, e.g. configs/experiment/x.yaml")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value overrides (values read as YAML), e.g. trainer.epochs=5"),
    ] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    devices: Annotated[
        int, typer.Option(help="train on N processes with torchrun + DDP (gloo on CPU)")
    ] = 1,
) -> None:
    """Train and evaluate one run (the experiment's config without its sweep).

    Example: symml run configs/experiment/o5_efficiency.yaml data.train_size=300 seed=1
    """
    from symml.training import ConfigError, load, train
    from symml.training._report_console import runs_table
    from symml.training.rundir import RunDir, hold

    with one_line_errors():
        if devices < 1:
            raise ConfigError(f"--devices: expected at least 1 process (got {devices})")
        _, resolved = load(config, overrides or [])
        run = RunDir(runs_dir / resolved.experiment / resolved.run_id())
        # the launching process holds the run's lock (as a sweep does), so a second
        # `symml run` of the same config waits its turn instead of training it twice
        with hold(run):
            if devices > 1:
                _torchrun(devices, config, overrides or [], runs_dir)
                return
            console.rule(f"run {resolved.run_id()}: {resolved.label} on {resolved.data.name}")
            console.print(resolved.to_yaml(), highlight=False)
            result = train(resolved, runs_dir, console)
        console.print(runs_table([result]))
        console.print(f"run directory: {run.path}")


def _torchrun(devices: int, config: Path, overrides: list[str], runs_dir: Path) -> None:
    """This command again, on ``devices`` processes under torchrun."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={devices}", "-m", "symml.cli", "run", str(config), *overrides,
        "--runs-dir", str(runs_dir),
    ]  # fmt: skip
    completed = subprocess.run(command, check=False)
    if completed.returncode:
        raise typer.Exit(code=completed.returncode)


def sweep_command(
    config: Annotated[Path, typer.Argument(help="an experiment YAML with a `sweep:` grid")],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides (values read as YAML)")
    ] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    workers: Annotated[int | None, typer.Option(help="local worker processes")] = None,
    launcher: Annotated[str | None, typer.Option(help="local or ray")] = None,
    retry_failed: Annotated[bool, typer.Option(help="re-run runs that failed before")] = False,
    report: Annotated[bool, typer.Option(help="write the report when the sweep ends")] = True,
) -> None:
    """Run every combination of the experiment's `sweep:` grid; finished runs are kept and
    skipped, so an interrupted sweep resumes where it stopped. A run that fails is recorded
    (its failed.json) and the others go on; the sweep then exits with code 3.

    Example: symml sweep configs/experiment/o5_efficiency.yaml trainer.epochs=5 --workers 2
    """
    from symml.training.sweep import RunsFailed, sweep_and_report

    with one_line_errors():
        failed = sweep_and_report(
            config, overrides or [], runs_dir, console, workers=workers, launcher=launcher,
            retry_failed=retry_failed, report=report,
        )  # fmt: skip
        if failed:
            raise RunsFailed(failed)


def report_command(
    runs_dir: Annotated[Path, typer.Argument(help="a runs directory, e.g. runs/o5_efficiency")],
    out: Annotated[
        Path | None, typer.Option(help="output directory (default RUNS_DIR/report)")
    ] = None,
) -> None:
    """Tables (markdown, CSV) and plots (PNG, SVG) of finished runs: mean ± std over seeds,
    data efficiency, generalization to transformed test sets.

    Example: symml report runs/o5_efficiency
    """
    from symml.training.report import write_report

    with one_line_errors():
        write_report(runs_dir, out, console)


def reproduce_command(
    study: Annotated[str, typer.Argument(help="a study in experiments/, e.g. quickstart")],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides (values read as YAML)")
    ] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    workers: Annotated[int | None, typer.Option(help="local worker processes")] = None,
    budget: Annotated[
        str, typer.Option(help="the study's budget: cpu (2 CPU cores) or paper (the protocol)")
    ] = "cpu",
    record: Annotated[
        bool,
        typer.Option(
            help="keep the finished runs' records in experiments/STUDY/runs/BUDGET/ and the "
            "report, rebuilt from them, in experiments/STUDY/results/BUDGET/"
        ),
    ] = False,
    reuse_records: Annotated[
        bool,
        typer.Option(
            help="start from the study's committed records (train only what is missing); "
            "--no-reuse-records trains every run here"
        ),
    ] = True,
) -> None:
    """Run a study from experiments/ under a budget: its recorded runs are reused, only missing
    runs train, then one report. A sweep whose dataset files are missing is skipped with a note
    on how to get them.

    Example: symml reproduce quickstart --budget cpu
    """
    from symml.training.study import reproduce, study_named

    with one_line_errors():
        reproduce(
            study_named(study), budget, runs_dir, console, overrides=tuple(overrides or ()),
            workers=workers, record=record, reuse_records=reuse_records,
        )  # fmt: skip
