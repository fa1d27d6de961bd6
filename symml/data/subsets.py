"""Nested training subsets for data-efficiency curves."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def nested_order(n: int, labels: Tensor | None = None, seed: int = 0) -> Tensor:
    """A permutation of ``range(n)`` whose every prefix is a training subset.

    With ``labels``, classes take turns (round-robin over a seeded shuffle within each class), so
    every prefix is as class-balanced as the class sizes allow. Prefixes of one order are nested:
    the first 1,000 indices are inside the first 2,000.
    """
    gen = torch.Generator().manual_seed(seed)
    if labels is None:
        return torch.randperm(n, generator=gen)
    if labels.shape != (n,):
        raise ValueError(f"nested_order: expected labels of shape [{n}] (got {list(labels.shape)})")
    classes = torch.unique(labels)
    shuffled = [
        (labels == c).nonzero()[:, 0][torch.randperm(int((labels == c).sum()), generator=gen)]
        for c in classes
    ]
    # rank of each index within its class; sorting by (rank, random class order) interleaves them
    rank = torch.empty(n, dtype=torch.long)
    for members in shuffled:
        rank[members] = torch.arange(len(members))
    class_order = torch.randperm(len(classes), generator=gen)
    class_rank = torch.empty(n, dtype=torch.long)
    for position, members in zip(class_order.tolist(), shuffled, strict=True):
        class_rank[members] = position
    key = rank * len(classes) + class_rank
    return torch.argsort(key, stable=True)


def nested_subsets(
    n: int, sizes: Sequence[int], labels: Tensor | None = None, seed: int = 0
) -> dict[int, Tensor]:
    """``{size: indices}`` with each smaller subset contained in each larger one.

    Example:
        >>> subsets = nested_subsets(100, [10, 50])
        >>> set(subsets[10].tolist()) <= set(subsets[50].tolist())
        True
    """
    for size in sizes:
        if not 0 < size <= n:
            raise ValueError(f"nested_subsets: sizes must be in 1..{n} (got {size})")
    order = nested_order(n, labels, seed)
    return {size: order[:size].clone() for size in sorted(sizes)}
