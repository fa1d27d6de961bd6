"""Building blocks for image fields: batch norm, pooling, the nonlinearities of `symml.nn` typed
by a `GridRep`, and the type-checked container. Each is equivariant through `symml.testing`,
agrees with the plain layer it generalises, exports to plain torch layers, and rejects fields it
cannot handle (the nonlinearities' own tests are in ``tests/nn/test_nonlinear.py``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from symml.groups import O2, SO2, Cyclic, Dihedral, FiniteGroup
from symml.nn import (
    EquivariantSequential,
    GatedNonlinearity,
    NormNonlinearity,
    PointwiseNonlinearity,
)
from symml.nn.cnn import (
    EquivariantBatchNorm,
    GroupConv2d,
    GroupPool,
    InvariantPool,
    LiftingConv2d,
    NormPool,
    SpatialAvgPool2d,
    SpatialMaxPool2d,
    export,
    is_plain,
)
from symml.reps import GridRep, Rep, irrep, regular, standard, trivial
from symml.testing import assert_equivariant

GROUPS = [Cyclic(4), Dihedral(4)]
DTYPES = [torch.float32, torch.float64]


def _mixed(group: FiniteGroup) -> Rep:
    """Fields of several kinds: regular, trivial and a 2-D irrep (non-permutation)."""
    return 2 * regular(group) + trivial(group) + standard(group) + trivial(group)


def _steerable(group: SO2 | O2) -> Rep:
    first = irrep(group, 1) if isinstance(group, SO2) else irrep(group, (1, 1))
    second = irrep(group, 2) if isinstance(group, SO2) else irrep(group, (1, 2))
    return trivial(group) + 2 * first + second


def _batch(rep: Rep, size: int = 8, batch: int = 4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 2 + 3 * torch.randn(batch, rep.dim, size, size, generator=gen)


# ----- batch norm --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("group", GROUPS + [SO2(), O2()], ids=repr)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_is_equivariant(group: object, training: bool, dtype: torch.dtype) -> None:
    rep = _steerable(group) if isinstance(group, (SO2, O2)) else _mixed(group)  # type: ignore[arg-type]
    bn = EquivariantBatchNorm(rep)
    with torch.no_grad():  # non-trivial affine parameters and running statistics
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
        bn(_batch(rep))
    bn.train(training)
    assert_equivariant(bn, x=_batch(rep, seed=1), dtype=dtype)


def test_batch_norm_on_regular_fields_shares_statistics_over_the_group() -> None:
    group = Dihedral(4)
    bn = EquivariantBatchNorm(3 * regular(group), momentum=0.3)
    x = _batch(3 * regular(group))
    # reference: one BatchNorm3d channel per field, the group axis as depth
    ref = nn.BatchNorm3d(3, momentum=0.3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]) * 8**0.5)  # β along the unit vector 1/√8
        ref.weight.copy_(bn.weight)
        ref.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    for training in (True, False):
        bn.train(training)
        ref.train(training)
        y = bn(x)
        y_ref = ref(x.unflatten(1, (3, 8))).flatten(1, 2)
        torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    torch.testing.assert_close(bn.running_mean.view(3, 8), ref.running_mean[:, None].expand(3, 8))


def test_batch_norm_on_trivial_fields_is_batchnorm2d() -> None:
    bn = EquivariantBatchNorm(5 * trivial(Cyclic(4)))
    ref = nn.BatchNorm2d(5)
    x = _batch(5 * trivial(Cyclic(4)))
    for training in (True, False):
        bn.train(training)
        ref.train(training)
        torch.testing.assert_close(bn(x), ref(x))
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


# ----- pooling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("group", GROUPS, ids=repr)
@pytest.mark.parametrize("mode", ["max", "mean"])
def test_group_pool_is_invariant_and_reduces_each_field(group: FiniteGroup, mode: str) -> None:
    rep = 3 * regular(group) + 2 * trivial(group)
    pool = GroupPool(rep, mode)
    assert pool.rep_out == GridRep(5 * trivial(group))
    assert_equivariant(pool)
    x = _batch(rep)
    n = group.order
    expected = x[:, : 3 * n].unflatten(1, (3, n))
    expected = expected.amax(2) if mode == "max" else expected.mean(2)
    torch.testing.assert_close(pool(x)[:, :3], expected)
    torch.testing.assert_close(pool(x)[:, 3:], x[:, 3 * n :])


@pytest.mark.parametrize("group", [Dihedral(4), SO2(), O2()], ids=repr)
def test_norm_pool_and_spatial_average_accept_any_field(group: object) -> None:
    rep = _mixed(group) if isinstance(group, Dihedral) else _steerable(group)  # type: ignore[arg-type]
    assert_equivariant(NormPool(rep))
    assert_equivariant(SpatialAvgPool2d(rep, 2), x=_batch(rep, size=8))
    assert_equivariant(InvariantPool(rep, group_pool="norm", spatial="mean"))


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_spatial_max_pool_keeps_permutation_fields_equivariant(group: FiniteGroup) -> None:
    rep = 2 * regular(group) + trivial(group)
    assert_equivariant(SpatialMaxPool2d(rep, 2), x=_batch(rep, size=12))
    # odd size: the 2x2 windows no longer tile the image symmetrically
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(SpatialMaxPool2d(rep, 2), x=_batch(rep, size=9))


# ----- export of every block --------------------------------------------------------------------
def _blocks() -> list[nn.Module]:
    d4, so2 = Dihedral(4), SO2()
    mixed = _mixed(d4)
    return [
        EquivariantBatchNorm(mixed),
        GroupPool(2 * regular(d4), "mean"),
        GroupPool(2 * regular(d4) + trivial(d4), "max"),  # uneven fields: traced by torch.fx
        NormPool(_steerable(so2)),
        SpatialMaxPool2d(2 * regular(d4), 2),
        SpatialAvgPool2d(mixed, 2, 1, 1),
        InvariantPool(2 * regular(d4)),
        PointwiseNonlinearity(GridRep(regular(d4)), "elu"),
        NormNonlinearity(GridRep(_steerable(so2)), "softplus"),
        GatedNonlinearity(GridRep(_steerable(so2))),
        GatedNonlinearity(GridRep(trivial(so2) + 2 * irrep(so2, 1)), "elu"),  # scalars first
    ]


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: type(b).__name__)
def test_every_block_exports_to_plain_torch(block: nn.Module) -> None:
    rep = block.rep_in  # type: ignore[attr-defined]
    x = _batch(rep.fibre, size=6)
    if isinstance(block, EquivariantBatchNorm):
        block(x)  # running statistics
    if isinstance(block, NormNonlinearity):
        with torch.no_grad():
            block.bias.uniform_(-1, 1)
    block.eval()
    plain = export(block)
    assert is_plain(plain) and not plain.training
    with torch.no_grad():
        torch.testing.assert_close(plain(x), block(x), rtol=1e-5, atol=1e-5)
    program = torch.export.export(plain, (x,))  # the path to ONNX and AOT compilation
    torch.testing.assert_close(program.module()(x), plain(x))


# ----- chaining in symml.nn.EquivariantSequential ------------------------------------------------
def test_chained_image_layers_are_checked_at_construction() -> None:
    lift = LiftingConv2d("p4", 1, 8, 3)
    net = EquivariantSequential(lift, GroupConv2d("p4", 8, 4, 3), InvariantPool(regular(Cyclic(4))))
    assert net.rep_in == lift.rep_in and net.rep_out == trivial(Cyclic(4))
    assert is_plain(export(net))
    with pytest.raises(ValueError, match=r"module 1 \(GroupConv2d\) expects rep_in = GridRep"):
        EquivariantSequential(lift, GroupConv2d("p4", 12, 4, 3))  # 3 fields after 2
    with pytest.raises(ValueError, match=r"module 1 \(GroupConv2d\) expects"):
        EquivariantSequential(lift, GroupConv2d("p4m", 16, 8, 3))  # another group
    # a nonlinearity typed by a Rep acts on vectors: after a convolution it must be a GridRep
    with pytest.raises(ValueError, match=r"module 1 \(PointwiseNonlinearity\) expects rep_in = 2"):
        EquivariantSequential(lift, PointwiseNonlinearity(lift.rep_out.fibre))


def test_fields_a_block_cannot_handle_are_rejected() -> None:
    vector = 2 * standard(Dihedral(4))
    with pytest.raises(ValueError, match="expected permutation fields.*Use NormPool"):
        GroupPool(vector)
    with pytest.raises(ValueError, match="expected permutation fields.*Use SpatialAvgPool2d"):
        SpatialMaxPool2d(vector, 2)
    with pytest.raises(ValueError, match=r"mode in \['max', 'mean'\]"):
        GroupPool(regular(Cyclic(4)), "min")
    with pytest.raises(TypeError, match="expected the field type as a symml Rep or GridRep"):
        EquivariantBatchNorm(8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 8, H, W\]"):
        EquivariantBatchNorm(regular(Dihedral(4)))(torch.randn(2, 4, 3, 3))
