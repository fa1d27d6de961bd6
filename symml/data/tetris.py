"""3-D Tetris: classify 8 shapes of 4 unit cubes up to rotation (and translation).

Thomas et al. 2018, "Tensor Field Networks" (https://arxiv.org/abs/1802.08219), shape
classification; the coordinates are those of `tensorfieldnetworks/shape_classification.ipynb` and
e3nn's `examples/tetris*.py`. Shapes 0 and 1 are mirror images of each other (a chiral pair); the
other six are achiral (each equals a rotation of its own mirror image).

Splits:

- ``"train"``: the 8 canonical poses, repeated ``count`` times (default 1): TFN's training set.
- ``"test"``: ``count`` (default 25, TFN's 25 × 8 = 200) random rotations of each shape, plus a
  translation ~ U(−3, 3)³ with ``translate``; with ``reflect`` the random element is Haar on
  O(3) instead of SO(3), so half the samples are mirrored, and a mirrored chiral shape is
  labelled as its partner.
- ``"val"``: ``count`` (default 25) random rotations of each shape from a stream of their own,
  transformed like ``"test"``: the validation split on which learning rates are chosen, so the
  test split is read once.
- ``"holdout_train"`` / ``"holdout_test"``: e3nn's chirality test (`examples/tetris.py`): train
  on the canonical poses of shapes 1–7 only (shape 0, one member of the mirror pair, is never
  seen), test on random rotations of all 8 shapes. Only a model that is equivariant to
  reflections with a parity-odd output can label the held-out shape 0 (``labels == 0``)
  correctly: it is the mirror image of shape 1. ``"holdout_val"``: random rotations of the
  seven training shapes only (shape 0 stays unseen until the test).

Samples are torch-geometric ``Data``, listed round-robin over the shapes (sample ``i`` is a copy of
shape ``i mod 8``, or of ``HOLDOUT_SHAPES[i mod 7]``), so every prefix is class-balanced.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from symml.data.dataset import SymmetricDataset
from symml.groups import O3, SE, SO3, Elements, Group, Translations
from symml.reps import GraphRep, Rep, act, change_basis, sign, trivial

SHAPES = torch.tensor(
    [
        [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)],  # chiral shape, mirror image of 1
        [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)],  # chiral shape, mirror image of 0
        [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],  # square
        [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)],  # line
        [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)],  # corner
        [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)],  # L
        [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)],  # T
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],  # zigzag
    ],
    dtype=torch.float64,
)
"""Voxel centres of the 8 shapes, ``[8, 4, 3]`` (TFN / e3nn order)."""

NAMES = ("chiral_1", "chiral_2", "square", "line", "corner", "L", "T", "zigzag")
"""e3nn's names (TFN's notebook swaps the names of shapes 5, 6, 7; the geometry is the same)."""

NUM_CLASSES = 8
CHIRAL_PAIR = (0, 1)
HOLDOUT_SHAPES = tuple(range(1, NUM_CLASSES))  # e3nn trains without shape 0
# new splits go last: a split's index seeds its random stream
SPLITS = ("train", "test", "holdout_train", "holdout_test", "val", "holdout_val")
DEFAULT_COUNTS = {
    "train": 1, "test": 25, "holdout_train": 1, "holdout_test": 25, "val": 25, "holdout_val": 25
}  # fmt: skip
TRANSLATION_RANGE = 3.0  # TFN's notebook draws translations from U(-3, 3)^3


def fully_connected(n: int) -> Tensor:
    """``edge_index [2, n(n-1)]`` of the complete directed graph without self-loops."""
    src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = src != dst
    return torch.stack([src[keep], dst[keep]])


def label_rep(group: Group) -> Rep:
    """How a group with reflections acts on the 8 classes (as one-hot or logit vectors): a
    reflection (det −1) swaps the chiral pair, rotations fix every class. A permutation
    representation, ``change_basis(trivial + sign + 6 trivial, Q)`` with ``Q`` mapping the first
    two basis vectors to ``(e₀ ± e₁)/√2``."""
    q = torch.eye(NUM_CLASSES, dtype=torch.float64)
    a, b = CHIRAL_PAIR
    s = 2**-0.5
    q[[a, b, a, b], [0, 0, 1, 1]] = torch.tensor([s, s, s, -s], dtype=torch.float64)
    return change_basis(trivial(group) + sign(group) + trivial(group) * (NUM_CLASSES - 2), q)


class Tetris3D(SymmetricDataset):
    """The 3-D Tetris shapes as graphs; labels are invariant under SE(3).

    Invariance: a rotated and translated shape keeps its class. Under a reflection the chiral
    pair (classes 0 and 1) swaps and the other classes stay: for groups containing reflections
    (O(3), E(3)) the target rep is `label_rep`, and `act` relabels the sample by it (the default
    `SymmetricDataset.act` accepts only invariant integer labels).

    Args:
        split: ``"train"``, ``"val"``, ``"test"``, ``"holdout_train"``, ``"holdout_val"`` or
            ``"holdout_test"`` (module doc).
        count: copies of each shape (default 1 for the training splits, 25 for the others).
        seed: seed of the random rotations, translations and reflections.
        translate: add a translation ~ U(−3, 3)³ (validation and test splits only).
        reflect: draw the random element from O(3) instead of SO(3) (validation and test
            splits only).
        dtype: float dtype of ``pos`` and ``x`` (the poses are computed in float64).

    Shapes:
        sample: ``Data(pos [4, 3], x [4, 1] (ones), edge_index [2, 12] (fully connected),
        y [] long)``.

    Example:
        >>> ds = Tetris3D("test", count=2)
        >>> len(ds), ds[0].pos.shape, ds.labels[:8].tolist()
        (16, torch.Size([4, 3]), [0, 1, 2, 3, 4, 5, 6, 7])
    """

    group = SE(3)

    def __init__(
        self,
        split: str = "train",
        count: int | None = None,
        seed: int = 0,
        translate: bool = False,
        reflect: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"tetris3d: unknown split {split!r}; expected one of {SPLITS}")
        count = DEFAULT_COUNTS[split] if count is None else count
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"tetris3d: expected count to be a positive integer (got {count!r})")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"tetris3d: expected seed to be an integer (got {seed!r})")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"tetris3d: expected a floating dtype for pos (got {dtype!r})")
        random = not split.endswith("train")
        if (translate or reflect) and not random:
            raise ValueError(
                f"tetris3d: translate/reflect transform the test splits, but split is {split!r} "
                "(canonical poses); augment training data with symml.data.RandomGroupAction"
            )
        self.split, self.count, self.seed = split, count, seed
        held_out = split in ("holdout_train", "holdout_val")
        shapes = HOLDOUT_SHAPES if held_out else tuple(range(NUM_CLASSES))
        index = torch.tensor(shapes).repeat(count)
        pos = SHAPES[index]
        labels = index.clone()
        if random:
            gen = torch.Generator().manual_seed(hash((seed, SPLITS.index(split))) & 0x7FFF_FFFF)
            point = O3() if reflect else SO3()
            rot = point.sample(len(index), generator=gen, dtype=torch.float64).data
            pos = pos @ rot.transpose(1, 2)
            if translate:
                shift = torch.rand(len(index), 1, 3, generator=gen, dtype=torch.float64)
                pos = pos + (2 * shift - 1) * TRANSLATION_RANGE
            labels = _relabel(labels, torch.linalg.det(rot) < 0)
        self.pos = pos.to(dtype)
        self._labels = labels
        self._edge_index = fully_connected(SHAPES.shape[1])

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> Data:
        pos = self.pos[index]
        return Data(
            pos=pos,
            x=torch.ones(len(pos), 1, dtype=pos.dtype),
            edge_index=self._edge_index.clone(),
            y=self._labels[index].clone(),
        )

    @property
    def labels(self) -> Tensor:
        """Class labels ``[N]`` (long)."""
        return self._labels

    def reps(self, group: Group | None = None) -> tuple[GraphRep, Rep]:
        """``(GraphRep(G), trivial(G))`` for rotations / translations of R³ (SO(3), SE(3),
        Translations(3)); ``(GraphRep(G), label_rep(G))`` for O(3) and E(3)."""
        group = self.group if group is None else group
        point = group.point_group or group
        if group == Translations(3):
            return GraphRep(group), trivial(group)
        if point not in (SO3(), O3()):
            raise ValueError(
                "tetris3d.reps: expected a group of rotations, reflections or translations of "
                f"R^3 (SO3(), O3(), SE(3), E(3), Translations(3)); got {group!r}"
            )
        target = label_rep(group) if point == O3() else trivial(group)
        return GraphRep(group), target

    def act(self, g: Elements, sample: Data, *, interpolation: bool = True) -> Data:
        """The sample moved by ``g``; its label permuted by the target rep (the chiral pair
        swaps when ``g`` reflects)."""
        input_rep, target_rep = self.reps(g.group)
        moved = act(input_rep, g, sample)
        if getattr(sample, "y", None) is not None:
            # column y of the permutation matrix ρ(g) is the one-hot vector of the new label
            mat = target_rep(g, dtype=torch.float64)[0]
            moved.y = mat[:, sample.y].argmax(0) if target_rep.dim > 1 else sample.y.clone()
        return moved


def _relabel(labels: Tensor, mirrored: Tensor) -> Tensor:
    """Labels after a reflection where ``mirrored``: the chiral pair swaps."""
    a, b = CHIRAL_PAIR
    out = labels.clone()
    out[mirrored & (labels == a)] = b
    out[mirrored & (labels == b)] = a
    return out


def build_tetris3d(
    split: str = "train",
    count: int | None = None,
    seed: int = 0,
    translate: bool = False,
    reflect: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Tetris3D:
    """Registry builder for ``"tetris3d"`` (see `Tetris3D`)."""
    return Tetris3D(
        split, count=count, seed=seed, translate=translate, reflect=reflect, dtype=dtype
    )
