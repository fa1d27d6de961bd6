"""The record of one finished run: `RunResult`, the schema of its ``result.json``.

The training loop builds one and writes it (`symml.training.loop.train`); sweeps, the report,
studies and the CLI read it back (`RunResult.read`). The file is the model's JSON: every field,
keys sorted, two-space indent. Fields added after the first records (from ``metric_units`` on)
default to "not recorded", so older records still validate; keys the schema does not know are
ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError

from symml.training.budget import Budget
from symml.training.rundir import write_atomic

# an angle curve: (angle in radians, metric) pairs, at least one
_Curve = Annotated[list[tuple[FiniteFloat, FiniteFloat]], Field(min_length=1)]


class Candidate(BaseModel):
    """One combination of values tried when a run was tuned. Only its validation metric is
    recorded: the test set is evaluated for the selected candidate alone."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    values: dict[str, Any]  # tuned key -> value, e.g. {"trainer.optimizer.lr": 0.001}
    val: float | None = None  # inf/NaN allowed: a diverged candidate is reported, not refused
    best_step: int | None = None
    converged: bool | None = None
    error: str | None = None  # why the candidate did not finish


class RunResult(BaseModel):
    """A finished run: what was trained, how, and its test, transformed-test and equivariance
    metrics (of the checkpoint selected on validation).

    Example:
        >>> result = RunResult.from_dict(
        ...     dict(
        ...         run_id="r",
        ...         experiment="demo",
        ...         status="finished",
        ...         model="mlp",
        ...         seed=0,
        ...         model_group="none",
        ...         dataset="o5",
        ...         train_size=100,
        ...         label="mlp",
        ...         metric="mse",
        ...         test=0.1,
        ...         val=0.1,
        ...         parameters=1000,
        ...         epochs=3,
        ...         wall_time_s=1.0,
        ...         throughput=100.0,
        ...     ),
        ...     "example",
        ... )
        >>> RunResult.from_json(result.to_json(), "round trip") == result
        True
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_id: str
    experiment: str
    status: Literal["finished"]
    model: str
    model_group: str
    baseline: str | None = None
    dataset: str
    train_size: int = Field(ge=1)
    seed: int
    augment: bool = False
    label: str
    metric: Literal["mse", "error"]
    test: FiniteFloat
    val: FiniteFloat
    transformed: dict[str, FiniteFloat] = {}
    angle_curves: dict[str, _Curve] = {}
    equivariance_error: FiniteFloat | None = None
    parameters: int = Field(ge=0)
    epochs: int = Field(ge=0)
    wall_time_s: FiniteFloat = Field(ge=0)
    throughput: FiniteFloat | None = Field(ge=0)  # None when the wall time was too short
    published: FiniteFloat | None = None
    metric_units: str | None = None  # "raw target units" for MSE, "%" for error
    budget: Budget | None = None
    steps: int | None = Field(None, ge=0)  # optimizer steps actually run
    best_step: int | None = Field(None, ge=0)  # step of the kept (best-validation) checkpoint
    early_stopped: bool = False
    converged: bool | None = None  # decided by the training loop; None: not recorded
    convergence: str = ""  # empty when converged, else the loop's note
    tuned: dict[str, Any] = {}  # the selected value of each tuned key; {} when not tuned
    candidates: list[Candidate] = []
    train_seconds: FiniteFloat | None = Field(None, ge=0)
    eval_seconds: FiniteFloat | None = Field(None, ge=0)
    transformed_size: int | None = Field(None, ge=1)  # test samples of the transformed sets
    # median seconds of one forward pass (eval mode) on a batch of `forward_batch` test samples
    forward_seconds: FiniteFloat | None = Field(None, ge=0)
    forward_batch: int | None = Field(None, ge=1)

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> RunResult:
        """``raw`` (a parsed ``result.json``) checked against the schema; a `ValueError` naming
        ``where`` and the first bad key otherwise."""
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "<top level>"
            raise ValueError(
                f"{where}: not a valid result.json: {key}: {first['msg']} ({err.error_count()} "
                "error(s); the schema is symml.training.run_result.RunResult)"
            ) from err

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> RunResult:
        """`from_dict` of the JSON ``text``; a `ValueError` naming ``where`` when it is not
        JSON (a torn copy, a truncated write)."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(
                f"{where}: corrupt result.json ({err}); delete its run directory and re-run the "
                "sweep to redo that run"
            ) from err
        return cls.from_dict(raw, where)

    @classmethod
    def read(cls, path: Path) -> RunResult:
        """The ``result.json`` at ``path``; errors name the file."""
        return cls.from_json(path.read_bytes(), str(path))

    def to_json(self) -> str:
        """The ``result.json`` text: every field, keys sorted, two-space indent."""
        return json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        """Write `to_json` to ``path`` atomically (a killed writer leaves no half file)."""
        write_atomic(path, self.to_json())
