"""Shared pieces of the training tests: a small experiment config on a synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"

TINY = {
    "experiment": "tiny",
    "model": {"name": "emlp", "options": {"hidden": 16, "num_layers": 1}},
    "data": {"name": "inertia", "train_size": 32, "val_size": 16, "test_size": 16},
    "trainer": {"epochs": 2, "batch_size": 16, "progress": False, "optimizer": {"lr": 1e-3}},
}


def write_experiment(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def tiny_experiment(tmp_path: Path) -> Path:
    return write_experiment(tmp_path / "tiny.yaml", TINY)
