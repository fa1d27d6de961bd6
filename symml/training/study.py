"""Studies: ``experiments/<study>/study.yaml`` lists the sweeps that reproduce a set of results.

::

    title: Quick start
    description: EGNN vs GNN on N-body, P4CNN vs Z2CNN on MNIST-rot, at two training sizes
    sweeps: [nbody.yaml, mnist.yaml]   # experiment configs next to study.yaml

Each sweep writes to ``<runs>/<study>/<experiment>/<run_id>/``; the study's report covers all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from symml.training.config import ConfigError, _describe, _read_yaml


class _StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    description: str = ""
    sweeps: list[str]


@dataclass(frozen=True)
class Study:
    """A study: its name (the folder), title, description and sweep config files."""

    name: str
    title: str
    description: str
    sweeps: tuple[Path, ...]
    folder: Path


def load_study(path: Path) -> Study:
    """Read ``study.yaml``; sweep paths are relative to its folder and must exist."""
    try:
        spec = _StudyFile.model_validate(_read_yaml(path))
    except ValidationError as err:
        raise ConfigError(f"{path}: {_describe(err)}") from err
    sweeps = tuple(path.parent / s for s in spec.sweeps)
    for s in sweeps:
        if not s.is_file():
            raise ConfigError(f"{path}: sweeps: {s} does not exist")
    return Study(path.parent.name, spec.title, spec.description, sweeps, path.parent)
