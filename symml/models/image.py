"""Image classifiers: Cohen & Welling's MNIST-rot G-CNNs and their planar baseline.

Cohen & Welling 2016, "Group Equivariant Convolutional Networks", https://arxiv.org/abs/1602.07576
(architectures as in their ``gconv_experiments/MNIST_ROT/models``, see docs/published.md §1c): seven
3×3 convolutions (4×4 on top, no padding), each conv → batch norm → ReLU except the top one, a 2×2
max-pool after layer 2, and a global max over space (and over the group) to 10 logits.

- `build_z2cnn`: the planar baseline, 20 channels, dropout 0.3 (≈ 21,750 parameters).
- `build_p4cnn`: p4 convolutions on 10 regular fields (≈ 24,680 parameters).
- `build_p4cnn_rotation_pooling`: lifting convolutions with a max over the 4 rotations after
  every layer, 20 channels (≈ 21,750 parameters).
- `build_p4mcnn`: the P4CNN topology on p4m, 7 fields (≈ 26,800 parameters: 20/√8 channels, the
  rule that gives P4CNN its 10 = 20/√4).

Every model takes ``[B, C, H, W]`` (MNIST: ``[B, 1, 28, 28]``) and returns logits ``[B, 10]``; it
carries ``rep_in = GridRep(trivial(G) * C)``, ``rep_out = classes * trivial(G)`` and ``group`` G,
the point group (Cyclic(4) for p4, Dihedral(4) for p4m; the planar baseline is typed for C4 so
that the same check shows it is not invariant).
"""

from __future__ import annotations

from torch import Tensor, nn

from symml.groups import Cyclic, Group
from symml.nn import EquivariantSequential, PointwiseNonlinearity
from symml.nn._checks import check_finite, check_like, check_probability, reference_tensor
from symml.nn.cnn import (
    EquivariantBatchNorm,
    GroupConv2d,
    GroupPool,
    InvariantPool,
    LiftingConv2d,
    SpatialMaxPool2d,
    export,
)
from symml.nn.cnn._fields import check_images, check_positive, point_group
from symml.reps import GridRep, Rep, trivial

MNIST_SIZE = (28, 28)


