"""The datasets of a run: nested training subset, validation and test splits, transformed test
sets, and data loaders for tensors or torch-geometric graphs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from symml import data as symml_data
from symml.data import (
    RandomGroupAction,
    SymmetricDataset,
    grid_test_sets,
    nested_order,
    random_test_set,
)
from symml.groups import group_from_name
from symml.training.config import DataConfig


@dataclass
class RunData:
    """The splits of one run. ``train`` may be augmented; ``train_base`` never is."""

    train: Dataset[Any]
    train_base: SymmetricDataset
    train_size: int
    val: Dataset[Any]
    test: Dataset[Any]
    test_base: SymmetricDataset
    transformed: dict[str, Dataset[Any]]
    angle_curves: dict[str, list[tuple[float, Dataset[Any]]]]
    is_graph: bool
    # (mean, std) of the training targets when the model trains on standardized targets: its
    # predictions are mapped back (prediction * std + mean) before any metric, which stays in
    # the raw units of y; None when targets are used as they are
    target_stats: tuple[torch.Tensor, torch.Tensor] | None = None
    transformed_size: int | None = None


class _View(Dataset[Any]):
    """Samples ``indices`` of a `SymmetricDataset` (all when None), optionally standardised with
    ``stats = (x_mean, x_scale, y_mean, y_std)`` (inputs always, targets when
    ``standardize_target``); the group still acts on it like on the base (the stats of symml's
    tasks are scalars per field, so standardising commutes with the action)."""

    def __init__(
        self,
        base: SymmetricDataset,
        indices: list[int] | None = None,
        stats: tuple[torch.Tensor, ...] | None = None,
        standardize_target: bool = True,
    ) -> None:
        self._base = base
        self.indices = indices if indices is not None else list(range(len(base)))
        self.stats = stats
        self.standardize_target = standardize_target
        self.group = base.group

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        sample = self._base[self.indices[index]]
        if self.stats is None:
            return sample
        x, y = sample
        x_mean, x_scale, y_mean, y_std = self.stats
        if self.standardize_target:
            y = (y - y_mean) / y_std
        return (x - x_mean) / x_scale, y

    def reps(self, group: Any = None) -> Any:
        return self._base.reps(group)

    def act(self, g: Any, sample: Any, *, interpolation: bool = True) -> Any:
        """``g`` acting on a sample of this view. A standardized sample is moved in raw units
        (standardizing with scalars commutes with the action, except where an image rotation
        fills corners it has no pixels for: raw 0 is the background, standardized 0 is not)."""
        if self.stats is None:
            return self._base.act(g, sample, interpolation=interpolation)
        return self._in_raw_units(
            sample, lambda raw: self._base.act(g, raw, interpolation=interpolation)
        )

    def act_batch(self, g: Any, batch: tuple[torch.Tensor, torch.Tensor]) -> Any:
        """`SymmetricDataset.act_batch` on stacked samples of this view (None where the base
        acts sample by sample only)."""
        act_batch = getattr(self._base, "act_batch", None)
        if act_batch is None:
            return None
        if self.stats is None:
            return act_batch(g, batch)
        return self._in_raw_units(batch, lambda raw: act_batch(g, raw))

    def _in_raw_units(self, sample: Any, move: Any) -> Any:
        """``move`` applied to ``sample`` (one sample or a stack) in raw units, the result
        standardized again; None if ``move`` gives None."""
        assert self.stats is not None
        x_mean, x_scale, y_mean, y_std = self.stats
        x, y = sample
        raw_y = y * y_std + y_mean if self.standardize_target else y
        moved = move((x * x_scale + x_mean, raw_y))
        if moved is None:
            return None
        moved_x, moved_y = moved
        if self.standardize_target:
            moved_y = (moved_y - y_mean) / y_std
        return (moved_x - x_mean) / x_scale, moved_y

    @property
    def input_rep(self) -> Any:
        return self._base.input_rep

    @property
    def target_rep(self) -> Any:
        return self._base.target_rep

    @property
    def labels(self) -> torch.Tensor | None:
        labels = self._base.labels
        return None if labels is None else labels[self.indices]


def _split(config: DataConfig, split: str) -> SymmetricDataset:
    try:
        return symml_data.build(config.name, split, **config.options)
    except ValueError as err:
        raise ValueError(f"data ({config.name}, split {split!r}): {err}") from err


def _subset(dataset: SymmetricDataset, size: int | None, seed: int, what: str) -> Any:
    if size is None:
        return dataset
    if size > len(dataset):
        raise ValueError(
            f"data.{what}: {size} samples requested but the split has only {len(dataset)}"
        )
    order = nested_order(len(dataset), dataset.labels, seed)  # nested: 1k inside 2k
    return _View(dataset, order[:size].tolist())


def _standardized(dataset: Any, stats: tuple[torch.Tensor, ...], target: bool) -> _View:
    if isinstance(dataset, _View):
        return _View(dataset._base, dataset.indices, stats, target)
    return _View(dataset, None, stats, target)


def _probe(test: Any, size: int | None) -> Any:
    """The fixed, seeded ``size``-sample subset of the test split that transformed test sets
    use: a prefix of the test split's nested order, so it lies inside any ``test_size`` subset."""
    if size is None or size >= len(test):
        return test
    if isinstance(test, _View):
        if len(test.indices) == len(test._base):  # the whole split, standardised: order it
            order = nested_order(len(test._base), test._base.labels, 0)[:size].tolist()
            return _View(test._base, order, test.stats, test.standardize_target)
        return _View(test._base, test.indices[:size], test.stats, test.standardize_target)
    return _View(test, nested_order(len(test), test.labels, 0)[:size].tolist())


