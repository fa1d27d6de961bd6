"""The ``symml`` command line: ``symml list``, ``symml tour``, ``symml decompose EXPR``,
``symml check [MODEL]``, ``symml data list`` and ``symml data prepare NAME``.

Thin over the library: each command formats what `symml.groups`, `symml.reps`, `symml.models`,
`symml.data` and `symml.testing` compute.
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import click
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
data_app = typer.Typer(help="Datasets: where symml looks for them, downloading and preparing them.")
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
        except (ValueError, TypeError, ImportError, AttributeError, KeyError) as err:
            console.print(f"[red]error: {name}: {_first_line(err)}[/red]", soft_wrap=True)
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
            console.print(f"[red]{name}: {_first_line(err)}[/red]", soft_wrap=True)
            failed = True
    if table.row_count:
        console.print(table)
    if failed:
        raise typer.Exit(code=EXIT_USAGE)


@data_app.command("download")
def data_download(
    name: Annotated[str, typer.Argument(help="the dataset to fetch: mnist or mnist_rot")],
    dest: Annotated[
        Path | None,
        typer.Option(
            help="data folder to put the files in, as DEST/NAME/ (default: the first folder "
            "symml searches, $SYMML_DATA_DIR or ~/.cache/symml/data)"
        ),
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing", help="download nothing when symml already finds verified files"
        ),
    ] = False,
) -> None:
    """Fetch a dataset's files from its official mirrors, checking the published checksums."""
    from rich.markup import escape  # errors quote paths and URLs: no markup in them

    from symml.data import mnist
    from symml.data._mnist_rot import MNIST_ROT_ZIP

    # NAME -> (fetch into a folder, the folder symml reads verified files from (None: none),
    # the files to put in $SYMML_DATA_DIR/NAME by hand, what the fetch verified)
    downloads = {
        "mnist": (
            mnist.download_mnist,
            mnist.find_mnist,
            "the four files",
            "their SHA-256 checksums match the published ones",
        ),
        "mnist_rot": (
            mnist.download_mnist_rot,
            mnist.find_mnist_rot,
            MNIST_ROT_ZIP,
            "its MD5 checksum matches the published one",
        ),
    }
    if name not in downloads:
        # the datasets built from downloaded files point to what to download instead
        source = {
            "rotated_mnist": "mnist",
            "mnist_upright": "mnist",
            "mnist_rot_original": "mnist_rot",
        }
        hint = (
            f"; {name} is built from {source[name]}: `symml data download {source[name]}`"
            if name in source
            else "; the other datasets are built from these or generated (`symml data list`)"
        )
        console.print(
            f"[red]cannot download {escape(repr(name))}: the datasets symml downloads are "
            f"{', '.join(downloads)}{escape(hint)}[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    fetch, find, files, verified = downloads[name]
    if if_missing and (found := find()) is not None:
        console.print(
            f"{name}: verified files already in {escape(str(found))}; nothing downloaded",
            soft_wrap=True,
        )
        return
    folder = (dest if dest is not None else symml_data.data_dirs()[0]) / name
    try:
        with console.status(f"downloading {name} into {escape(str(folder))}"):
            fetch(folder)
    except symml_data.DownloadError as err:  # offline or mirrors down: say how to do without
        if _STATE["debug"]:
            raise
        console.print(
            f"[red]cannot download {name}: {escape(str(err))}; retry when online, or copy the "
            f"files by hand (put {files} in $SYMML_DATA_DIR/{name}, see README)[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None
    except (symml_data.ChecksumError, OSError) as err:  # bad bytes; an unwritable DEST
        if _STATE["debug"]:
            raise
        console.print(f"[red]cannot download {name}: {escape(str(err))}[/red]", soft_wrap=True)
        raise typer.Exit(code=1) from None
    console.print(f"{name}: {escape(str(folder))} holds {files}; {verified}", soft_wrap=True)
    searched = [d.resolve() for d in symml_data.data_dirs()]
    if folder.parent.resolve() not in searched:
        console.print(
            f"note: symml does not search {escape(str(folder.parent))}: set "
            f"SYMML_DATA_DIR={escape(str(folder.parent))} to use these files",
            soft_wrap=True,
        )


@app.command("decompose")
def decompose_command(
    expr: Annotated[
        str, typer.Argument(help='a representation, e.g. "tensor(standard(O3()), standard(O3()))"')
    ],
) -> None:
    """Decompose a representation into irreps and count its equivariant maps."""
    with _one_line_errors():
        _print_decomposition(parse_rep(expr))


def _print_decomposition(rep: Rep) -> None:
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


# exit codes (docs/experiments.md): 0 done; 2 a usage or config mistake, or missing data;
# 3 a run failed or diverged (a sweep exits 3 when any of its runs did); 1 an internal error
EXIT_USAGE, EXIT_RUN_FAILED, EXIT_INTERNAL = 2, 3, 1


class RunsFailed(Exception):
    """Some runs of a sweep or study failed; each was already reported with its reason."""


def _first_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        if isinstance(err, FileNotFoundError):
            return f"{err.filename}: {err.strerror}; check the path"
        return (
            f"{err.filename}: {err.strerror}; check that symml can write there (permissions, a "
            "file in the way, free space) or choose another folder"
        )
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _save_traceback() -> Path | None:
    """Write the current traceback to ``<cache dir>/errors/``; the path, or None if unwritable."""
    from symml.data import cache_dir

    try:
        folder = cache_dir() / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
    except OSError:
        return None
    return path


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """The CLI's error boundary: a mistake a user can fix becomes one red line naming what and
    where, and a documented exit code; a bug says so in one line and keeps its traceback in a
    file. ``symml --debug ...`` re-raises instead, with the traceback."""
    from symml.data import DataNotFoundError
    from symml.training import ConfigError, TrainingDiverged
    from symml.training.rundir import RunLocked

    try:
        yield
    except (typer.Exit, click.exceptions.Abort, KeyboardInterrupt):
        raise
    except RunsFailed as err:
        console.print(f"[red]{err}[/red]", soft_wrap=True)
        raise typer.Exit(code=EXIT_RUN_FAILED) from err
    except TrainingDiverged as err:
        if _STATE["debug"]:
            raise
        console.print(f"[red]stopped: {_first_line(err)}[/red]", soft_wrap=True)
        raise typer.Exit(code=EXIT_RUN_FAILED) from err
    except (
        ConfigError, DataNotFoundError, RunLocked, ImportError, ValueError, TypeError, OSError,
    ) as err:  # fmt: skip
        if _STATE["debug"]:
            raise
        console.print(f"[red]error: {_first_line(err)}[/red]", soft_wrap=True)
        raise typer.Exit(code=EXIT_USAGE) from err
    except Exception as err:
        if _STATE["debug"]:
            raise
        saved = _save_traceback()
        where = f"the traceback is in {saved}" if saved else "rerun with --debug for the traceback"
        console.print(
            f"[red]internal error, a bug in symml ({type(err).__name__}: {_first_line(err)}); "
            f"{where}; please report it[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(code=EXIT_INTERNAL) from err


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
    from symml.training import ConfigError, load, train
    from symml.training.rundir import RunDir, RunLocked, claim, lock_holder, locked_message

    with _one_line_errors():
        if devices < 1:
            raise ConfigError(f"--devices: expected at least 1 process (got {devices})")
        _, resolved = load(config, overrides or [])
        run = RunDir(runs_dir / resolved.experiment / resolved.run_id())
        # the launching process holds the run's lock (as a sweep does), so a second
        # `symml run` of the same config waits its turn instead of training it twice
        distributed_child = int(os.environ.get("WORLD_SIZE", "1")) > 1
        with contextlib.nullcontext(True) if distributed_child else claim(run) as owned:
            if not owned:
                raise RunLocked(locked_message(run, lock_holder(run) or 0))
            if devices > 1:
                _torchrun(devices, config, overrides or [], runs_dir)
                return
            console.rule(f"run {resolved.run_id()}: {resolved.label} on {resolved.data.name}")
            console.print(resolved.to_yaml(), highlight=False)
            result = train(resolved, runs_dir, console)
        _print_results([result])
        console.print(f"run directory: {run.path}")


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
    retry_failed: Annotated[bool, typer.Option(help="re-run runs that failed before")] = False,
    report: Annotated[bool, typer.Option(help="write the report when the sweep ends")] = True,
) -> None:
    """Run every combination of the experiment's `sweep:` grid; finished runs are kept and
    skipped, so an interrupted sweep resumes where it stopped. A run that fails is recorded
    (its failed.json) and the others go on; the sweep then exits with code 3.

    Example: symml sweep configs/experiment/o5_efficiency.yaml trainer.epochs=5 --workers 2
    """
    with _one_line_errors():
        failed = _sweep_and_report(
            config, overrides or [], runs_dir, workers, launcher, retry_failed, report
        )
        if failed:
            raise RunsFailed(_failed_summary(failed))


def _sweep_and_report(
    config: Path,
    overrides: list[str],
    runs_dir: Path,
    workers: int | None,
    launcher: str | None,
    retry_failed: bool,
    report: bool,
) -> dict[str, str]:
    """Run one sweep and print its results; returns the failed runs (run id → reason)."""
    from symml.training import load, run_sweep

    raw, resolved = load(config, overrides)
    outcome = run_sweep(
        raw, runs_dir, workers=workers, launcher=launcher, retry_failed=retry_failed,
        console=console,
    )  # fmt: skip
    if outcome.results:
        _print_results(outcome.results)
    for run_id, reason in outcome.failed.items():
        folder = runs_dir / resolved.experiment / run_id
        console.print(f"[red]run {run_id} failed: {reason} ({folder})[/red]", soft_wrap=True)
    console.print(
        f"{outcome.ran} runs trained now, {outcome.skipped} kept from before, "
        f"{len(outcome.failed)} failed"
    )
    if report and outcome.results:
        _write_report(runs_dir / resolved.experiment)
    return dict(outcome.failed)


def _failed_summary(failed: dict[str, str]) -> str:
    return (
        f"{len(failed)} run(s) failed (listed above; each folder keeps failed.json and log.txt); "
        "fix the cause, then rerun with --retry-failed"
    )


def _print_results(results: list[dict[str, Any]]) -> None:
    """The runs just trained or kept: per dataset a table, one line per run, titled with the
    dataset and the metric's units, then the runs' notes (tuned values, the convergence
    verdict) as lines below. Cells fold instead of truncating, so names and numbers show in
    full at 80 columns."""
    from symml.training.report import values_text
    from symml.training.results import metric_name

    columns = ["model", "group", "train size", "seed", "test", "params", "equiv. err"]
    order = sorted(results, key=lambda r: (r["dataset"], r["label"], r["train_size"], r["seed"]))
    for dataset in dict.fromkeys(r["dataset"] for r in order):
        runs = [r for r in order if r["dataset"] == dataset]
        metric = metric_name(runs[0]["metric"], runs[0].get("metric_units"))
        table = Table(title=f"Results on {dataset}: test {metric}")
        for name in columns:
            right = name not in ("model", "group")
            table.add_column(name, justify="right" if right else "left", overflow="fold")
        notes = []
        for r in runs:
            equiv = r.get("equivariance_error")
            table.add_row(
                r["label"], r["model_group"], f"{r['train_size']:,}", str(r["seed"]),
                f"{r['test']:.4g}", f"{r['parameters']:,}",
                "—" if equiv is None else f"{equiv:.1e}",
            )  # fmt: skip
            tuned = f"tuned {values_text(r['tuned'])}" if r.get("tuned") else ""
            said = "; ".join(text for text in (tuned, r.get("convergence", "")) if text)
            if said:
                notes.append(f"• {r['label']}, N = {r['train_size']:,}, seed {r['seed']}: {said}")
        console.print(table)
        for line in notes:
            console.print(line, highlight=False)


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
    from symml.data import DataNotFoundError
    from symml.training.study import keep_records, load_study, restore_records

    with _one_line_errors():
        studies = _studies()
        if study not in studies:
            known = ", ".join(studies) or "none found"
            raise ValueError(f"unknown study {study!r}; studies: {known}")
        spec = load_study(studies[study])
        chosen = spec.budget(budget)
        console.rule(f"{spec.title} — budget {chosen.name}")
        console.print(spec.description.strip())
        if chosen.wall_time:
            console.print(f"measured cost of this budget: {chosen.wall_time}")
        root = runs_dir / spec.name / chosen.name
        records = spec.records(chosen.name)
        restored = restore_records(records, root) if reuse_records else 0
        if restored:
            console.print(f"reusing {restored} recorded runs from {records}")
        ran_any, failed = False, dict[str, str]()
        for sweep in chosen.sweeps:
            console.rule(f"{spec.name}: {sweep.name}")
            try:
                failed |= _sweep_and_report(
                    sweep, [*chosen.overrides, *(overrides or [])], root, workers, None, False,
                    False,
                )  # fmt: skip
                ran_any = True
            except DataNotFoundError as err:
                console.print(f"[yellow]skipped {sweep.name}: {err}[/yellow]", soft_wrap=True)
        if not ran_any:
            raise ValueError(f"study {study}: no sweep could run (see the notes above)")
        source, report_dir = root, root / "report"
        if record:
            added = keep_records(root, records)
            console.print(f"recorded {added} new runs in {records}")
            source, report_dir = records, spec.folder / "results" / chosen.name
        try:
            _write_report(source, report_dir)
        except ValueError:
            if failed:  # every run failed: no report to write; say why the study stopped
                raise RunsFailed(_failed_summary(failed)) from None
            raise
        console.print(f"[bold]The report is in {report_dir.resolve()}[/bold] (results.md, plots)")
        if failed:
            raise RunsFailed(_failed_summary(failed))


def main() -> None:
    """Entry point of the ``symml`` console script."""
    app()


if __name__ == "__main__":
    main()
