"""Fit the O(3) inertia task of Finzi et al. (2021) with an EMLP and check its symmetry.

Run: python examples/emlp_inertia.py
"""

from __future__ import annotations

import torch

from symml.data import build as build_data
from symml.models import build, parameter_count
from symml.testing import equivariance_error


def main() -> None:
    torch.manual_seed(0)
    train = build_data("inertia", "train", size=128)
    x = torch.stack([train[i][0] for i in range(len(train))])
    y = torch.stack([train[i][1] for i in range(len(train))])
    model = build("emlp", rep_in="5*S + 5*V", rep_out="T(2)", group="O3", hidden=32, num_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(40):
        loss = (model(x) - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            print(f"step {step:3d}  train MSE {loss.item():.4f}")
    error = equivariance_error(model)["output"]
    print(f"{parameter_count(model)} parameters, equivariance error {error:.1e}")


if __name__ == "__main__":
    main()
