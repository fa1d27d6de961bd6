"""Experiments (layer L4): typed configs, the training loop, sweeps, launchers and reports.

Example:
    >>> from symml.training import RunConfig
    >>> config = RunConfig.model_validate({"model": {"name": "mlp"}, "data": {"name": "inertia"}})
    >>> config.trainer.optimizer.name, len(config.run_id())
    ('adam', 12)
"""

from symml.training.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainerConfig,
)
from symml.training.config_files import SweepConfig, load
from symml.training.loop import TrainingDiverged, train
from symml.training.report import Report, build_report
from symml.training.results import ReportRow, Summary, aggregate, collect
from symml.training.run_result import RunResult
from symml.training.sweep import SweepOutcome, expand, run_sweep

__all__ = [
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "Report",
    "ReportRow",
    "RunResult",
    "Summary",
    "RunConfig",
    "SweepConfig",
    "SweepOutcome",
    "TrainerConfig",
    "TrainingDiverged",
    "aggregate",
    "build_report",
    "collect",
    "expand",
    "load",
    "run_sweep",
    "train",
]
