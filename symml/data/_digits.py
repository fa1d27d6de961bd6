"""`DigitImages`: a labelled set of one-channel square images (the MNIST family)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from symml.data.dataset import SymmetricDataset
from symml.groups import O2, Elements, Group, inclusion
from symml.reps import GridRep, Rep, trivial


class DigitImages(SymmetricDataset):
    """Images ``[N, H, W]`` (uint8 0..255 or float in [0, 1]) with class labels ``[N]``.

    A sample is ``(image [1, H, W] float32 in [0, 1], label [] long)``; uint8 pixels ``p`` are
    returned as ``p / 255``. Labels are invariant: `reps` gives the trivial fibre on the pixel
    grid and the trivial label rep for any group that acts on images (so any planar group, not
    only the task's, can build transformed test sets).

    Args:
        images: ``[N, H, W]`` uint8 or float32 pixels.
        labels: ``[N]`` integer class labels.
        group: the task's symmetry group (`Trivial` for upright digits, `SO2` for rotated ones).
        name: what the data is, for ``repr`` (e.g. ``"mnist/train"``).

    Example:
        >>> import torch
        >>> from symml.groups import SO2
        >>> pixels = torch.zeros(2, 28, 28, dtype=torch.uint8)
        >>> ds = DigitImages(pixels, torch.tensor([3, 7]), SO2(), "blank")
        >>> image, label = ds[1]
        >>> image.shape, image.dtype, label
        (torch.Size([1, 28, 28]), torch.float32, tensor(7))
        >>> quarter = SO2().element([torch.pi / 2])
        >>> bool((ds.act(quarter, ds[0])[0] == torch.rot90(ds[0][0], 1, (1, 2))).all())
        True
    """

    def __init__(self, images: Tensor, labels: Tensor, group: Group, name: str) -> None:
        if images.dim() != 3 or images.shape[1] != images.shape[2]:
            raise ValueError(
                f"DigitImages: expected images of shape [N, H, H] (got {list(images.shape)})"
            )
        if images.dtype not in (torch.uint8, torch.float32):
            raise TypeError(f"DigitImages: expected uint8 or float32 images (got {images.dtype})")
        if labels.shape != images.shape[:1] or labels.is_floating_point():
            raise ValueError(
                f"DigitImages: expected integer labels of shape [{images.shape[0]}] "
                f"(got {labels.dtype} {list(labels.shape)})"
            )
        if not (isinstance(group, Group) and group.acts_on_images):
            raise ValueError(f"DigitImages: {group!r} does not act on images")
        self.pixels = images
        self._labels = labels.long()
        self.group = group
        self.name = name

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images(index), self._labels[index]

    def images(self, index: int | slice | Tensor | None = None) -> Tensor:
        """Float32 images in [0, 1]: ``[1, H, W]`` for an int ``index``, ``[n, 1, H, W]`` for a
        slice or index tensor, all ``[N, 1, H, W]`` for None."""
        pixels = self.pixels if index is None else self.pixels[index]
        out = pixels.to(torch.float32, copy=True)  # a copy: callers may write to it
        if pixels.dtype == torch.uint8:
            out.div_(255.0)
        return out.unsqueeze(-3)

    @property
    def labels(self) -> Tensor:
        """Class labels ``[N]`` long."""
        return self._labels

    def stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(x_mean, x_std, 0, 1)``: the mean and standard deviation of all pixels of this
        split (in [0, 1] units), one scalar each, as Cohen & Welling preprocess MNIST-rot:
        scalars keep every planar symmetry of the images. The labels are class indices, which
        the engine never standardizes (the last two entries are there for the common shape)."""
        total = square = 0.0
        for start in range(0, len(self), 8192):  # in blocks: 60k float64 images are 376 MB
            block = self.images(slice(start, start + 8192)).double()
            total += float(block.sum())
            square += float(block.pow(2).sum())
        count = self.pixels.numel()
        mean = total / count
        std = max(square / count - mean * mean, 0.0) ** 0.5
        scalars = (mean, std, 0.0, 1.0)
        return tuple(torch.tensor(v, dtype=torch.float32) for v in scalars)  # type: ignore[return-value]

    def reps(self, group: Group | None = None) -> tuple[GridRep, Rep]:
        """``(GridRep(trivial(group)), trivial(group))`` for any group that acts on images."""
        group = self.group if group is None else group
        if not (isinstance(group, Group) and group.acts_on_images):
            raise ValueError(
                f"{self.name}: {group!r} does not act on images; expected a planar group "
                "(Trivial, Cyclic, Dihedral, SO2, O2), Translations(2, lattice=True), p4 or p4m"
            )
        return GridRep(trivial(group)), trivial(group)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, n={len(self)}, group={self.group!r})"


class TransformedDigits(DigitImages):
    """Digits each moved by a recorded group element (rotated MNIST): ``elements[i]`` took the
    source digit ``source_index[i]`` to sample ``i``."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        elements: Elements,
        source_index: Tensor,
        name: str,
    ) -> None:
        super().__init__(images, labels, elements.group, name)
        if len(elements) != len(images) or source_index.shape != labels.shape:
            raise ValueError(
                f"TransformedDigits: expected one element and one source index per image "
                f"({len(images)}), got {len(elements)} and {list(source_index.shape)}"
            )
        self.elements = elements
        self.source_index = source_index

    @property
    def angles(self) -> Tensor:
        """``[N]`` float64 rotation angles in radians, in [0, 2π)."""
        return self._in_o2[:, 1]

    @property
    def flips(self) -> Tensor:
        """``[N]`` bool: whether the digit was mirrored (``(x, y) ↦ (x, -y)``) before rotating."""
        return self._in_o2[:, 0].bool()

    @property
    def _in_o2(self) -> Tensor:
        """The elements as ``[s, θ]`` rows of O(2), the group of every planar digit transform."""
        return inclusion(self.group, O2())(self.elements).data


def check_split(split: str, splits: Iterable[str], what: str) -> None:
    """A ValueError listing the splits of ``what`` unless ``split`` is one of them."""
    names = sorted(splits)
    if split not in names:
        raise ValueError(f"{what}: unknown split {split!r}; expected one of {names}")


def first(size: int | None, n: int, what: str) -> slice:
    """The first ``size`` samples (all for None), or a ValueError naming ``size``."""
    if size is None:
        return slice(0, n)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= n:
        raise ValueError(f"{what}: size must be an integer in 1..{n} (got {size!r})")
    return slice(0, size)
