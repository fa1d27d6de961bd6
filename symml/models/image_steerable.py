"""Weiler & Cesa's MNIST benchmark model on steerable convolutions, and its plain baselines.

Weiler & Cesa 2019, "General E(2)-Equivariant Steerable CNNs", https://arxiv.org/abs/1911.08251
(``e2cnn_experiments`` ``models/exp_e2sfcnn.py`` / ``exp_cnn.py``, docs/published.md §2b): six
convolutions (base widths 16, 24, 32, 32, 48, 64; kernels 7, 5, 5, 5, 5, 5; paddings 1, 2, 2, 2,
2, 0), each conv → batch norm → nonlinearity, 2×2 max-pools after layers 2 and 4, an invariant
map in layer 6, a global spatial max, and the head Linear(·, 64) → BatchNorm1d → ELU →
Linear(64, 10).

- `build_steerable_cnn`: on C_N / D_N the fields are regular (base width = number of fields,
  ELU; layer 6 is conv → max over each field's group channels → batch norm → ELU, as the
  benchmark's); on SO(2) / O(2), whose regular representation is infinite, each base
  channel is a band-limited field ``ψ_0 ⊕ … ⊕ ψ_L`` split into its irreps, with the paper's
  norm nonlinearity (ELU on the ψ_0 fields, norm-ReLU ``f·relu(‖f‖ + b)/‖f‖`` on the others) or
  a gated one (ELU on the ψ_0 fields, a sigmoid gate on each other field), average pooling
  (a pointwise max is not equivariant for irreps), and a conv straight to scalar fields as
  the invariant map in layer 6.
  ``fixparams`` rescales layers 2–5 to ``round(C / √(d/16))`` fields of dimension ``d``
  (``d = |G|`` for regular fields).
- `build_cnn`: the plain baseline ``ExpCNN`` (widths 16, 96, 128, 128, 192, 64, convs without
  bias before each batch norm; average pooling at the end): 1,683,770 parameters, roughly
  matched to the C16 / D8 models.
- `build_cnn_channel_matched`: a plain CNN with as many channels per layer as the steerable model
  on ``group`` has (fields × field dimension): the same feature size, many more parameters.
"""

from __future__ import annotations

import math
from typing import cast

from torch import nn

from symml.groups import Group
from symml.models.image import MNIST_SIZE, ImageClassifier
from symml.nn import (
    EquivariantSequential,
    GatedNonlinearity,
    NormNonlinearity,
    PointwiseNonlinearity,
)
from symml.nn._checks import check_flag
from symml.nn.cnn import (
    EquivariantBatchNorm,
    GroupPool,
    InvariantPool,
    SpatialAvgPool2d,
    SpatialMaxPool2d,
    SteerableConv2d,
)
from symml.nn.cnn._fields import check_choice, check_positive, point_group
from symml.reps import GridRep, Rep, direct_sum, irrep, regular, trivial

BASE_WIDTHS = (16, 24, 32, 32, 48, 64)
KERNELS = (7, 5, 5, 5, 5, 5)
PADDINGS = (1, 2, 2, 2, 2, 0)
POOL_AFTER = (1, 3)  # 0-based layers followed by a 2×2 max-pool
CNN_WIDTHS = (16, 96, 128, 128, 192, 64)
HEAD_WIDTH = 64
_MIN_SIZE = 21  # 7×7 conv with padding 1, two 2×2 pools, then a 5×5 conv without padding


def _band(group: Group, maximum_frequency: int) -> list[Rep]:
    """The irreps ``ψ_0 … ψ_L`` of SO(2) (or trivial and ``(1, k)`` of O(2)), one field each:
    the trivial irrep, then one irrep per frequency 1..L (O(2)'s determinant, of frequency 0,
    is left out)."""
    keys = group.irrep_keys(maximum_frequency)
    return [trivial(group)] + [irrep(group, k) for k in keys if group.irrep_frequency(k) > 0]


def _field(group: Group, maximum_frequency: int) -> list[Rep]:
    """The irreducible fields making up one base channel."""
    if not group.is_finite:  # SO(2) / O(2): no finite regular representation
        return _band(group, maximum_frequency)
    return [regular(group)]


