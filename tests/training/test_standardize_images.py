"""Standardized digit images (Cohen & Welling's scalar mean and std): the statistics, the labels
left alone, and group actions on standardized samples taken in raw units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from symml.data import registry as data_registry
from symml.data._digits import DigitImages
from symml.groups import SO2
from symml.training import train
from symml.training.config import validate
from symml.training.datasets import build_run_data


def _digits(split: str, size: int = 24) -> DigitImages:
    gen = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
    pixels = torch.zeros(size, 28, 28, dtype=torch.uint8)
    pixels[:, 9:19, 9:19] = torch.randint(0, 256, (size, 10, 10), generator=gen, dtype=torch.uint8)
    labels = torch.arange(size) % 3
    return DigitImages(pixels, labels, SO2(), f"toy/{split}")


@pytest.fixture
def toy_digits() -> Any:
    data_registry.register("toy_digits", "blank corners, random centres")(
        lambda split, **_: _digits(split)
    )
    yield "toy_digits"
    data_registry._REGISTRY.pop("toy_digits")


def test_stats_are_one_scalar_mean_and_std_of_all_pixels() -> None:
    ds = _digits("train")
    mean, std, y_mean, y_std = ds.stats()
    images = ds.images().double()
    assert mean.shape == std.shape == ()
    torch.testing.assert_close(mean.double(), images.mean(), rtol=1e-6, atol=0)
    torch.testing.assert_close(std.double(), images.std(unbiased=False), rtol=1e-6, atol=0)
    assert (y_mean, y_std) == (0, 1)


def test_standardized_images_keep_their_labels_and_rotate_in_raw_units(toy_digits: str) -> None:
    config = validate(
        {
            "experiment": "toy",
            "model": {"name": "z2cnn"},
            "data": {"name": toy_digits, "standardize": True},
        }
    )
    data = build_run_data(config.data, seed=0)
    assert data.target_stats is None  # class labels are not standardized
    x, y = data.train[5]
    raw_x, raw_y = _digits("train")[5]
    mean, std, _, _ = _digits("train").stats()
    torch.testing.assert_close(x, (raw_x - mean) / std)
    assert y == raw_y and y.dtype == torch.long
    # an eighth of a turn fills the corners: with the background, as on the raw image
    g = SO2().element([torch.pi / 4])
    moved, label = data.train.act(g, (x, y))
    expected = (_digits("train").act(g, (raw_x, raw_y))[0] - mean) / std
    torch.testing.assert_close(moved, expected)
    assert float(moved[0, 0, 0]) == pytest.approx(float(-mean / std))


def test_a_classifier_trains_on_standardized_images(toy_digits: str, tmp_path: Path) -> None:
    config = validate(
        {
            "experiment": "toy",
            "model": {"name": "z2cnn", "options": {"channels": 4}},
            "data": {"name": toy_digits, "standardize": True, "augment": True},
            "trainer": {"epochs": 1, "batch_size": 8, "progress": False},
        }
    )
    result = train(config, tmp_path)
    assert result.metric == "error" and result.metric_units == "%" and result.steps == 3
