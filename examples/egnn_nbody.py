"""N-body dynamics with EGNN and its plain GNN baseline (Satorras et al. 2021).

Trains the registered ``egnn`` and ``gnn`` for a few steps on EGNN's charged 5-body data (predict
the positions 1,000 steps ahead), then moves the test inputs by a random rotation, reflection and
translation: EGNN's predictions move with them, the GNN's do not.

Run: python examples/egnn_nbody.py
"""

from __future__ import annotations

import torch
from torch_geometric.data import Batch

from symml.data import build as build_dataset
from symml.groups import E
from symml.models import build, parameter_count
from symml.reps import act


def batches(dataset, size: int) -> list[Batch]:
    return [
        Batch.from_data_list([dataset[i] for i in range(start, min(start + size, len(dataset)))])
        for start in range(0, len(dataset), size)
    ]


def main() -> None:
    torch.manual_seed(0)
    train = batches(build_dataset("nbody_charged", "train", size=200), 50)
    test = build_dataset("nbody_charged", "test", size=100)
    rep_in, rep_out = test.reps()
    (test_batch,) = batches(test, 100)
    g = E(3).sample(1, generator=torch.Generator().manual_seed(1))  # rotation·reflection + shift
    moved = act(rep_in, g, test_batch)
    for name in ("egnn", "gnn"):
        model = build(name)
        optimiser = torch.optim.Adam(model.parameters(), lr=5e-4)
        for batch in train * 3:  # a few epochs: enough to move off the start, not to converge
            optimiser.zero_grad()
            torch.nn.functional.mse_loss(model(batch), batch.y).backward()
            optimiser.step()
        with torch.no_grad():
            prediction = model(test_batch)
            mse = float(torch.nn.functional.mse_loss(prediction, test_batch.y))
            gap = (model(moved) - act(rep_out, g, prediction)).abs().max() / prediction.abs().max()
        print(
            f"{name:>5}: {parameter_count(model):>7,} parameters, test MSE {mse:.4f} after "
            f"{3 * len(train)} steps, |f(g·x) - g·f(x)| / |f(x)| = {float(gap):.1e}"
        )


if __name__ == "__main__":
    main()
