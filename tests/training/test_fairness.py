"""Fair comparisons: per-model settings in a sweep, budgets as rules of the training size, metrics
in raw target units, tuning on validation only, convergence judged, records that resume a study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from rich.console import Console
from typer.testing import CliRunner

from symml.cli import app
from symml.training import ConfigError, RunConfig, train
from symml.training import datasets as run_datasets
from symml.training import sweep as sweep_module
from symml.training.budget import judge_convergence
from symml.training.config import validate
from symml.training.config_files import load_sweep
from symml.training.fit import build_model
from symml.training.study import reproduce, study_named
from symml.training.sweep import expand

from .conftest import TINY, write_experiment


def _config(**sections: Any) -> RunConfig:
    raw = json.loads(json.dumps(TINY))
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return RunConfig.model_validate(raw)


def test_a_model_entry_carries_its_own_trainer_data_and_tune_settings() -> None:
    raw = {
        **TINY,
        "sweep": {
            "model": [
                {"name": "emlp", "options": {"hidden": 16, "num_layers": 1},
                 "trainer": {"optimizer": {"lr": 5e-4}}},
                {"name": "mlp", "options": {"hidden": 16, "num_layers": 1},
                 "data": {"augment": True}, "tune": {"trainer.optimizer.lr": [1e-3, 3e-3]}},
            ],
            "data.train_size": [16, 32],
        },
    }  # fmt: skip
    configs = expand(raw, load_sweep(raw))
    assert len(configs) == 4
    by_label = {(c.label, c.data.train_size): c for c in configs}
    emlp, mlp = by_label[("emlp", 16)], by_label[("mlp+aug", 32)]
    assert emlp.trainer.optimizer.lr == 5e-4 and not emlp.data.augment and not emlp.tune
    assert mlp.data.augment and mlp.trainer.optimizer.lr == TINY["trainer"]["optimizer"]["lr"]
    assert mlp.tune == {"trainer.optimizer.lr": [1e-3, 3e-3]}
    assert mlp.trainer.epochs == TINY["trainer"]["epochs"]  # the rest comes from the file


def test_sweep_axis_overrides_and_empty_axes() -> None:
    from symml.training.config import set_path

    raw = set_path({**TINY, "sweep": {"seed": [0, 1]}}, "sweep.data.train_size", [16, 32])
    assert raw["sweep"] == {"seed": [0, 1], "data.train_size": [16, 32]}
    with pytest.raises(ConfigError, match=r"sweep.seed: .*empty list would make a sweep of no"):
        load_sweep({**TINY, "sweep": {"seed": []}})


def test_a_steps_budget_gives_every_training_size_the_same_steps(tmp_path: Path) -> None:
    steps = []
    for size in (16, 64):
        config = _config(
            data={"train_size": size, "val_size": 16, "test_size": 16},
            trainer={"batch_size": 8, "budget": {"steps": 12, "evaluations": 4}},
        )
        result = train(config, tmp_path)
        rows = (tmp_path / "tiny" / config.run_id() / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["step"] for r in rows] == [3, 6, 9, 12]
        assert result.budget.rule == "12 optimizer steps at every training size"
        steps.append((result.steps, result.budget.epochs))
    assert steps == [(12, 6), (12, 2)]  # 2 and 8 batches per epoch


def test_an_epochs_rule_of_the_training_size_is_resolved_per_run(tmp_path: Path) -> None:
    config = _config(
        data={"train_size": 16, "val_size": 16, "test_size": 16},
        trainer={"batch_size": 16, "budget": {"samples": 48, "max_epochs": 2}},
    )
    result = train(config, tmp_path)
    assert result.budget.epochs == 2 and result.steps == 2  # min(48 / 16, 2)
    assert result.budget.rule == "epochs = min(48 / N, 2)"


def test_a_published_epochs_table_gives_each_training_size_its_epochs(tmp_path: Path) -> None:
    table = {16: 3, 32: 1}
    for size, steps in [(16, 6), (32, 4)]:
        config = _config(
            data={"train_size": size, "val_size": 16, "test_size": 16},
            trainer={"batch_size": 8, "budget": {"epochs_by_size": table, "evaluations": 2}},
        )
        result = train(config, tmp_path)
        assert (result.budget.epochs, result.steps) == (table[size], steps)
        assert result.budget.rule == "epochs per training size: 16: 3, 32: 1"
    with pytest.raises(ConfigError, match=r"no entry for training size 24 \(it lists 16, 32\)"):
        trainer = {**TINY["trainer"], "budget": {"epochs_by_size": table}}
        validate({**TINY, "trainer": trainer, "data": {**TINY["data"], "train_size": 24}})


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({}, "set exactly one of steps"),
        ({"steps": 10, "samples": 100}, "set exactly one of steps"),
        ({"steps": 10, "epochs_by_size": {100: 3}}, "set exactly one of steps"),
        ({"steps": 10, "max_epochs": 3}, "max_epochs goes with samples"),
    ],
)
def test_budget_rules_are_checked(budget: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate({**TINY, "trainer": {**TINY["trainer"], "budget": budget}})


def test_an_epoch_counting_schedule_is_refused_under_a_steps_budget() -> None:
    trainer = {**TINY["trainer"], "budget": {"steps": 10}, "schedule": {"name": "step"}}
    with pytest.raises(ConfigError, match="counts epochs.*use schedule.name: constant or cosine"):
        validate({**TINY, "trainer": trainer})


def test_metrics_are_in_raw_target_units_when_training_on_standardized_targets(
    tmp_path: Path,
) -> None:
    config = RunConfig.model_validate(
        {
            "experiment": "o5",
            "model": {"name": "emlp", "options": {"hidden": 16, "num_layers": 1}},
            "data": {"name": "o5_synthetic", "train_size": 64, "val_size": 32, "test_size": 48,
                     "standardize": True},
            "trainer": {"epochs": 2, "batch_size": 16, "progress": False},
        }
    )  # fmt: skip
    result = train(config, tmp_path)
    assert result.metric_units == "raw target units"
    data = run_datasets.build_run_data(config.data, config.seed)
    model = build_model(config, data)
    run = tmp_path / "o5" / config.run_id()
    model.load_state_dict(torch.load(run / "checkpoint.pt", weights_only=True))
    model.eval()
    from symml.data import build

    raw_train, raw_test = build("o5_synthetic", "train"), build("o5_synthetic", "test")
    x_mean, x_scale, y_mean, y_std = raw_train.stats()
    picked = [raw_test[i] for i in data.test.indices]  # type: ignore[attr-defined]
    x = torch.stack([(x - x_mean) / x_scale for x, _ in picked]).float()
    y = torch.stack([y for _, y in picked]).float()
    with torch.no_grad():
        predicted = model(x) * y_std.float() + y_mean.float()
    assert result.test == pytest.approx(float(((predicted - y) ** 2).mean()), rel=1e-5)
    assert y.var() > 10  # raw O(5) targets: var(y) is far from the standardized 1


def _tuned(**extra: Any) -> RunConfig:
    return _config(tune={"trainer.optimizer.lr": [1e-4, 3e-3, 0.3]}, **extra)


def test_tuning_selects_on_validation_and_reads_the_test_split_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _tuned()
    clean = train(config, tmp_path / "clean")
    assert clean.tuned and len(clean.candidates) == 3
    vals = [c.val for c in clean.candidates]
    best = min(range(3), key=lambda i: vals[i])
    assert clean.tuned == clean.candidates[best].values
    assert clean.val == vals[best]
    assert [c.values["trainer.optimizer.lr"] for c in clean.candidates] == [1e-4, 3e-3, 0.3]
    run = tmp_path / "clean" / "tiny" / config.run_id()
    selected = run / "candidates" / f"lr={clean.tuned['trainer.optimizer.lr']}"
    assert (run / "metrics.jsonl").read_text() == (selected / "metrics.jsonl").read_text()

    # poison the test split: the selection (and every validation number) must not move
    reads: list[str] = []
    real_split = run_datasets._split

    def poisoned(data_config: Any, split: str) -> Any:
        reads.append(split)
        dataset = real_split(data_config, split)
        if split == data_config.test_split:
            dataset.y = dataset.y * 0 + 1e6
        return dataset

    monkeypatch.setattr(run_datasets, "_split", poisoned)
    dirty = train(config, tmp_path / "dirty")
    assert dirty.tuned == clean.tuned and dirty.candidates == clean.candidates
    assert dirty.test > 1e10 > clean.test  # the poison reached the test metric only
    assert reads.count("test") == 1


def test_an_interrupted_tuned_run_resumes_its_finished_candidates(tmp_path: Path) -> None:
    config = _tuned()
    first = train(config, tmp_path)
    run = tmp_path / "tiny" / config.run_id()
    (run / "result.json").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in run.glob("candidates/*/fit.json")}
    assert len(stamps) == 3
    again = train(config, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained
    assert again.tuned == first.tuned and again.test == pytest.approx(first.test)


def test_a_deliberately_short_run_is_flagged_not_converged(tmp_path: Path) -> None:
    config = _config(
        data={"train_size": 64, "val_size": 32, "test_size": 16},
        trainer={"batch_size": 16, "optimizer": {"lr": 1e-2},
                 "budget": {"steps": 10, "evaluations": 10}},
    )  # fmt: skip
    result = train(config, tmp_path)
    assert result.converged is False
    assert result.convergence.startswith("not converged: best at step 10 of 10")


def test_convergence_verdicts() -> None:
    flat = [(s, 1.0 + 0.001 * (s % 2)) for s in range(10, 110, 10)]
    assert judge_convergence(flat, 100, False, 0.05) == (True, "")
    falling = [(s, 100.0 / s) for s in range(10, 110, 10)]
    assert judge_convergence(falling, 100, False, 0.05)[0] is False
    assert judge_convergence(falling, 100, True, 0.05) == (True, "")  # patience ran out
    assert judge_convergence(falling[:3], 100, False, 0.05)[0] is None


def test_transformed_tests_use_their_own_fixed_subset(tmp_path: Path) -> None:
    config = _config(
        data={"test_size": 16, "transformed_size": 8, "transformed_tests": [{"name": "rotated"}]}
    )
    result = train(config, tmp_path)
    assert result.transformed_size == 8
    assert result.eval_seconds > 0 and result.train_seconds > 0
    data = run_datasets.build_run_data(config.data, config.seed)
    assert len(data.transformed["rotated"]) == 8  # type: ignore[arg-type]
    # the subset is a prefix of the test split's seeded order: the same in every run
    probe = data.transformed["rotated"].dataset  # type: ignore[attr-defined]
    assert probe.indices == data.test.indices[:8]  # type: ignore[attr-defined]


def _study(tmp_path: Path) -> Path:
    study = tmp_path / "experiments" / "small"
    study.mkdir(parents=True)
    sweep = {**TINY, "experiment": "vectors", "sweep": {"data.train_size": [16, 32]}}
    write_experiment(study / "vectors.yaml", sweep)
    budgets = {
        "cpu": {"wall_time": "seconds"},
        "paper": {"overrides": {"trainer.epochs": 3, "sweep.seed": [0, 1]}},
    }
    spec = {"title": "A small study", "sweeps": ["vectors.yaml"], "budgets": budgets}
    (study / "study.yaml").write_text(yaml.safe_dump(spec))
    return study


def test_records_let_a_fresh_clone_reproduce_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path)
    monkeypatch.setenv("SYMML_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    runs = tmp_path / "runs"
    first = CliRunner().invoke(app, ["reproduce", "small", "--runs-dir", str(runs), "--record"])
    assert first.exit_code == 0, first.output
    assert "2 runs trained now" in first.output
    records = sorted((study / "runs" / "cpu").glob("vectors/*/result.json"))
    assert len(records) == 2
    for record in records:
        kept = {p.name for p in record.parent.iterdir()}
        assert kept == {"config.yaml", "manifest.json", "metrics.jsonl", "result.json"}
    report = study / "results" / "cpu" / "results.md"
    text = report.read_text()

    fresh = tmp_path / "fresh_runs"  # another machine: only the committed records
    again = CliRunner().invoke(app, ["reproduce", "small", "--runs-dir", str(fresh), "--record"])
    assert again.exit_code == 0, again.output
    assert "reusing 2 recorded runs" in again.output and "0 runs trained now" in again.output
    assert report.read_text() == text  # the report is rebuilt from the records alone


def test_a_sitting_cut_short_keeps_the_records_of_the_runs_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path)
    monkeypatch.setenv("SYMML_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    real_run_one, calls = sweep_module.run_one, []

    def interrupted_after_one(*args: Any) -> dict[str, Any]:
        calls.append(args)
        if len(calls) == 2:  # the session ends while the second run trains
            raise KeyboardInterrupt
        return real_run_one(*args)

    monkeypatch.setattr(sweep_module, "run_one", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        reproduce(study_named("small"), "cpu", tmp_path / "runs", Console(quiet=True), record=True)
    assert len(list((study / "runs" / "cpu").glob("vectors/*/result.json"))) == 1


def test_a_named_budget_applies_its_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _study(tmp_path)
    monkeypatch.setenv("SYMML_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    runs = tmp_path / "runs"
    result = CliRunner().invoke(
        app, ["reproduce", "small", "--runs-dir", str(runs), "--budget", "paper"]
    )
    assert result.exit_code == 0, result.output
    results = [
        json.loads(p.read_text()) for p in (runs / "small" / "paper").glob("*/*/result.json")
    ]
    assert sorted((r["train_size"], r["seed"]) for r in results) == [
        (16, 0), (16, 1), (32, 0), (32, 1)
    ]  # fmt: skip
    assert {r["epochs"] for r in results} == {3}
    unknown = CliRunner().invoke(app, ["reproduce", "small", "--budget", "gpu"])
    assert unknown.exit_code == 2 and "no budget 'gpu'; its budgets: cpu, paper" in unknown.output


def test_a_delayed_exponential_decay_and_decay_on_weights_only() -> None:
    from symml.training.fit import _optimizer, _schedule

    trainer = RunConfig.model_validate(
        {
            **TINY,
            "trainer": {
                **TINY["trainer"],
                "optimizer": {"lr": 1.0, "weight_decay": 1e-7, "decay": "weights"},
                "schedule": {"name": "exponential", "gamma": 0.8, "start": 10},
            },
        }
    ).trainer
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2, bias=False)
    )
    optimizer = _optimizer(model, trainer)
    decayed, kept = optimizer.param_groups
    assert [p.shape for p in decayed["params"]] == [(4, 3), (2, 4)] and decayed[
        "weight_decay"
    ] == 1e-7
    assert len(kept["params"]) == 3 and kept["weight_decay"] == 0.0  # a bias, BN's γ and β
    schedule, rates = _schedule(optimizer, trainer, 20), []
    for _ in range(13):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    # epochs 1-10 at the base rate, then x0.8 per epoch (Weiler & Cesa's lr_decay_start=10)
    assert rates[:10] == [1.0] * 10 and rates[10:] == pytest.approx([0.8, 0.64, 0.512])
