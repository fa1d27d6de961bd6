"""`symml run | sweep | report | reproduce` through the CLI: outputs, files, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from symml.cli import app

from .conftest import TINY, write_experiment

FOUR = {**TINY, "sweep": {"model.name": ["emlp", "mlp"], "data.train_size": [16, 32]}}


def test_run_prints_config_and_results(tiny_experiment: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(tiny_experiment), "seed=1", "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    assert "seed: 1" in result.output and "Results" in result.output
    assert len(list((tmp_path / "runs" / "tiny").glob("*/result.json"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trainer.epochz=3"], "error: trainer.epochz: unknown key"),
        (["model.name=nope"], "error: model.name: unknown model 'nope'"),
        (["trainer.epochs"], "expected key=value"),
    ],
)
def test_run_errors_are_one_line(tiny_experiment: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["run", str(tiny_experiment), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_missing_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "config file not found" in result.output


def test_sweep_then_report(tmp_path: Path) -> None:
    path = write_experiment(tmp_path / "four.yaml", FOUR)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert "4 runs trained now, 0 kept from before" in result.output
    report = runs / "tiny" / "report"
    for name in ("results.md", "results.csv", "data_efficiency_inertia.png",
                 "data_efficiency_inertia.svg"):  # fmt: skip
        assert (report / name).is_file(), name
    assert (report / "data_efficiency_inertia.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs), "--no-report"])
    assert "0 runs trained now, 4 kept from before" in again.output
    table = CliRunner().invoke(app, ["report", str(runs / "tiny")])
    assert table.exit_code == 0 and "emlp" in table.output and "mlp" in table.output


def test_report_of_nothing_says_how_to_make_runs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "symml sweep" in result.output


def test_reproduce_a_study_and_skip_missing_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = tmp_path / "experiments" / "small"
    study.mkdir(parents=True)
    write_experiment(study / "vectors.yaml", {**FOUR, "experiment": "vectors"})
    mnist = {**TINY, "experiment": "digits", "model": {"name": "z2cnn"},
             "data": {"name": "rotated_mnist", "train_size": 8}}  # fmt: skip
    write_experiment(study / "digits.yaml", mnist)
    (study / "study.yaml").write_text(
        yaml.safe_dump({"title": "A small study", "sweeps": ["vectors.yaml", "digits.yaml"]})
    )
    monkeypatch.setenv("SYMML_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    monkeypatch.setenv("SYMML_DATA_DIR", str(tmp_path / "no_data"))
    # an empty cache too: rotated MNIST made earlier in the session (a study's debug step) is
    # cached and would be found without the MNIST files
    monkeypatch.setenv("SYMML_CACHE_DIR", str(tmp_path / "empty_cache"))
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["reproduce", "small", "--runs-dir", str(runs), "--record"])
    assert result.exit_code == 0, result.output
    assert "skipped digits.yaml" in result.output and "mnist" in result.output
    assert "The report is in" in result.output
    assert (study / "results" / "cpu" / "results.md").is_file()  # rebuilt from the records
    assert len(list((study / "runs" / "cpu").glob("vectors/*/result.json"))) == 4
    listed = CliRunner().invoke(app, ["list"])
    assert "small" in listed.output


def test_unknown_study(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "experiments").mkdir()
    monkeypatch.setenv("SYMML_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    result = CliRunner().invoke(app, ["reproduce", "nope"])
    assert result.exit_code == 2 and "unknown study 'nope'" in result.output


@pytest.mark.parametrize("command", ["run", "sweep", "report", "reproduce", "check", "list"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert command == "list" or "Example" in result.output
