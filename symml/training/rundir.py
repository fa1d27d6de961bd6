"""A run's directory and its files, written atomically so a killed run leaves no half file.

``runs/<experiment>/<run_id>/``: ``config.yaml``, ``manifest.json``, ``metrics.jsonl``,
``log.txt``, ``checkpoint.pt`` and — only once the run finished — ``result.json``; a run that
stopped on a non-finite loss writes ``failed.json`` instead.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

_PACKAGES = ("symml", "torch", "numpy", "scipy", "e3nn", "torch-geometric", "escnn", "pydantic")


def _file_mode() -> int:
    # mkstemp creates 0600 files; give results the mode a plain open() would (0666 & ~umask)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` via a temp file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` through a temp file; load with ``torch.load(path, weights_only=True)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
