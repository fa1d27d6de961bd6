"""A study's RESULTS.md: generated blocks filled from the records, prose kept, staleness found;
subset test sets and the forward time recorded by a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from symml.data.nbody import NBodyCharged
from symml.training import train
from symml.training.config import ConfigError, validate
from symml.training.study_results import render, stale_blocks, update_file

BASE = dict(experiment="demo", status="finished", model_group="E(3)", dataset="nbody_charged")
BASE |= dict(train_size=3000, metric="mse", metric_units="raw target units", epochs=3)
BASE |= dict(wall_time_s=1.0, throughput=100.0, parameters=10)


def _record(study: Path, label: str, seed: int, test: float, **extra: object) -> None:
    folder = study / "runs" / "cpu" / "demo" / f"{label}-{seed}"
    folder.mkdir(parents=True)
    result = dict(BASE, run_id=f"{label}-{seed}", model=label, label=label, seed=seed)
    result |= dict(test=test, val=test, **extra)
    (folder / "result.json").write_text(json.dumps(result))


@pytest.fixture
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "demo_study"
    for seed, test in [(0, 0.007), (1, 0.008)]:
        _record(
            folder, "egnn", seed, test, published=0.0071, forward_seconds=0.004, forward_batch=100
        )
    for seed, test in [(0, 0.010), (1, 0.012)]:
        _record(
            folder, "gnn", seed, test, published=0.0107, forward_seconds=0.002, forward_batch=100
        )
    return folder


TEMPLATE = """# Demo

Prose written by hand stays.

<!-- symml:table budget=cpu experiment=demo -->
<!-- symml:end -->

<!-- symml:gaps budget=cpu -->
old text
<!-- symml:end -->

<!-- symml:forward_time budget=cpu reference=gnn -->
<!-- symml:end -->

