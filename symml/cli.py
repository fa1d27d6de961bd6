"""The ``symml`` command line: ``symml list``, ``symml tour``, ``symml decompose EXPR``,
``symml check [MODEL]``, ``symml data list`` and ``symml data prepare NAME``.

Thin over the library: each command formats what `symml.groups`, `symml.reps`, `symml.models`,
`symml.data` and `symml.testing` compute.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.table import Table

from symml import data as symml_data
from symml import models as symml_models
from symml.groups import Dihedral, group_names
from symml.reps import (
    Rep,
    decompose,
    intertwiners,
    irrep,
    irrep_keys,
    parse_rep,
    regular,
    standard,
)
from symml.reps.irreps import irrep_dim

app = typer.Typer(
    help="symml: groups, representations and equivariant deep learning.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Datasets: where symml looks for them, and preparing them.")
app.add_typer(data_app, name="data")
console = Console()

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


@app.command("list")
def list_command() -> None:
    """List the groups and representation constructors symml provides."""
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
    _print_models()
    _print_datasets()
    studies = Table(title="Studies (symml reproduce STUDY)")
    studies.add_column("study")
    studies.add_column("config")
    for name, path in _studies().items():
        studies.add_row(name, str(path))
    console.print(studies)


def _print_models() -> None:
    table = Table(title="Models (symml.models.build(name, **overrides))")
    for column in ("name", "input", "group", "baseline", "description"):
        table.add_column(column)
    for name in symml_models.names():
        info = symml_models.info(name)
        table.add_row(name, info.kind, info.group, info.baseline or "—", info.description)
    console.print(table)


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"expected key=value (got {text!r})")
    try:
        return key, ast.literal_eval(value)  # numbers, booleans, tuples; anything else is text
    except (ValueError, SyntaxError):
        return key, value


@app.command("check")
def check_command(
    model: Annotated[
        str | None, typer.Argument(help="a registered model (default: every registered model)")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="a model option key=value, e.g. -s group=O3"),
    ] = None,
    float64: Annotated[bool, typer.Option(help="check in float64 instead of float32")] = False,
) -> None:
    """Equivariance error of registered models on random inputs (``max |f(g·x) - g·f(x)|``
    relative to ``max |g·f(x)|``).

    Example: symml check emlp -s group=O3 -s rep_in="5*S + 5*V" -s rep_out="T(2)"
    """
    # the CLI imports the harness (allowed for cli, see tests/test_architecture.py)
    from symml.testing import equivariance_error

    names = [model] if model is not None else symml_models.names()
    overrides = dict(_override(o) for o in option or [])
    table = Table(title="Equivariance error (relative; ~1e-7 in float32 is exact)")
    for column in ("model", "group", "baseline", "parameters", "output", "error", "seconds"):
        table.add_column(column)
    for name in names:
        start = time.perf_counter()
        try:
            built = symml_models.build(name, **overrides)
            errors = equivariance_error(built, dtype=torch.float64 if float64 else None)
        except (ValueError, TypeError, ImportError) as err:
            console.print(f"[red]{name}: {err}[/red]")
            raise typer.Exit(code=2) from err
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


def _print_datasets() -> None:
    table = Table(title="Datasets (symml.data.build(name, split))")
    table.add_column("name")
    table.add_column("splits")
    table.add_column("description")
    for name, description in symml_data.describe().items():
        table.add_row(name, ", ".join(symml_data.splits(name)), description)
    console.print(table)


@data_app.command("list")
def data_list() -> None:
    """List the datasets and the folders searched for their files."""
    _print_datasets()
    console.print(
        "Searched for data files, in order: " + ", ".join(map(str, symml_data.data_dirs()))
    )
    console.print(f"Generated data is cached in: {symml_data.cache_dir()}")


@data_app.command("prepare")
def data_prepare(
    names: Annotated[list[str], typer.Argument(help="datasets, e.g. mnist rotated_mnist")],
) -> None:
    """Build every split of the named datasets: verifies checksums and fills the cache."""
    table = Table(title="Prepared datasets")
    for column in ("dataset", "split", "samples", "group"):
        table.add_column(column)
    failed = False
    for name in names:
        try:
            for split in symml_data.splits(name):
                with console.status(f"building {name} / {split}"):
                    ds = symml_data.build(name, split)
                table.add_row(name, split, str(len(ds)), repr(ds.group))
            console.print(f"{name}: input {ds.input_rep}, target {ds.target_rep}")
        except (ValueError, OSError) as err:  # unknown name, missing files, checksum errors
            console.print(f"[red]{name}: {err}[/red]")
            failed = True
    console.print(table)
    if failed:
        raise typer.Exit(code=1)


@app.command("decompose")
def decompose_command(
    expr: Annotated[
        str, typer.Argument(help='a representation, e.g. "tensor(standard(O3()), standard(O3()))"')
    ],
) -> None:
    """Decompose a representation into irreps and count its equivariant maps."""
    try:
        rep = parse_rep(expr)
    except ValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(code=2) from err
    _print_decomposition(rep)


def _print_decomposition(rep: Rep) -> None:
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


@app.command()
def tour() -> None:
    """A five-minute tour: a group, its representations, and equivariant maps."""
    group = Dihedral(4)
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

    console.rule("2. Representations: matrices that multiply like the group")
    rho = standard(group)
    console.print(f"standard(D4)(r) rotates the plane by 90°:\n{rho(r)[0].tolist()}")
    reg = regular(group)
    console.print(f"regular(D4) permutes the 8 elements; is_permutation = {reg.is_permutation}")
    chars = Table(title="Character table of D4 (trace of each irrep at each element)")
    chars.add_column("irrep")
    chars.add_column("dim", justify="right")
    for j in range(group.order):
        chars.add_column(group.describe(elements.data[j : j + 1]).strip("[]"), justify="right")
    for key in irrep_keys(group):
        psi = irrep(group, key)
        values = psi.character(elements).round().long().tolist()
        chars.add_row(str(key), str(irrep_dim(group, key)), *(str(v) for v in values))
    console.print(chars)
    console.print("regular(D4) decomposes into irreps (each appears dim-many times):")
    _print_decomposition(reg)

    console.rule("3. Equivariant maps, solved for")
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

    console.rule("4. Continuous groups through e3nn: SO(3)/O(3)")
    from symml.groups import O3

    vec = standard(O3())
    console.print(
        "vector ⊗ vector = scalar (trace) + pseudovector (antisymmetric) + 5-dim traceless:"
    )
    _print_decomposition(vec.tensor(vec))
    console.print(
        'Next: `symml decompose "tensor(standard(SO2()), irrep(SO2(), 3))"` and `make test`.'
    )


_STATE = {"debug": False}


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False,
) -> None:
    _STATE["debug"] = debug


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """Errors a user can fix become one red line and a non-zero exit (tracebacks with --debug)."""
    from symml.data import DataNotFoundError
    from symml.training import ConfigError, TrainingDiverged

    try:
        yield
    except (ConfigError, DataNotFoundError, FileNotFoundError, ImportError, ValueError) as err:
        if _STATE["debug"]:
            raise
        console.print(f"[red]error: {err}[/red]", soft_wrap=True)
        raise typer.Exit(code=2) from err
    except TrainingDiverged as err:
        if _STATE["debug"]:
            raise
        console.print(f"[red]stopped: {err}[/red]", soft_wrap=True)
        raise typer.Exit(code=3) from err


def _experiments_dir() -> Path:
    env = os.environ.get("SYMML_EXPERIMENTS_DIR")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (base / "experiments").is_dir():
            return base / "experiments"
    raise FileNotFoundError(
        "no experiments/ directory here or in the symml checkout; set SYMML_EXPERIMENTS_DIR"
    )


def _studies() -> dict[str, Path]:
    try:
        root = _experiments_dir()
    except FileNotFoundError:
        return {}
    return {p.parent.name: p for p in sorted(root.glob("*/study.yaml"))}


RUNS_DIR = typer.Option("--runs-dir", help="where run directories are written")


@app.command("run", context_settings={"allow_extra_args": False})
def run_command(
    config: Annotated[
        Path, typer.Argument(help="an experiment YAML, e.g. configs/experiment/x.yaml")
    ],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. trainer.epochs=5")
    ] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    devices: Annotated[
        int, typer.Option(help="train on N processes with torchrun + DDP (gloo on CPU)")
    ] = 1,
) -> None:
    """Train and evaluate one run (the experiment's config without its sweep).

    Example: symml run configs/experiment/o5_efficiency.yaml data.train_size=300 seed=1
    """
    from symml.training import load, train

    with _one_line_errors():
        if devices > 1:
            _torchrun(devices, config, overrides or [], runs_dir)
            return
        _, resolved = load(config, overrides or [])
        console.rule(f"run {resolved.run_id()}: {resolved.label} on {resolved.data.name}")
        console.print(resolved.to_yaml(), highlight=False)
        result = train(resolved, runs_dir, console)
        _print_results([result])
        console.print(f"run directory: {runs_dir / resolved.experiment / resolved.run_id()}")


def _torchrun(devices: int, config: Path, overrides: list[str], runs_dir: Path) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={devices}", "-m", "symml.cli", "run", str(config), *overrides,
        "--runs-dir", str(runs_dir),
    ]  # fmt: skip
    completed = subprocess.run(command, check=False)
    if completed.returncode:
        raise typer.Exit(code=completed.returncode)


@app.command("sweep")
def sweep_command(
    config: Annotated[Path, typer.Argument(help="an experiment YAML with a `sweep:` grid")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    workers: Annotated[int | None, typer.Option(help="local worker processes")] = None,
    launcher: Annotated[str | None, typer.Option(help="local or ray")] = None,
    retry_failed: Annotated[bool, typer.Option(help="re-run runs that diverged before")] = False,
    report: Annotated[bool, typer.Option(help="write the report when the sweep ends")] = True,
) -> None:
    """Run every combination of the experiment's `sweep:` grid; finished runs are kept and
    skipped, so an interrupted sweep resumes where it stopped.

    Example: symml sweep configs/experiment/o5_efficiency.yaml trainer.epochs=5 --workers 2
    """
    with _one_line_errors():
        _sweep_and_report(
            config, overrides or [], runs_dir, workers, launcher, retry_failed, report
        )


def _sweep_and_report(
    config: Path,
    overrides: list[str],
    runs_dir: Path,
    workers: int | None,
    launcher: str | None,
    retry_failed: bool,
    report: bool,
) -> None:
    from symml.training import load, run_sweep

    raw, resolved = load(config, overrides)
    outcome = run_sweep(
        raw, runs_dir, workers=workers, launcher=launcher, retry_failed=retry_failed,
        console=console,
    )  # fmt: skip
    _print_results(outcome.results)
    for run_id, reason in outcome.failed.items():
        console.print(f"[red]run {run_id} failed: {reason}[/red]", soft_wrap=True)
    console.print(f"{outcome.ran} runs trained now, {outcome.skipped} kept from before")
    if report and outcome.results:
        _write_report(runs_dir / resolved.experiment)


def _print_results(results: list[dict[str, Any]]) -> None:
    table = Table(title="Results")
    for column in (
        "model",
        "group",
        "dataset",
        "train size",
        "seed",
        "test",
        "params",
        "equiv. err",
    ):
        table.add_column(column)
    for r in sorted(results, key=lambda r: (r["dataset"], r["label"], r["train_size"], r["seed"])):
        equiv = r.get("equivariance_error")
        table.add_row(
            r["label"], r["model_group"], r["dataset"], str(r["train_size"]), str(r["seed"]),
            f"{r['test']:.4g} ({r['metric']})", str(r["parameters"]),
            "—" if equiv is None else f"{equiv:.1e}",
        )  # fmt: skip
    console.print(table)


def _write_report(runs_dir: Path, out: Path | None = None) -> None:
    from symml.training.report import build_report

    report = build_report(runs_dir, out)
    console.print(report.summary_table())
    console.print(f"report written to {report.out_dir} ({', '.join(p.name for p in report.files)})")


@app.command("report")
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
    with _one_line_errors():
        _write_report(runs_dir, out)


@app.command("reproduce")
def reproduce_command(
    study: Annotated[str, typer.Argument(help="a study in experiments/, e.g. quickstart")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
    runs_dir: Annotated[Path, RUNS_DIR] = Path("runs"),
    workers: Annotated[int | None, typer.Option(help="local worker processes")] = None,
    record: Annotated[
        bool, typer.Option(help="copy the report into experiments/STUDY/results/")
    ] = False,
) -> None:
    """Run a study from experiments/ (its sweeps, then one report); a sweep whose dataset files
    are missing is skipped with a note on how to get them.

    Example: symml reproduce quickstart
    """
    from symml.data import DataNotFoundError
    from symml.training.study import load_study

    with _one_line_errors():
        studies = _studies()
        if study not in studies:
            known = ", ".join(studies) or "none found"
            raise ValueError(f"unknown study {study!r}; studies: {known}")
        spec = load_study(studies[study])
        console.rule(spec.title)
        console.print(spec.description.strip())
        root = runs_dir / spec.name
        ran_any = False
        for sweep in spec.sweeps:
            console.rule(f"{spec.name}: {sweep.name}")
            try:
                _sweep_and_report(sweep, overrides or [], root, workers, None, False, False)
                ran_any = True
            except DataNotFoundError as err:
                console.print(f"[yellow]skipped {sweep.name}: {err}[/yellow]", soft_wrap=True)
        if not ran_any:
            raise ValueError(f"study {study}: no sweep could run (see the notes above)")
        report_dir = root / "report"
        _write_report(root, report_dir)
        if record:
            target = spec.folder / "results"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(report_dir, target)
            console.print(f"recorded the report in {target}")
        console.print(f"[bold]The report is in {report_dir.resolve()}[/bold] (results.md, plots)")


def main() -> None:
    """Entry point of the ``symml`` console script."""
    app()


if __name__ == "__main__":
    main()