def _named_subset(test: Any, name: str, dataset: str) -> _View:
    """The samples of ``test`` (the whole test split or a `_View` of it) in the dataset's
    subset ``name`` (`SymmetricDataset.subsets`), in the order of ``test``."""
    base, indices = (test._base, test.indices) if isinstance(test, _View) else (test, None)
    masks = base.subsets()
    if name not in masks:
        known = ", ".join(sorted(masks)) or "none"
        raise ValueError(
            f"data.transformed_tests: dataset {dataset!r} has no subset {name!r} (its subsets: "
            f"{known}); name one of them or remove that test"
        )
    inside = masks[name].tolist()
    order = indices if indices is not None else range(len(base))
    stats = test.stats if isinstance(test, _View) else None
    standardize_target = test.standardize_target if isinstance(test, _View) else True
    return _View(base, [i for i in order if inside[i]], stats, standardize_target)


def build_run_data(config: DataConfig, seed: int) -> RunData:
    """Build every split of a run from its data config (``seed`` picks the training subset)."""
    train_full = _split(config, config.train_split)
    train = _subset(train_full, config.train_size, seed, "train_size")
    val = _subset(_split(config, config.val_split), config.val_size, 0, "val_size")
    test = _subset(_split(config, config.test_split), config.test_size, 0, "test_size")
    target_stats = None
    if config.standardize:
        if not hasattr(train_full, "stats"):
            raise ValueError(
                f"data.standardize: dataset {config.name!r} has no stats(); set it to false"
            )
        inputs, targets = train_full[0]
        stats = tuple(t.to(inputs.dtype) for t in train_full.stats())
        # a regression model learns standardized targets, and its metrics are computed on raw
        # targets; class labels stay as they are (only the inputs are standardized)
        regression = targets.is_floating_point()
        train = _standardized(train, stats, target=regression)
        val, test = (_standardized(d, stats, target=False) for d in (val, test))
        target_stats = (stats[2], stats[3]) if regression else None
    transformed: dict[str, Dataset[Any]] = {}
    curves: dict[str, list[tuple[float, Dataset[Any]]]] = {}
    probe = _probe(test, config.transformed_size)
    for spec in config.transformed_tests:
        group = group_from_name(spec.group) if spec.group else test.group
        if spec.kind == "subset":
            transformed[spec.name] = _named_subset(test, spec.subset or "", config.name)
        elif spec.kind == "random":
            transformed[spec.name] = random_test_set(probe, group, seed=1)
        elif not group.is_finite:  # a continuous group: a curve over the angle grid
            for name, ds in grid_test_sets(probe, group, steps=spec.steps).items():
                flipped = name.startswith("flip_")
                degrees = float(name.removeprefix("flip_").removeprefix("rot"))
                key = spec.name + ("_flipped" if flipped else "")
                curves.setdefault(key, []).append((math.radians(degrees), ds))
        else:
            for name, ds in grid_test_sets(probe, group, steps=spec.steps).items():
                transformed[f"{spec.name}_{name}"] = ds
    _check_transformed(transformed, curves)
    train_ds: Dataset[Any] = train
    if config.augment:
        augment_group = group_from_name(config.augment_group) if config.augment_group else None
        train_ds = RandomGroupAction(train, augment_group, seed=seed)
    sample = test[0]
    return RunData(
        train=train_ds,
        train_base=train,
        train_size=len(train),
        val=val,
        test=test,
        test_base=test,
        transformed=transformed,
        angle_curves=curves,
        is_graph=not isinstance(sample, tuple),
        target_stats=target_stats,
        transformed_size=len(probe) if config.transformed_tests else None,
    )


def _check_transformed(
    transformed: dict[str, Dataset[Any]], curves: dict[str, list[tuple[float, Dataset[Any]]]]
) -> None:
    """Transform one sample of every transformed test set now: a group that cannot act on the
    data must fail before the first training step, not after training finished."""
    first = [(name, ds) for name, ds in transformed.items()]
    first += [(name, points[0][1]) for name, points in curves.items() if points]
    for name, ds in first:
        if len(ds) == 0:  # type: ignore[arg-type]
            continue
        try:
            ds[0]
        except (ValueError, TypeError, NotImplementedError) as err:
            raise ValueError(
                f"data.transformed_tests ({name}): {str(err).splitlines()[0]}; choose a group that "
                "acts on this dataset (see its reps) or remove that test"
            ) from err


def loader(
    dataset: Dataset[Any],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    is_graph: bool,
    num_workers: int = 0,
    distributed: bool = False,
) -> DataLoader[Any]:
    """A seeded loader; torch-geometric's for graphs (it batches `Data` into a `Batch`)."""
    generator = torch.Generator().manual_seed(seed)
    sampler: DistributedSampler[Any] | None = None
    if distributed:
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=False)
        shuffle = False
    if is_graph:
        from torch_geometric.loader import DataLoader as GraphLoader

        return GraphLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=num_workers,
            sampler=sampler,
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        sampler=sampler,
    )
