"""Rotation-invariant digit classifiers: Cohen & Welling's P4CNN against its planar baseline.

Builds the registered ``p4cnn`` and ``z2cnn``, shows that only the first one gives the same
logits for a digit and its four 90° rotations, trains both for a few steps on random data to
show that nothing in training breaks the symmetry, and exports P4CNN to plain torch layers.

Run: python examples/p4_cnn.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from symml.groups import Cyclic, act_on_images
from symml.models import build, parameter_count
from symml.nn.cnn import is_plain


def rotation_spread(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Largest change of the logits when the images are rotated by 90°, 180° or 270°."""
    with torch.no_grad():
        logits = model(x)
        rotated = [model(act_on_images(Cyclic(4).element([k]), x)) for k in (1, 2, 3)]
    return max(float((r - logits).abs().max()) for r in rotated)


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 1, 28, 28)
    labels = torch.randint(10, (16,))
    for name in ("p4cnn", "z2cnn"):
        model = build(name)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(3):  # a few steps: batch norm statistics and weights move
            optimiser.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            optimiser.step()
        model.eval()
        spread = rotation_spread(model, x)
        print(
            f"{name:>6}: {parameter_count(model):>6} parameters, group {model.group!r}, "
            f"logit change under 90° rotations {spread:.1e}"
        )
        if name == "p4cnn":
            plain = model.export()
            with torch.no_grad():
                gap = float((plain(x) - model(x)).abs().max())
            print(
                f"        exported to plain torch layers: {is_plain(plain)}, "
                f"max difference {gap:.1e}"
            )


if __name__ == "__main__":
    main()