def layer_widths(
    group: Group,
    fixparams: bool,
    maximum_frequency: int = 3,
    widths: tuple[int, ...] = BASE_WIDTHS,
) -> tuple[int, ...]:
    """Fields per layer: ``widths`` (the paper's), layers 2–5 rescaled when ``fixparams``."""
    dim = sum(f.dim for f in _field(group, maximum_frequency))
    scale = math.sqrt(dim / 16) if fixparams else 1.0
    return tuple(c if i in (0, 5) else max(1, round(c / scale)) for i, c in enumerate(widths))


def _check_widths(widths: object, owner: str) -> tuple[int, ...]:
    if not (
        isinstance(widths, (tuple, list))
        and len(widths) == len(BASE_WIDTHS)
        and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    ):
        raise ValueError(
            f"{owner}: expected widths as {len(BASE_WIDTHS)} positive integers, one per layer "
            f"(got {widths!r})"
        )
    return tuple(widths)


def build_steerable_cnn(
    group: str = "C16",
    fixparams: bool = True,
    in_channels: int = 1,
    num_classes: int = 10,
    maximum_frequency: int = 3,
    nonlinearity: str | None = None,
    widths: tuple[int, ...] = BASE_WIDTHS,
) -> ImageClassifier:
    """Weiler & Cesa's steerable benchmark CNN on C_N, D_N, SO(2) or O(2).

    Args:
        group: ``"C<N>"``, ``"D<N>"``, ``"SO2"`` or ``"O2"``.
        fixparams: rescale layers 2–5 to keep the parameter count near the C16 model's.
        in_channels: input channels (scalars).
        num_classes: logits.
        maximum_frequency: L, the band limit of SO(2) / O(2) fields.
        nonlinearity: ``"elu"`` (regular fields, the default there), ``"norm"`` (norm-ReLU,
            default for SO(2)/O(2)) or ``"gated"`` (SO(2)/O(2)).
        widths: base channels of the six layers (fields; the paper's 16, 24, 32, 32, 48, 64).

    Example:
        >>> from symml.models import build
        >>> model = build("steerable_cnn", group="C4")
        >>> model.group, model.rep_out
        (Cyclic(4), 10 * irrep(Cyclic(4), 0))
    """
    owner = "steerable_cnn"
    point = point_group(group, owner, finite=False)
    continuous = not point.is_finite  # SO(2) or O(2): point_group admits only planar groups
    check_positive(in_channels, owner, "in_channels")
    check_positive(num_classes, owner, "num_classes")
    check_positive(maximum_frequency, owner, "maximum_frequency", minimum=0)
    check_flag(fixparams, owner, "fixparams")
    choices = ("norm", "gated") if continuous else ("elu",)
    act = check_choice(nonlinearity or choices[0], choices, owner, "nonlinearity")
    unit = _field(point, maximum_frequency)
    rep = GridRep(trivial(point) * in_channels)
    layers: list[nn.Module] = []
    sizes = layer_widths(point, fixparams, maximum_frequency, _check_widths(widths, owner))
    last = len(sizes) - 1
    for i, (c, k, p) in enumerate(zip(sizes, KERNELS, PADDINGS, strict=True)):
        fields = GridRep(direct_sum(*(unit * c)))
        if i == last:  # the invariant map
            if continuous:  # a conv straight to scalar fields, as the paper's SO(2) models
                layers += _steerable_block(rep, GridRep(trivial(point) * c), k, p, "elu")
            else:
                layers += _group_pooled_block(rep, fields, k, p)
            break
        layers += _steerable_block(rep, fields, k, p, act)
        if i in POOL_AFTER:
            pool = SpatialAvgPool2d if continuous else SpatialMaxPool2d
            layers.append(pool(fields, 2))
        rep = fields
    # layer 6 made scalar fields: what is left is the spatial max
    scalars = cast(PointwiseNonlinearity, layers[-1]).rep_out
    invariant = InvariantPool(scalars, group_pool="max", spatial="max")
    return ImageClassifier(
        EquivariantSequential(*layers, invariant),
        _head(invariant.rep_out.dim, num_classes),
        group=point,
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=MNIST_SIZE,
        min_input_size=_MIN_SIZE,
    )


def _steerable_block(
    rep_in: GridRep, fields: GridRep, kernel_size: int, padding: int, nonlinearity: str
) -> list[nn.Module]:
    """conv → batch norm → nonlinearity, from ``rep_in`` to ``fields`` (the conv produces the
    nonlinearity's input: ``fields``, plus their gates for the gated nonlinearity)."""
    act: nn.Module
    if nonlinearity == "elu":
        act = PointwiseNonlinearity(fields, "elu")
    elif nonlinearity == "norm":
        act = NormNonlinearity(fields, "relu", scalars="elu")
    else:
        act = GatedNonlinearity(fields, "elu")
    conv = SteerableConv2d(rep_in, act.rep_in, kernel_size, padding)
    return [conv, EquivariantBatchNorm(act.rep_in), act]


