"""Config composition, overrides and schema errors: one line with the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from symml.training import ConfigError, RunConfig, load
from symml.training.config_files import compose, parse_override

from .conftest import CONFIGS, TINY, write_experiment


def test_composes_building_blocks_and_overrides() -> None:
    raw, config = load(
        CONFIGS / "experiment" / "o5_efficiency.yaml", ["trainer.epochs=7", "seed=3"]
    )
    assert config.model.name == "emlp" and config.data.name == "o5_synthetic"
    assert config.trainer.epochs == 7 and config.seed == 3
    assert config.trainer.optimizer.lr == pytest.approx(3e-3)  # from configs/trainer/default.yaml
    assert "sweep" in raw and config.published["emlp"][1000] == pytest.approx(0.017)


def test_run_id_ignores_display_keys_only() -> None:
    base = RunConfig.model_validate(TINY)
    quiet = RunConfig.model_validate({**TINY, "trainer": {**TINY["trainer"], "progress": True}})
    other = RunConfig.model_validate({**TINY, "seed": 1})
    assert base.run_id() == quiet.run_id() != other.run_id()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.epochz=3", r"^trainer\.epochz: unknown key"),
        ("trainer.epochs=ten", r"^trainer\.epochs: Input should be a valid integer.*'ten'"),
        ("trainer.optimizer.name=rmsprop", r"^trainer\.optimizer\.name: Input should be 'adam'"),
        ("model.name=no_such_model", r"^model\.name: unknown model 'no_such_model'"),
        ("data.name=no_such_data", r"^data\.name: unknown dataset 'no_such_data'"),
        ("model.options.widht=3", r"^model\.options\.widht: unknown option of model 'emlp'"),
        ("trainer.epochs=0", r"^trainer\.epochs: Input should be greater than or equal to 1"),
    ],
)
def test_errors_name_the_key_path(tiny_experiment: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tiny_experiment, [override])


def test_missing_required_value(tmp_path: Path) -> None:
    path = write_experiment(tmp_path / "x.yaml", {"model": {"name": "mlp"}})
    with pytest.raises(ConfigError, match=r"^data: Field required"):
        load(path)


def test_unknown_building_block_lists_the_available_ones(tmp_path: Path) -> None:
    path = tmp_path / "configs" / "experiment" / "x.yaml"
    path.parent.mkdir(parents=True)
    (tmp_path / "configs" / "model").mkdir()
    (tmp_path / "configs" / "model" / "emlp.yaml").write_text("name: emlp\n")
    path.write_text("defaults: {model: emlpp}\n")
    with pytest.raises(ConfigError, match=r"defaults\.model: no .*emlpp\.yaml; available: emlp"):
        compose(path)


def test_override_syntax() -> None:
    assert parse_override("data.train_size=100") == ("data.train_size", 100)
    assert parse_override("model.options.rep_in=2*V") == ("model.options.rep_in", "2*V")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("trainer.epochs")
