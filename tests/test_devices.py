"""Any device, any float dtype: results live where the inputs live, in the dtype asked for.

Runs on the CPU everywhere and on CUDA too when a GPU is present.
"""

from __future__ import annotations

import pytest
import torch

from symml.groups import O3, SO2, Cyclic, Dihedral, E, Permutations, act_on_images, p4m
from symml.reps import irrep, quotient, regular, standard
from symml.testing import GridRep, assert_equivariant

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
REPS = [
    regular(Dihedral(4)),
    quotient(Dihedral(6), Cyclic(3)),
    irrep(SO2(), 2),
    standard(O3()).tensor(irrep(O3(), (2, -1))),
    standard(Permutations(5)),
    standard(E(3)),
    irrep(O3(), (1, 1)).restrict(SO2()),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rep", REPS, ids=str)
def test_rep_matrices_follow_device_and_dtype(rep, device: str, dtype: torch.dtype) -> None:
    g = rep.group.sample(3, generator=torch.Generator().manual_seed(0), device=device, dtype=dtype)
    mats = rep(g, dtype=dtype)
    assert mats.device.type == device
    assert mats.dtype == dtype
    reference = rep(g.to("cpu"), dtype=torch.float64)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(mats.cpu().double(), reference, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_image_action_on_device(device: str) -> None:
    images = torch.randn(2, 8, 9, 9, device=device)
    g = p4m().sample(2, generator=torch.Generator().manual_seed(1), device=device)
    moved = act_on_images(g, images)
    assert moved.device.type == device
    assert torch.equal(moved.cpu(), act_on_images(g.to("cpu"), images.cpu()))


@pytest.mark.parametrize("device", DEVICES)
def test_harness_on_device(device: str) -> None:
    fibre = regular(Dihedral(4))
    x = torch.randn(2, 8, 11, 11, device=device)
    assert_equivariant(lambda t: torch.tanh(t), GridRep(fibre), GridRep(fibre), x=x)
