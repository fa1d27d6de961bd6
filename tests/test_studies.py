"""Every study in experiments/: each sweep of each budget runs (one debug step per model), and
the generated blocks of its RESULTS.md match its committed records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from symml.data import DataNotFoundError
from symml.training import train
from symml.training.study import debug_configs, find_studies, load_study
from symml.training.study_results import RESULTS_FILE, stale_blocks

STUDIES = {name: load_study(path) for name, path in sorted(find_studies().items())}


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_each_sweep_of_a_study_runs_one_debug_step(name: str, tmp_path: Path) -> None:
    """Every budget's sweeps are expanded and validated (every run's config, every tuning
    candidate); each (dataset, model) of the study trains one step: the `paper` budget's runs
    differ from the `cpu` budget's only in settings the validation checks (and in layer
    widths), and a `+aug` row from its model's only in the augmentation, which the dataset
    tests cover."""
    study, trained = STUDIES[name], set()
    for budget in study.budgets:
        configs = debug_configs(study, budget)
        assert configs, f"study {name}, budget {budget}: no runs"
        for config in configs:
            # a model at other widths (a `paper` budget's published widths) runs the same code:
            # one step at the `cpu` budget's widths covers it (the full-width steerable models
            # cost tens of seconds each)
            dumped = config.model.model_dump(mode="json")
            dumped["options"] = {k: v for k, v in dumped["options"].items() if k != "widths"}
            model = json.dumps(dumped, sort_keys=True)
            if (config.data.name, config.data.train_split, model) in trained:
                continue
            try:
                result = train(config, tmp_path)
            except DataNotFoundError as err:  # MNIST absent: `reproduce` skips that sweep too
                pytest.skip(f"{config.label}: {err}")
            assert result.steps == 1 and result.label == config.label
            assert (tmp_path / config.experiment / config.run_id() / "result.json").is_file()
            trained.add((config.data.name, config.data.train_split, model))


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_results_file_matches_the_records(name: str) -> None:
    study = STUDIES[name]
    assert stale_blocks(study.folder / RESULTS_FILE) == [], (
        f"{study.folder / RESULTS_FILE} is out of date with its records: run "
        f"`symml reproduce {name} --record` (it only rebuilds from the records)"
    )


def test_every_study_has_a_readme_and_results_file() -> None:
    for name, study in STUDIES.items():
        if name == "quickstart":  # its report is results/cpu/results.md (`make demo`)
            continue
        assert (study.folder / "README.md").is_file(), name
        text = (study.folder / RESULTS_FILE).read_text()
        assert "<!-- symml:table" in text, f"{name}: RESULTS.md has no generated table"


def test_readme_results_table_matches_the_records() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "<!-- symml:headline" in (root / "README.md").read_text()
    assert stale_blocks(root / "README.md", root) == [], (
        "README.md's results table is out of date with the studies' records: run "
        "`symml reproduce STUDY --record`"
    )


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_results_file_links_point_at_files_the_report_wrote(name: str) -> None:
    """A link into ``results/<budget>/`` names a file there once that budget has a report (a
    plot renamed by the report must not leave RESULTS.md pointing at nothing)."""
    folder = STUDIES[name].folder
    if not (folder / RESULTS_FILE).is_file():  # the quick start has its report only
        pytest.skip(f"{name} has no {RESULTS_FILE}")
    text = (folder / RESULTS_FILE).read_text()
    for target in re.findall(r"\]\((results/[^)#]+)\)", text):
        report = folder / Path(target).parent
        if report.is_dir():
            assert (folder / target).is_file(), f"{name}/{RESULTS_FILE} links {target}: missing"