class ImageClassifier(nn.Module):
    """``features`` then ``head``: images ``[B, C, H, W]`` → logits ``[B, classes]``.

    Args:
        features: image layers ending in invariant (or, for a baseline, plain) features.
        head: plain layers on those features (`torch.nn.Identity` when the features are logits).
        group: the symmetry the model claims (or, for a baseline, its partner claims).
        in_channels: input channels C.
        num_classes: number of logits.
        input_size: the nominal ``(H, W)`` (used for the default input of equivariance checks).
        min_input_size: the smallest side the layers accept.

    Attributes:
        rep_in: ``GridRep(trivial(G) * C)``; rep_out: ``num_classes * trivial(G)``; group: G.
    """

    def __init__(
        self,
        features: nn.Module,
        head: nn.Module,
        *,
        group: Group,
        in_channels: int,
        num_classes: int,
        input_size: tuple[int, int] = MNIST_SIZE,
        min_input_size: int = 1,
    ) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.group = group
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.input_size = input_size
        self.min_input_size = min_input_size
        self.rep_in = GridRep(trivial(group) * in_channels)
        self.rep_out: Rep = trivial(group) * num_classes

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W] -> [B, num_classes]``.

        Raises:
            ValueError: images of the wrong shape, too small, or with NaN / inf pixels (which
                would make every logit NaN).
            TypeError: images of another dtype or device than the model's weights.
        """
        name = type(self).__name__
        check_images(x, self.in_channels, name)
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(
                f"{name}: expected images of at least {self.min_input_size}×"
                f"{self.min_input_size} pixels (got {x.shape[-2]}×{x.shape[-1]}); this "
                f"architecture was built for {self.input_size[0]}×{self.input_size[1]}"
            )
        check_like(x, reference_tensor(self), name)
        check_finite(x, name, "images")  # skipped while torch.compile traces
        return self.head(self.features(x))

    def export(self) -> nn.Sequential:
        """Plain torch layers computing the same logits (eval mode)."""
        return nn.Sequential(export(self.features), export(self.head)).eval()


def _check_common(in_channels: int, num_classes: int, channels: int, owner: str) -> None:
    check_positive(in_channels, owner, "in_channels")
    check_positive(num_classes, owner, "num_classes")
    check_positive(channels, owner, "channels")


def build_z2cnn(
    in_channels: int = 1,
    num_classes: int = 10,
    channels: int = 20,
    dropout: float = 0.3,
    group: str = "C4",
) -> ImageClassifier:
    """Z2CNN: Cohen & Welling's planar CNN for MNIST-rot (≈ 21,750 parameters).

    Args:
        in_channels: input channels.
        num_classes: logits.
        channels: width of the six 3×3 layers (20; 40 matches P4CNN's channel count).
        dropout: after layers 1, 3, 4, 5, 6 (0 disables).
        group: the group it is typed for (its equivariant partner's), for equivariance checks.

    Example:
        >>> from symml.models import build, parameter_count
        >>> parameter_count(build("z2cnn"))
        21750
    """
    owner = "z2cnn"
    _check_common(in_channels, num_classes, channels, owner)
    dropout = check_probability(dropout, owner, "dropout")
    layers: list[nn.Module] = []
    width = in_channels
    for i in range(6):
        layers += [nn.Conv2d(width, channels, 3), nn.BatchNorm2d(channels), nn.ReLU()]
        width = channels
        if i != 1 and dropout:
            layers.append(nn.Dropout(dropout))
        if i == 1:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.Conv2d(channels, num_classes, 4), nn.AdaptiveMaxPool2d(1), nn.Flatten(1)]
    return ImageClassifier(
        nn.Sequential(*layers),
        nn.Identity(),
        group=point_group(group, owner),
        in_channels=in_channels,
        num_classes=num_classes,
        min_input_size=28,
    )


def _gcnn(
    group: Group | str, in_channels: int, num_classes: int, channels: int, owner: str
) -> ImageClassifier:
    """P4CNN's topology on regular fields of ``group``."""
    _check_common(in_channels, num_classes, channels, owner)
    point = point_group(group, owner)
    assert point.order is not None  # point_group returns C_N or D_N
    width = channels * point.order
    layers: list[nn.Module] = []
    for i in range(6):
        conv: nn.Module
        if i == 0:
            conv = LiftingConv2d(point, in_channels, width, 3)
        else:
            conv = GroupConv2d(point, width, width, 3)
        fields = GridRep(conv.rep_out.fibre)
        layers += [conv, EquivariantBatchNorm(fields), PointwiseNonlinearity(fields, "relu")]
        if i == 1:
            layers.append(SpatialMaxPool2d(fields, 2))
    top = GroupConv2d(point, width, num_classes * point.order, 4)
    layers += [top, InvariantPool(top.rep_out, group_pool="max", spatial="max")]
    return ImageClassifier(
        EquivariantSequential(*layers),
        nn.Identity(),
        group=point,
        in_channels=in_channels,
        num_classes=num_classes,
        min_input_size=28,
    )


def build_p4cnn(in_channels: int = 1, num_classes: int = 10, channels: int = 10) -> ImageClassifier:
    """P4CNN: Cohen & Welling's p4 G-CNN for MNIST-rot (≈ 24,680 parameters).

    A lifting convolution and six p4 group convolutions on ``channels`` regular fields of C4;
    logits are invariant to the four 90° rotations (exactly, on the pixel grid).

    Example:
        >>> from symml.models import build, parameter_count
        >>> parameter_count(build("p4cnn"))
        24680
    """
    return _gcnn(Cyclic(4), in_channels, num_classes, channels, "p4cnn")


def build_p4mcnn(in_channels: int = 1, num_classes: int = 10, channels: int = 7) -> ImageClassifier:
    """P4MCNN: P4CNN's topology on p4m (rotations and flips), 7 regular fields of D4.

    Example:
        >>> from symml.models import build, parameter_count
        >>> parameter_count(build("p4mcnn"))
        26799
    """
    return _gcnn("p4m", in_channels, num_classes, channels, "p4mcnn")


def build_p4cnn_rotation_pooling(
    in_channels: int = 1, num_classes: int = 10, channels: int = 20
) -> ImageClassifier:
    """P4CNN with rotation pooling (Cohen & Welling's P4CNNRotationPooling, ≈ 21,750 parameters).

    Seven lifting convolutions; after each, batch norm, ReLU and a max over the 4 rotations make
    the features invariant again, so every layer sees plain invariant channels.

    Example:
        >>> from symml.models import build, parameter_count
        >>> parameter_count(build("p4cnn_rotation_pooling"))
        21750
    """
    owner = "p4cnn_rotation_pooling"
    _check_common(in_channels, num_classes, channels, owner)
    group = Cyclic(4)
    layers: list[nn.Module] = []
    width = in_channels
    for i in range(6):
        conv = LiftingConv2d(group, width, 4 * channels, 3)
        fields = GridRep(conv.rep_out.fibre)
        layers += [
            conv,
            EquivariantBatchNorm(fields),
            PointwiseNonlinearity(fields, "relu"),
            GroupPool(fields, "max"),
        ]
        width = channels
        if i == 1:
            layers.append(SpatialMaxPool2d(GridRep(trivial(group) * channels), 2))
    top = LiftingConv2d(group, channels, 4 * num_classes, 4)
    layers += [top, InvariantPool(top.rep_out, group_pool="max", spatial="max")]
    return ImageClassifier(
        EquivariantSequential(*layers),
        nn.Identity(),
        group=group,
        in_channels=in_channels,
        num_classes=num_classes,
        min_input_size=28,
    )
