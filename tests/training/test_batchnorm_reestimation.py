"""Cohen & Welling's batch-norm re-estimation: statistics of the current weights over the
training set, for torch's and symml's batch norms, in a run when `trainer.reestimate_batchnorm`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from symml.groups import Cyclic
from symml.models import register, unregister
from symml.nn.cnn import EquivariantBatchNorm
from symml.reps import regular
from symml.training import train
from symml.training.config import validate
from symml.training.evaluation import reestimate_batchnorm

from .conftest import TINY


def test_statistics_become_the_mean_over_the_batches_and_settings_are_restored() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.BatchNorm1d(4, momentum=0.3))
    model.train()
    batches = [torch.randn(16, 3, dtype=torch.float64) * (k + 1) for k in range(5)]
    model = model.double()
    model(torch.randn(16, 3, dtype=torch.float64))  # stale statistics from another batch
    assert reestimate_batchnorm(model, batches) == 1
    bn = model[2]
    with torch.no_grad():  # dropout was off: the features are the linear layer's
        features = [model[0](x) for x in batches]
    torch.testing.assert_close(bn.running_mean, torch.stack([f.mean(0) for f in features]).mean(0))
    unbiased = torch.stack([f.var(0, unbiased=True) for f in features]).mean(0)
    torch.testing.assert_close(bn.running_var, unbiased)
    assert bn.momentum == 0.3 and model.training and model[1].training


def test_symml_equivariant_batchnorm_is_re_estimated_too() -> None:
    bn = EquivariantBatchNorm(2 * regular(Cyclic(4))).double()
    bn.eval()
    batches = [torch.randn(4, 8, 5, 5, dtype=torch.float64) + k for k in range(3)]
    assert reestimate_batchnorm(bn, batches) == 1
    # the invariant part of each regular field's mean: one value per field, shared by its 4
    # channels, the average of the batches' means
    expected = torch.stack([x.mean((0, 2, 3)).view(2, 4).mean(1) for x in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean.view(2, 4), expected[:, None].expand(2, 4))
    assert not bn.training and bn.momentum == 0.1
    assert reestimate_batchnorm(nn.Linear(2, 2), [torch.randn(3, 2)]) == 0  # nothing to do


def test_a_run_re_estimates_before_each_validation(tmp_path: Path) -> None:
    seen: list[int] = []

    class Counting(nn.BatchNorm1d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training and self.momentum is not None and self.momentum < 1:
                seen.append(x.shape[0])  # a batch after the first of a re-estimation pass
            return super().forward(x)

    @register("bn_mlp", description="an MLP with a batch norm", group="none")
    def bn_mlp(rep_in: object = None, rep_out: object = None, group: object = None) -> nn.Module:
        return nn.Sequential(nn.Linear(20, 8), Counting(8), nn.Linear(8, 9))

    try:
        config = validate(
            {
                **TINY,
                "model": {"name": "bn_mlp"},
                "trainer": {**TINY["trainer"], "reestimate_batchnorm": True, "eval_batch_size": 8},
            }
        )
        result = train(config, tmp_path)
    finally:
        unregister("bn_mlp")
    # 32 training samples in batches of 8 per re-estimation, one per epoch (2 epochs); plus the
    # training steps' own batches of 16 at momentum 0.1
    assert seen.count(8) == 2 * 3 and result.steps == 4
