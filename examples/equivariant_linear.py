"""Use symml inside your own model: a D4-equivariant MLP from solved intertwiner bases.

Run: python examples/equivariant_linear.py
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symml.groups import Dihedral
from symml.reps import Rep, intertwiners, regular, standard, trivial
from symml.testing import assert_equivariant


class EquivariantLinear(nn.Module):
    """``y = W x + b`` with ``W ∈ Hom_G(rep_in, rep_out)`` and ``b`` in the invariant subspace.

    Shapes: ``[B, rep_in.dim] -> [B, rep_out.dim]``.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out
        dtype = torch.get_default_dtype()
        self.register_buffer("basis", intertwiners(rep_in, rep_out).to(dtype))
        # biases must be fixed by the group: maps from the trivial rep give that subspace
        self.register_buffer(
            "bias_basis", intertwiners(trivial(rep_in.group), rep_out)[..., 0].to(dtype)
        )
        scale = (rep_in.dim) ** -0.5
        self.weight = nn.Parameter(torch.randn(self.basis.shape[0]) * scale)
        self.bias = nn.Parameter(torch.zeros(self.bias_basis.shape[0]))

    def forward(self, x: Tensor) -> Tensor:
        w = torch.einsum("k,kij->ij", self.weight, self.basis)
        return x @ w.T + self.bias @ self.bias_basis


def main() -> None:
    group = Dihedral(4)
    hidden = 4 * regular(group)  # regular features: pointwise nonlinearities stay equivariant
    model = nn.Sequential(
        EquivariantLinear(standard(group), hidden),
        nn.ReLU(),
        EquivariantLinear(hidden, trivial(group)),
    )
    errors = assert_equivariant(model, standard(group), trivial(group), dtype=torch.float64)
    params = sum(p.numel() for p in model.parameters())
    print(f"D4-invariant MLP on R^2: {params} parameters, invariance error {errors['output']:.1e}")


if __name__ == "__main__":
    main()