<!-- symml:table budget=paper -->
<!-- symml:end -->
"""


def test_blocks_are_filled_from_the_records_and_prose_is_kept(study: Path) -> None:
    text = render(TEMPLATE, study)
    assert text.startswith("# Demo\n\nProse written by hand stays.\n")
    assert "old text" not in text
    # the table: mean ± std over the seeds, the published number and the gap in %
    assert "| egnn | E(3) | 10 | 3,000 | 0.0075 ± 0.00071 (n=2) | 0.0071 | +6 % |" in text
    # the gaps in words: by how much, and whether within one standard deviation
    assert "**egnn** at N = 3,000: 0.0075 ± 0.00071 (n = 2 seeds) against 0.0071 published" in text
    assert "5.6 % above it: missed by 0.0004 (within one standard deviation over seeds)." in text
    assert "**gnn** at N = 3,000: 0.011 ± 0.0014 (n = 2 seeds) against 0.0107 published" in text
    # forward time per batch and its ratio to the reference row
    assert "| egnn | 10 | 4 ± 0 | 2.00 |" in text and "| gnn | 10 | 2 ± 0 | 1.00 |" in text
    assert "_No recorded runs yet in `runs/paper`" in text
    assert render(text, study) == text  # idempotent


def test_stale_blocks_are_named_and_update_rewrites_them(study: Path) -> None:
    path = study / "RESULTS.md"
    path.write_text(TEMPLATE)
    stale = stale_blocks(path)
    assert len(stale) == 4 and "RESULTS.md:5: <!-- symml:table budget=cpu" in stale[0]
    assert update_file(path) and not update_file(path)  # changed once, then current
    assert stale_blocks(path) == []
    _record(study, "egnn", 2, 0.5, published=0.0071)  # a new seed: table and gaps are stale
    assert [line.split(": ", 1)[1] for line in stale_blocks(path)] == [
        "<!-- symml:table budget=cpu experiment=demo -->",
        "<!-- symml:gaps budget=cpu -->",
    ]  # (the forward-time block averages the seeds that timed it: unchanged)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("<!-- symml:plot budget=cpu -->", "unknown block symml:plot"),
        ("<!-- symml:table experiment=demo -->", "needs budget=NAME"),
        ("<!-- symml:forward_time budget=cpu reference=tfn -->", "no recorded row is labelled"),
        (
            "<!-- symml:size_to_match budget=cpu reference=egnn -->",
            "needs reference=LABEL and at=N",
        ),
    ],
)
def test_a_bad_block_is_named_with_its_line(study: Path, block: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        render(f"# x\n\n{block}\n<!-- symml:end -->\n", study, "RESULTS.md")
    assert str(err.value).startswith("RESULTS.md:3: ")


def _nbody_run(tests: list[dict], tmp_path: Path):  # noqa: ANN202 - RunResult
    config = validate(
        dict(
            experiment="subsets",
            model={"name": "linear_dynamics"},
            data=dict(
                name="nbody_charged", options={"size": 64}, train_size=16, val_size=16,
                test_size=64, transformed_tests=tests,
            ),
            trainer=dict(epochs=1, batch_size=8, progress=False),
        )
    )  # fmt: skip
    return train(config, tmp_path)


def test_subset_test_sets_score_the_named_part_of_the_test_split(tmp_path: Path) -> None:
    tests = [
        {"name": "unclipped", "kind": "subset", "subset": "unclipped"},
        {"name": "clipped", "kind": "subset", "subset": "clipped"},
    ]
    result = _nbody_run(tests, tmp_path)
    clipped = NBodyCharged("test", size=64).clipped
    assert 0 < int(clipped.sum()) < 64  # both parts are present in these 64 trajectories
    share = clipped.double().mean().item()
    # the whole split's MSE is the sample-weighted mean of the two parts' MSEs
    whole = share * result.transformed["clipped"] + (1 - share) * result.transformed["unclipped"]
    assert whole == pytest.approx(result.test, rel=1e-5)
    # the forward time of one training-size batch is recorded
    assert result.forward_batch == 8 and result.forward_seconds is not None
    assert result.forward_seconds > 0


def test_a_subset_the_dataset_lacks_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no subset 'close'.*its subsets: clipped, unclipped"):
        _nbody_run([{"name": "x", "kind": "subset", "subset": "close"}], tmp_path)
    with pytest.raises(ConfigError, match="goes with kind: subset"):
        _nbody_run([{"name": "x", "kind": "random", "subset": "clipped"}], tmp_path)
    assert torch.is_tensor(NBodyCharged("test", size=4).subsets()["unclipped"])


def test_the_size_at_which_a_line_matches_the_reference_is_interpolated_on_log_axes(
    tmp_path: Path,
) -> None:
    study = tmp_path / "sizes"
    curves = {"egnn": {100: 0.02, 400: 0.01}, "gnn": {100: 0.08, 400: 0.04, 1600: 0.005}}
    curves["gnn+aug"] = {100: 0.05, 400: 0.03, 1600: 0.02}
    for label, curve in curves.items():
        for size, test in curve.items():
            _record(study, f"{label}-{size}", 0, test)
            result = study / "runs" / "cpu" / "demo" / f"{label}-{size}-0" / "result.json"
            raw = json.loads(result.read_text()) | {"label": label, "train_size": size}
            result.write_text(json.dumps(raw))
    text = render(
        "<!-- symml:size_to_match budget=cpu reference=egnn at=400 -->\n<!-- symml:end -->", study
    )
    # gnn: 0.04 at 400 and 0.005 at 1,600; 0.01 lies 2/3 of the way on the log axis: N = 400·4^(2/3)
    assert "**gnn**: reaches it at N ≈ 1,008, 2.5× egnn's N = 400" in text
    assert (
        "**gnn+aug**: does not reach it at any size trained (up to N = 1,600; its best is 0.02"
        in text
    )


def test_a_published_zero_gets_an_absolute_gap(tmp_path: Path) -> None:
    study = tmp_path / "zero"
    for seed, test in [(0, 0.0), (1, 1.0)]:
        _record(study, "tfn", seed, test, published=0.0, metric="error", metric_units="%")
    text = render("<!-- symml:gaps budget=cpu -->\n<!-- symml:end -->", study)
    assert "**tfn** at N = 3,000: 0.5 ± 0.71 (n = 2 seeds) against 0 published, above it: " in text
    assert "missed by 0.5 (within one standard deviation over seeds)." in text
    assert "| tfn | E(3) | 10 | 3,000 | 0.5 ± 0.71 (n=2) | 0 | — |" in render(
        "<!-- symml:table budget=cpu -->\n<!-- symml:end -->", study
    )


def test_the_readme_headline_links_each_study_and_keeps_one_size_per_line(tmp_path: Path) -> None:
    study = tmp_path / "experiments" / "demo_study"
    _record(study, "egnn", 0, 0.007, published=0.0071)
    _record(study, "gnn", 0, 0.02)  # no published number: shown beside, at the same size
    text = render(
        "<!-- symml:headline study=demo_study budget=cpu -->\n<!-- symml:end -->", tmp_path
    )
    assert "[demo_study](experiments/demo_study/RESULTS.md), nbody_charged, budget `cpu`" in text
    assert "| egnn | 3,000 | 0.007 ± 0 (n=1) | 0.0071 | -1 % |" in text
    assert "| gnn | 3,000 | 0.02 ± 0 (n=1) | — | — |" in text


def test_the_equivariance_table_has_one_column_per_training_size(study: Path) -> None:
    _record(study, "gnn", 5, 0.01, equivariance_error=0.3)
    text = render("<!-- symml:equivariance budget=cpu -->\n<!-- symml:end -->", study)
    assert "| model | N = 3,000 |" in text
    assert "| egnn | — |" in text and "| gnn | 0.3 |" in text


def test_the_group_order_table_puts_each_cyclic_and_dihedral_model_at_its_order(
    tmp_path: Path,
) -> None:
    study = tmp_path / "orders"
    groups = {"C4": "Cyclic(4)", "C8": "Cyclic(8)", "D4": "Dihedral(4)", "SO(2)": "SO2()"}
    groups["cnn"] = "none"
    errors = {"C4": 1.5, "C8": 1.2, "D4": 1.3, "SO(2)": 1.4, "cnn": 2.0}
    for label, group in groups.items():
        _record(study, label, 0, errors[label], model_group=group, metric="error")
    text = render("<!-- symml:group_order budget=cpu -->\n<!-- symml:end -->", study)
    assert "| N | C_N (regular fields) | D_N (regular fields) |" in text
    assert "| 4 | 1.5 ± 0 (n=1) | 1.3 ± 0 (n=1) |" in text
    assert "| 8 | 1.2 ± 0 (n=1) | — |" in text
    # the rows on other groups, best first, as reference lines
    assert text.index("- **SO(2)** (SO2()): 1.4") < text.index("- **cnn** (none): 2 ± 0")
    plain = tmp_path / "plain"
    _record(plain, "cnn", 0, 2.0, model_group="none", metric="error")
    assert "No recorded row is built on a cyclic or dihedral group." in render(
        "<!-- symml:group_order budget=cpu -->\n<!-- symml:end -->", plain
    )


def test_the_train_time_table_gives_seconds_per_step_and_per_epoch(tmp_path: Path) -> None:
    study = tmp_path / "times"
    budget = dict(rule="8 epochs", epochs=8, steps=1256, steps_per_epoch=157, eval_every=157)
    for seed, seconds in [(0, 120.0), (1, 131.2)]:
        _record(study, "C8", seed, 1.0, budget=budget, train_seconds=seconds, steps=1256)
    text = render("<!-- symml:train_time budget=cpu -->\n<!-- symml:end -->", study)
    # (120 + 131.2) / 2 / 1,256 = 0.1 s per step; x 157 steps = 15.7 s per epoch
    assert "| C8 | 10 | 3,000 | 1,256 | 0.1 | 15.7 |" in text
    _record(tmp_path / "untimed", "C8", 0, 1.0)
    assert "No recorded run has its training time and budget." in render(
        "<!-- symml:train_time budget=cpu -->\n<!-- symml:end -->", tmp_path / "untimed"
    )


def test_experiments_sharing_a_dataset_get_their_own_table(tmp_path: Path) -> None:
    """Two protocols on one dataset (Tetris on 8 shapes and its chiral holdout on 7) are two
    tables, never one line through both; a dataset with one experiment keeps its plain name."""
    from symml.training.results import aggregate, by_dataset, collect

    study = tmp_path / "shared"
    _record(study, "egnn", 0, 0.1)
    holdout = study / "runs" / "cpu" / "demo" / "egnn-0" / "result.json"
    moved = study / "runs" / "cpu" / "holdout" / "egnn-0" / "result.json"
    moved.parent.mkdir(parents=True)
    moved.write_text(json.dumps(json.loads(holdout.read_text()) | {"experiment": "holdout"}))
    groups = by_dataset(aggregate(collect(study / "runs" / "cpu")))
    assert sorted(groups) == ["nbody_charged, demo", "nbody_charged, holdout"]
    assert [len(rows) for rows in groups.values()] == [1, 1]
    holdout.parent.parent.joinpath("egnn-0").rename(study / "alone")
    assert sorted(by_dataset(aggregate(collect(study / "runs" / "cpu")))) == ["nbody_charged"]


def test_size_to_match_waits_for_its_reference_row(study: Path) -> None:
    text = render(
        "<!-- symml:size_to_match budget=cpu reference=egnn at=7 -->\n<!-- symml:end -->", study
    )
    assert "_No recorded `egnn` run at N = 7 yet (recorded sizes: 3,000): the sizes" in text
