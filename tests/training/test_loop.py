"""The training loop: run directory, determinism, NaN guard, checkpoints, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from symml.models import build
from symml.training import RunConfig, TrainingDiverged, load, train

from .conftest import TINY


def test_run_directory_and_result(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {
            **TINY,
            "trainer": {**TINY["trainer"], "equivariance_every": 1},
            "data": {**TINY["data"], "transformed_tests": [{"name": "rotated"}]},
        }
    )
    result = train(config, tmp_path)
    run = tmp_path / "tiny" / config.run_id()
    for name in ("config.yaml", "manifest.json", "metrics.jsonl", "log.txt", "checkpoint.pt"):
        assert (run / name).is_file(), name
    assert json.loads((run / "result.json").read_text()) == json.loads(result.to_json())
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["name"] == "emlp"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["equivariance_error"] < 1e-5 for r in rows)  # logged during training
    assert result.equivariance_error < 1e-5 and result.metric == "mse"
    assert result.train_size == 32 and set(result.transformed) == {"rotated"}
    # an equivariant model is as good on rotated test data as on the original
    assert result.transformed["rotated"] == pytest.approx(result.test, rel=1e-4)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["packages"]["torch"].startswith("2.")
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    model = build("emlp", rep_in="5*S + 5*V", rep_out="T(2)", group="O3", hidden=16, num_layers=1)
    model.load_state_dict(state)


def test_finished_run_is_not_repeated(tmp_path: Path) -> None:
    config = RunConfig.model_validate(TINY)
    first = train(config, tmp_path)
    result_file = tmp_path / "tiny" / config.run_id() / "result.json"
    stamp = result_file.stat().st_mtime_ns
    assert train(config, tmp_path) == first and result_file.stat().st_mtime_ns == stamp


def test_same_config_and_seed_give_identical_metrics(tmp_path: Path) -> None:
    config = RunConfig.model_validate(TINY)
    a = train(config, tmp_path / "a")
    b = train(config, tmp_path / "b")
    for key in ("test", "val", "transformed", "equivariance_error"):
        assert getattr(a, key) == getattr(b, key)
    rows_a = (tmp_path / "a" / "tiny" / config.run_id() / "metrics.jsonl").read_text()
    rows_b = (tmp_path / "b" / "tiny" / config.run_id() / "metrics.jsonl").read_text()
    strip = [
        {k: v for k, v in json.loads(r).items() if k != "seconds"} for r in rows_a.splitlines()
    ]
    assert strip == [
        {k: v for k, v in json.loads(r).items() if k != "seconds"} for r in rows_b.splitlines()
    ]


def test_nan_loss_stops_the_run_and_keeps_the_log(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {  # a sane first epoch, then the learning rate explodes
            **TINY,
            "trainer": {
                **TINY["trainer"],
                "epochs": 50,
                "schedule": {"name": "exponential", "gamma": 1e8},
            },
        }
    )
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf).*the run stopped"):
        train(config, tmp_path)
    run = tmp_path / "tiny" / config.run_id()
    assert (run / "failed.json").is_file() and not (run / "result.json").exists()
    assert "loss became" in (run / "log.txt").read_text()
    rows = (run / "metrics.jsonl").read_text().splitlines()  # epochs before the blow-up are kept
    assert json.loads(rows[0])["epoch"] == 1


def test_classification_and_augmentation(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {
            "experiment": "cls",
            "model": {"name": "mlp", "options": {"hidden": 8, "num_layers": 1}},
            "data": {"name": "o5_synthetic", "train_size": 16, "val_size": 8, "test_size": 8,
                     "augment": True, "standardize": True},
            "trainer": {"epochs": 1, "batch_size": 8, "progress": False},
        }
    )  # fmt: skip
    result = train(config, tmp_path)
    assert result.label == "mlp+aug" and result.model_group == "none"
    assert result.baseline is None and result.equivariance_error > 1e-3


def test_every_shipped_experiment_runs_a_debug_step(tmp_path: Path) -> None:
    from .conftest import CONFIGS

    debug = [
        "trainer={epochs: 1, max_steps: 1, batch_size: 4, progress: false}",
        "data.options.size=16",
        "data.train_size=8",
        "data.val_size=4",
        "data.test_size=4",
    ]
    # the studies' sweeps in experiments/ are trained by tests/test_studies.py
    experiments = sorted((CONFIGS / "experiment").glob("*.yaml"))
    assert experiments
    for path in experiments:
        raw, config = load(path, debug)
        from symml.training import expand
        from symml.training.config_files import load_sweep

        models = {c.model.name: c for c in expand(raw, load_sweep(raw))}.values()
        for c in models or [config]:
            c = c.model_copy(update={"data": config.data, "trainer": config.trainer})
            result = train(c, tmp_path)
            assert result.status == "finished", path


def test_tensorboard_logger_behind_a_switch(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (symml[tensorboard])")
    config = RunConfig.model_validate({**TINY, "trainer": {**TINY["trainer"], "tensorboard": True}})
    train(config, tmp_path)
    events = list((tmp_path / "tiny" / config.run_id() / "tensorboard").glob("events.out.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
