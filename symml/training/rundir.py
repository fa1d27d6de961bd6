"""A run's directory and its files, written atomically so a killed run leaves no half file.

``runs/<experiment>/<run_id>/``: ``config.yaml``, ``manifest.json``, ``metrics.jsonl``,
``log.txt``, ``checkpoint.pt`` and — only once the run finished — ``result.json``; a run that
stopped on a non-finite loss writes ``failed.json`` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from symml import _cache

_PACKAGES = ("symml", "torch", "numpy", "scipy", "e3nn", "torch-geometric", "escnn", "pydantic")


def _file_mode() -> int:
    # mkstemp creates 0600 files; give results the mode a plain open() would (0666 & ~umask)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` through a synced temp file in the same directory and ``os.replace``
    (`symml._cache.atomic_write`), readable like a file ``open()`` would create."""
    raw = data.encode() if isinstance(data, str) else data

    def fill(tmp: Path) -> None:
        tmp.write_bytes(raw)
        os.chmod(tmp, _file_mode())

    _cache.atomic_write(path, fill)


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` through a synced temp file; load with ``torch.load(path,
    weights_only=True)``."""

    def fill(tmp: Path) -> None:
        torch.save(state, tmp)
        os.chmod(tmp, _file_mode())

    _cache.atomic_write(path, fill)


@dataclass(frozen=True)
class RunDir:
    """Paths of one run's files."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.path / "log.txt"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def result(self) -> Path:
        return self.path / "result.json"

    @property
    def failed(self) -> Path:
        return self.path / "failed.json"

    def finished(self) -> bool:
        return self.result.exists()

    def set_aside(self, record: Path, problem: str, console: Any) -> None:
        """Move an unreadable record (``result.json``, ``failed.json``) to ``<name>.corrupt``
        and say so on ``console``: the run is then trained again instead of failing every
        later sweep, and the bad file stays for a look."""
        aside = record.with_name(record.name + ".corrupt")
        os.replace(record, aside)
        console.print(
            f"[yellow]warning: {problem} — set aside as {aside.name}; the run is trained "
            "again[/yellow]",
            soft_wrap=True,
        )

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the ``.<name>.*.tmp`` files a killed writer left behind; returns them.

        Only safe for the holder of the run's lock: a live writer's temp file would go too.
        """
        stale = sorted(self.path.glob(".*.tmp")) if self.path.is_dir() else []
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        return stale

    def append_metrics(self, row: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """Append ``row`` to the per-epoch log; the whole file is rewritten atomically."""
        rows.append(row)
        write_atomic(self.metrics, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))

    def log_line(self, text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as f:  # appended lines: a torn last line is harmless in a log
            f.write(text.rstrip("\n") + "\n")


def manifest(seed: int, device: torch.device, deterministic: bool) -> dict[str, Any]:
    """What is needed to reproduce a run: versions, commit, seed, device, determinism flags."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git_commit(),
        "seed": seed,
        "device": str(device),
        "cuda": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "requested_deterministic": deterministic,
        "command": sys.argv,
    }


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


class RunLocked(RuntimeError):
    """Another live process is training this run (its ``.lock`` names the process)."""


def lock_holder(run: RunDir) -> int | None:
    """The process id in ``run``'s lock file when that process is alive and looks like Python
    (so symml), else None: a lock left by a killed run, or whose number a new, unrelated
    process has since taken, is stale."""
    lock = run.path / ".lock"
    try:
        pid = int(lock.read_text() or "0")
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    try:  # Linux: a recycled process id belongs to some other program
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").lower()
    except OSError:
        return pid  # no /proc (or no access): trust that it is alive
    return pid if b"python" in command or b"symml" in command else None


def locked_message(run: RunDir, pid: int) -> str:
    """One line saying who holds ``run`` and how to clear a lock that is not really held."""
    return (
        f"run {run.path.name} is being trained by process {pid} (lock file {run.path / '.lock'}); "
        f"wait for it to finish, or, if process {pid} is not a symml run, delete the lock file"
    )


@contextlib.contextmanager
def claim(run: RunDir) -> Iterator[bool]:
    """Hold ``run``'s lock file while training; yields False when another live process holds
    it (`lock_holder` names it). Shared by `symml run` and sweeps, so one run folder is never
    trained by two processes at once."""
    run.path.mkdir(parents=True, exist_ok=True)
    lock = run.path / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if lock_holder(run) is not None:
                yield False
                return
            lock.unlink(missing_ok=True)  # left by a killed process: take it over
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        try:
            # a process killed mid-write (SIGKILL, power loss) leaves its temp file; we hold
            # the lock now, so no live writer can own one
            run.remove_stale_temporaries()
            yield True
        finally:
            lock.unlink(missing_ok=True)
        return
    yield False


@contextlib.contextmanager
def hold(run: RunDir) -> Iterator[None]:
    """Hold ``run``'s lock (`claim`) for the block, or raise `RunLocked` naming the process that
    holds it. A process that torchrun started (``WORLD_SIZE > 1``) takes none: the process that
    launched it holds the lock for all of them."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        yield
        return
    with claim(run) as owned:
        if not owned:
            raise RunLocked(locked_message(run, lock_holder(run) or 0))
        yield