def _group_pooled_block(
    rep_in: GridRep, fields: GridRep, kernel_size: int, padding: int
) -> list[nn.Module]:
    """The benchmark model's last layer on regular fields: conv → max over each field's group
    channels (the invariant map) → batch norm → ELU on the resulting scalar fields."""
    conv = SteerableConv2d(rep_in, fields, kernel_size, padding)
    pool = GroupPool(fields, "max")
    return [
        conv,
        pool,
        EquivariantBatchNorm(pool.rep_out),
        PointwiseNonlinearity(pool.rep_out, "elu"),
    ]


def _head(features: int, num_classes: int) -> nn.Sequential:
    """The classifier on the invariant features: Linear → BatchNorm1d → ELU → Linear."""
    return nn.Sequential(
        nn.Linear(features, HEAD_WIDTH),
        nn.BatchNorm1d(HEAD_WIDTH),
        nn.ELU(),
        nn.Linear(HEAD_WIDTH, num_classes),
    )


def _plain_cnn(
    widths: tuple[int, ...], in_channels: int, num_classes: int, group: Group
) -> ImageClassifier:
    layers: list[nn.Module] = []
    width = in_channels
    for i, (c, k, p) in enumerate(zip(widths, KERNELS, PADDINGS, strict=True)):
        # no conv bias: the batch norm after it has its own shift (as the benchmark's ExpCNN)
        layers += [nn.Conv2d(width, c, k, padding=p, bias=False), nn.BatchNorm2d(c), nn.ELU()]
        if i in POOL_AFTER:
            layers.append(nn.MaxPool2d(2))
        width = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    return ImageClassifier(
        nn.Sequential(*layers),
        _head(width, num_classes),
        group=group,
        in_channels=in_channels,
        num_classes=num_classes,
        min_input_size=_MIN_SIZE,
    )


def build_cnn(
    in_channels: int = 1,
    num_classes: int = 10,
    widths: tuple[int, ...] = CNN_WIDTHS,
    group: str = "C16",
) -> ImageClassifier:
    """Weiler & Cesa's plain baseline (``ExpCNN``): the steerable model's topology with `Conv2d`.

    Args:
        in_channels: input channels.
        num_classes: logits.
        widths: channels of the six layers (the paper's 16, 96, 128, 128, 192, 64).
        group: the group it is typed for (its equivariant partner's), for equivariance checks.

    Example:
        >>> from symml.models import build, parameter_count
        >>> parameter_count(build("cnn"))  # the benchmark's ExpCNN: 1,683,770
        1683770
    """
    owner = "cnn"
    check_positive(in_channels, owner, "in_channels")
    check_positive(num_classes, owner, "num_classes")
    point = point_group(group, owner, finite=False)
    return _plain_cnn(_check_widths(widths, owner), in_channels, num_classes, point)


def build_cnn_channel_matched(
    group: str = "C16",
    fixparams: bool = True,
    in_channels: int = 1,
    num_classes: int = 10,
    maximum_frequency: int = 3,
    widths: tuple[int, ...] = BASE_WIDTHS,
) -> ImageClassifier:
    """A plain CNN with the feature size of ``steerable_cnn`` on ``group``: each layer has as many
    channels as that model's fields have dimensions (e.g. 256, 384, … for C16).

    Example:
        >>> from symml.models import build
        >>> model = build("cnn_channel_matched", group="C4")
        >>> model.features[0].out_channels  # 16 regular C4 fields = 64 channels
        64
    """
    owner = "cnn_channel_matched"
    point = point_group(group, owner, finite=False)
    check_positive(in_channels, owner, "in_channels")
    check_positive(num_classes, owner, "num_classes")
    check_positive(maximum_frequency, owner, "maximum_frequency", minimum=0)
    check_flag(fixparams, owner, "fixparams")
    dim = sum(f.dim for f in _field(point, maximum_frequency))
    sizes = layer_widths(point, fixparams, maximum_frequency, _check_widths(widths, owner))
    return _plain_cnn(tuple(c * dim for c in sizes), in_channels, num_classes, point)
