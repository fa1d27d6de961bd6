"""The CLI's console and its error boundary (`one_line_errors`): a mistake a user can fix is one
red line and a documented exit code (docs/experiments.md), a bug is one line with its traceback
saved in a file; ``symml --debug`` re-raises instead."""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import typer
from rich.console import Console

console = Console()

# exit codes (docs/experiments.md): 0 done; 2 a usage or config mistake, or missing data;
# 3 a run failed or diverged (a sweep exits 3 when any of its runs did); 1 an internal error
EXIT_USAGE, EXIT_RUN_FAILED, EXIT_INTERNAL = 2, 3, 1


@dataclass
class Options:
    """The options given before the command (``symml --debug COMMAND``)."""

    debug: bool = False


OPTIONS = Options()


def first_line(err: BaseException) -> str:
    """The first line of an error's message; a file error names the file and what to check."""
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


def _fail(text: str, code: int) -> typer.Exit:
    """Print ``text`` in red, as one line however long; the exit to raise."""
    console.print(f"[red]{text}[/red]", soft_wrap=True)
    return typer.Exit(code=code)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """The CLI's error boundary: a mistake a user can fix becomes one red line naming what and
    where, and a documented exit code; a bug says so in one line and keeps its traceback in a
    file. ``symml --debug ...`` re-raises instead, with the traceback."""
    from symml.data import DataNotFoundError
    from symml.training import ConfigError, TrainingDiverged
    from symml.training.rundir import RunLocked
    from symml.training.sweep import RunsFailed

    try:
        yield
    except (typer.Exit, click.exceptions.Abort, KeyboardInterrupt):
        raise
    except RunsFailed as err:
        raise _fail(str(err), EXIT_RUN_FAILED) from err
    except TrainingDiverged as err:
        if OPTIONS.debug:
            raise
        raise _fail(f"stopped: {first_line(err)}", EXIT_RUN_FAILED) from err
    except (
        ConfigError, DataNotFoundError, RunLocked, ImportError, ValueError, TypeError, OSError,
    ) as err:  # fmt: skip
        if OPTIONS.debug:
            raise
        raise _fail(f"error: {first_line(err)}", EXIT_USAGE) from err
    except Exception as err:
        if OPTIONS.debug:
            raise
        saved = _save_traceback()
        where = f"the traceback is in {saved}" if saved else "rerun with --debug for the traceback"
        message = (
            f"internal error, a bug in symml ({type(err).__name__}: {first_line(err)}); "
            f"{where}; please report it"
        )
        raise _fail(message, EXIT_INTERNAL) from err
