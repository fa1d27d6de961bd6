"""Symmetry transforms of datasets: augmentation and transformed test sets.

- `RandomGroupAction`: each access applies a fresh random element to input and target (the
  augmentation baseline); deterministic from its seed, the index and `set_epoch`.
- `TransformedDataset`: a fixed element, or one element per sample (generalization tests).
- `random_test_set`, `grid_test_sets`: the two standard transformed test sets.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import Dataset

from symml.data.dataset import SymmetricDataset
from symml.groups import O2, Elements, Group, inclusion


class RandomGroupAction(Dataset[Any]):
    """Augmentation: sample ``i`` is acted on by a random element of ``group`` (default: the
    dataset's), drawn from a generator seeded by ``(seed, epoch, i)`` so runs are reproducible
    and data-loader workers agree. A `DataLoader` batch of vectors is drawn and moved at once
    (`__getitems__`), its elements seeded by ``(seed, epoch, the batch's indices)``."""

    def __init__(
        self, dataset: SymmetricDataset, group: Group | None = None, seed: int = 0
    ) -> None:
        self.dataset = dataset
        self.group = group if group is not None else dataset.group
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new elements for a new epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self._moved(index, self.dataset[index])

    def _moved(self, index: int, sample: Any) -> Any:
        gen = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFF_FFFF)
        # float64 elements: the action casts to each sample's dtype, float64 data stays exact
        g = self.group.sample(1, generator=gen, dtype=torch.float64)
        return self.dataset.act(g, sample)

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """A whole batch (torch's `DataLoader` fetches through this): for tensor samples that the
        dataset can move at once (`SymmetricDataset.act_batch`), one draw of ``len(indices)``
        elements from a generator seeded by ``(seed, epoch, indices)`` and one batched action;
        otherwise sample by sample, as `__getitem__`."""
        samples = [self.dataset[i] for i in indices]
        act_batch = getattr(self.dataset, "act_batch", None)
        if act_batch is None or not samples or not isinstance(samples[0], tuple):
            return [self._moved(i, sample) for i, sample in zip(indices, samples, strict=True)]
        key = hash((self.seed, self.epoch, tuple(indices))) & 0x7FFF_FFFF
        g = self.group.sample(
            len(indices), generator=torch.Generator().manual_seed(key), dtype=torch.float64
        )
        moved = act_batch(g, tuple(torch.stack(parts) for parts in zip(*samples, strict=True)))
        if moved is None:
            return [self._moved(i, sample) for i, sample in zip(indices, samples, strict=True)]
        return list(zip(*(t.unbind(0) for t in moved), strict=True))


class TransformedDataset(Dataset[Any]):
    """The dataset acted on by ``elements``: one element for every sample, or one per sample."""

    def __init__(self, dataset: SymmetricDataset, elements: Elements) -> None:
        if len(elements) not in (1, len(dataset)):
            raise ValueError(
                f"TransformedDataset: expected 1 element or one per sample ({len(dataset)}), "
                f"got {len(elements)}"
            )
        self.dataset = dataset
        self.elements = elements

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        g = self.elements[0 if len(self.elements) == 1 else index]
        return self.dataset.act(g, self.dataset[index])


def random_test_set(
    dataset: SymmetricDataset, group: Group | None = None, seed: int = 0
) -> TransformedDataset:
    """Each test sample acted on by its own random element of ``group`` (default: the task's)."""
    group = group if group is not None else dataset.group
    generator = torch.Generator().manual_seed(seed)
    elements = group.sample(len(dataset), generator=generator, dtype=torch.float64)
    return TransformedDataset(dataset, elements)


def grid_test_sets(
    dataset: SymmetricDataset, group: Group, steps: int = 24
) -> dict[str, TransformedDataset]:
    """One test set per fixed element of a grid: rotations by ``360°/steps`` multiples for SO(2)
    (``"rot015"`` = 15°), and with the reflection too for O(2) (``"flip_rot015"``); all elements of
    C_N / D_N. Names are stable keys for result tables."""
    grid = group.rotation_grid(steps, dtype=torch.float64)
    if grid is None:
        raise ValueError(
            f"grid_test_sets: grids are defined for SO2, O2, Cyclic and Dihedral (got {group!r}); "
            "use random_test_set or TransformedDataset with your own elements"
        )
    # test elements in torch's default dtype; names from the float64 angles, rounded once
    default = torch.get_default_dtype()
    elements = Elements(
        group, grid.data.to(default) if grid.data.is_floating_point() else grid.data
    )
    if group.is_finite:
        names = [group.describe(g.data).strip("[]").replace(" ", "_") for g in grid]
    else:  # a continuous group: each element is named by its reflection and angle in O(2)
        flips, angles = inclusion(group, O2())(grid).data.unbind(1)
        names = [
            ("flip_" if flip else "") + f"rot{round(math.degrees(theta)):03d}"
            for flip, theta in zip(flips.tolist(), angles.tolist(), strict=True)
        ]
    return {name: TransformedDataset(dataset, g) for name, g in zip(names, elements, strict=True)}
