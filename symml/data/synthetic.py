"""EMLP's synthetic regression tasks: O(5)-invariant scalar and O(3) inertia tensor.

Finzi, Welling, Wilson 2021, "A Practical Method for Constructing Equivariant Multilayer
Perceptrons for Arbitrary Matrix Groups" (https://arxiv.org/abs/2104.09459), `emlp/datasets.py`:

- `O5Synthetic`: ``x = (x₁, x₂) ~ N(0, I₁₀)``, ``y = sin‖x₁‖ − ½‖x₂‖³ + x₁ᵀx₂ / (‖x₁‖‖x₂‖)``;
  ``rep_in = 2 standard(G)`` (x₁ then x₂), ``rep_out = trivial(G)``, G = O(5).
- `Inertia`: ``z ~ N(0, I₂₀)``; masses ``m = softplus(z[:5])`` come first, then the positions
  ``r_i = z[5 + 3i : 8 + 3i]``; ``Y = Σ m_i (‖r_i‖² I − r_i r_iᵀ)`` flattened row-major to 9;
  ``rep_in = 5 trivial(G) + 5 standard(G)``, ``rep_out = standard(G) ⊗ standard(G)``, G = O(3).

Samples are raw ``(x [d_in], y [d_out])`` pairs (emlp standardises inside the model wrapper;
`stats` gives its statistics). The target functions `o5_target` / `inertia_target` are exposed
so that ``f(ρ_in(g) x) = ρ_out(g) f(x)`` can be checked directly.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from symml.data.dataset import SymmetricDataset
from symml.groups import O3, SO, Group, O
from symml.reps import Rep, standard, trivial

SPLITS = ("train", "val", "test")
DEFAULT_SIZES = {"train": 1000, "val": 1000, "test": 5000}
"""emlp's regression protocol: val 1,000 and test 5,000 (``experiments/data_efficiency.py``);
train 1,000 is ``train_regression.makeTrainer``'s default (ndata 3,000 minus val and test)."""

_BLOCK = 1024  # samples are drawn in seeded blocks, so size=n is a prefix of size=m > n
NUM_MASSES = 5


def o5_target(x: Tensor) -> Tensor:
    """``sin‖x₁‖ − ½‖x₂‖³ + x₁ᵀx₂ / (‖x₁‖‖x₂‖)`` for ``x = (x₁, x₂)``: ``[..., 10] → [..., 1]``."""
    x1, x2 = x[..., :5], x[..., 5:]
    n1, n2 = x1.norm(dim=-1), x2.norm(dim=-1)
    y = torch.sin(n1) - 0.5 * n2**3 + (x1 * x2).sum(-1) / (n1 * n2)
    return y[..., None]


def inertia_target(x: Tensor) -> Tensor:
    """Inertia tensor ``Σ m_i (‖r_i‖² I − r_i r_iᵀ)`` of ``x = (m₁..m₅, r₁..r₅)``:
    ``[..., 20] → [..., 9]`` (the 3×3 matrix flattened row-major)."""
    k = NUM_MASSES
    m = x[..., :k]
    r = x[..., k:].reshape(*x.shape[:-1], k, 3)
    eye = torch.eye(3, dtype=x.dtype, device=x.device)
    r2 = (r**2).sum(-1)[..., None, None]
    per_mass = r2 * eye - r[..., :, None] * r[..., None, :]
    return (m[..., None, None] * per_mass).sum(-3).reshape(*x.shape[:-1], 9)


def _o5_inputs(n: int, gen: torch.Generator) -> Tensor:
    return torch.randn(n, 10, generator=gen, dtype=torch.float64)


def _inertia_inputs(n: int, gen: torch.Generator) -> Tensor:
    x = torch.randn(n, 4 * NUM_MASSES, generator=gen, dtype=torch.float64)
    x[:, :NUM_MASSES] = F.softplus(x[:, :NUM_MASSES])  # emlp: log(1 + exp(z)), masses > 0
    return x


class _EMLPTask(SymmetricDataset):
    """One split of an EMLP regression task: inputs drawn in float64, stored in ``dtype``."""

    name: ClassVar[str]
    task_id: ClassVar[int]  # keeps the random streams of different tasks apart
    vector_dim: ClassVar[int]  # n of the standard rep the inputs are built from

    @staticmethod
    @abc.abstractmethod
    def target(x: Tensor) -> Tensor:
        """The task's target function on a batch of inputs ``[..., d_in] → [..., d_out]``."""

    @staticmethod
    @abc.abstractmethod
    def _inputs(n: int, gen: torch.Generator) -> Tensor:
        """``n`` inputs ``[n, d_in]`` in float64 from ``gen``."""

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        seed: int = 0,
        dtype: torch.dtype | str = torch.float32,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"{self.name}: unknown split {split!r}; expected one of {SPLITS}")
        if size is None:
            size = DEFAULT_SIZES[split]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"{self.name}: expected size to be a positive integer (got {size!r})")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"{self.name}: expected seed to be an integer (got {seed!r})")
        self.split, self.size, self.seed = split, size, seed
        self.dtype = _float_dtype(dtype, self.name)
        x = self._draw(size, seed, SPLITS.index(split))
        self.x = x.to(self.dtype)
        self.y = self.target(x).to(self.dtype)

    def _draw(self, size: int, seed: int, split_id: int) -> Tensor:
        blocks = []
        for block in range(math.ceil(size / _BLOCK)):
            key = hash((seed, self.task_id, split_id, block)) & 0x7FFF_FFFF_FFFF_FFFF
            blocks.append(self._inputs(_BLOCK, torch.Generator().manual_seed(key)))
        return torch.cat(blocks)[:size]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.x[index], self.y[index]

    def _standard(self, group: Group | None) -> tuple[Group, Rep]:
        group = self.group if group is None else group
        n = self.vector_dim
        # a group that acts on points without a linear standard rep translates them
        if group.point_dim is not None and group.standard_dim is None:
            raise ValueError(
                f"{self.name}.reps: the inputs are vectors about the origin and translations "
                f"change the target, so {group!r} is not a symmetry; use a point group such "
                f"as {O(n)!r}"
            )
        if group.standard_dim != n:
            raise ValueError(
                f"{self.name}.reps: expected a group with a {n}-dimensional standard "
                f"representation, such as {O(n)!r} or {SO(n)!r} (got {group!r})"
            )
        return group, standard(group)

    @abc.abstractmethod
    def reps(self, group: Group | None = None) -> tuple[Rep, Rep]:
        """``(input_rep, target_rep)`` for ``group`` (default: the task's)."""

    @abc.abstractmethod
    def stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """emlp's standardisation ``(x_mean, x_scale, y_mean, y_std)`` of this split, chosen so
        that standardising keeps the symmetry."""


class O5Synthetic(_EMLPTask):
    """EMLP's O(5)-invariant regression: ``y = sin‖x₁‖ − ½‖x₂‖³ + x₁ᵀx₂ / (‖x₁‖‖x₂‖)``.

    Invariance: ``f(g x₁, g x₂) = f(x₁, x₂)`` for g ∈ O(5) (and any subgroup, e.g. SO(5) or the
    coordinate permutations ``Permutations(5)``).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (independent random streams).
        size: number of samples (default: 1,000 / 1,000 / 5,000); a smaller size is a prefix
            of a larger one.
        seed: the random seed.
        dtype: dtype of the stored tensors (the data is generated in float64).

    Shapes:
        sample: ``(x [10], y [1])``.

    Example:
        >>> ds = O5Synthetic("train", size=4)
        >>> x, y = ds[0]
        >>> x.shape, y.shape, ds.group
        (torch.Size([10]), torch.Size([1]), Orthogonal(5))
    """

    name = "o5_synthetic"
    task_id = 5
    vector_dim = 5
    group = O(5)

    @staticmethod
    def target(x: Tensor) -> Tensor:
        return o5_target(x)

    @staticmethod
    def _inputs(n: int, gen: torch.Generator) -> Tensor:
        return _o5_inputs(n, gen)

    def reps(self, group: Group | None = None) -> tuple[Rep, Rep]:
        """``(standard(G) + standard(G), trivial(G))``."""
        group, vec = self._standard(group)
        return vec + vec, trivial(group)

    def stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(0, s, mean(y), std(y))`` with ``s`` the RMS of each input vector over the split
        (one scale for all 5 coordinates of x₁, one for x₂), as in emlp."""
        rms = self.x.reshape(-1, 2, 5).pow(2).mean((0, 2)).sqrt()
        return (
            torch.zeros(10, dtype=self.dtype),
            rms.repeat_interleave(5),
            self.y.mean(0),
            self.y.std(0),
        )


class Inertia(_EMLPTask):
    """EMLP's O(3)-equivariant task: the inertia tensor of 5 point masses.

    Equivariance: with masses fixed and positions ``r_i ↦ g r_i``, ``I ↦ g I gᵀ``, i.e. the
    flattened target transforms by ``standard(G) ⊗ standard(G)`` (row-major Kronecker).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (independent random streams).
        size: number of samples (default: 1,000 / 1,000 / 5,000); a smaller size is a prefix
            of a larger one.
        seed: the random seed.
        dtype: dtype of the stored tensors (the data is generated in float64).

    Shapes:
        sample: ``(x [20], y [9])`` with ``x = (m₁..m₅, r₁ [3], ..., r₅ [3])``.

    Example:
        >>> ds = Inertia("test", size=4)
        >>> [rep.dim for rep in ds.reps()]
        [20, 9]
    """

    name = "inertia"
    task_id = 3
    vector_dim = 3
    group = O3()

    @staticmethod
    def target(x: Tensor) -> Tensor:
        return inertia_target(x)

    @staticmethod
    def _inputs(n: int, gen: torch.Generator) -> Tensor:
        return _inertia_inputs(n, gen)

    def reps(self, group: Group | None = None) -> tuple[Rep, Rep]:
        """``(5 trivial(G) + 5 standard(G), standard(G) ⊗ standard(G))``."""
        group, vec = self._standard(group)
        return trivial(group) * NUM_MASSES + vec * NUM_MASSES, vec.tensor(vec)

    def stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(0, 1, 0, 1)``: emlp does not standardise this task."""
        zeros_x, zeros_y = torch.zeros(20, dtype=self.dtype), torch.zeros(9, dtype=self.dtype)
        return zeros_x, zeros_x + 1, zeros_y, zeros_y + 1


def _float_dtype(dtype: torch.dtype | str, name: str) -> torch.dtype:
    resolved = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(
            f"{name}: expected a floating dtype such as torch.float32 or 'float64' (got {dtype!r})"
        )
    return resolved


def build_o5_synthetic(
    split: str = "train",
    size: int | None = None,
    seed: int = 0,
    dtype: torch.dtype | str = torch.float32,
) -> O5Synthetic:
    """Registry builder for ``"o5_synthetic"`` (see `O5Synthetic`)."""
    return O5Synthetic(split, size=size, seed=seed, dtype=dtype)


def build_inertia(
    split: str = "train",
    size: int | None = None,
    seed: int = 0,
    dtype: torch.dtype | str = torch.float32,
) -> Inertia:
    """Registry builder for ``"inertia"`` (see `Inertia`)."""
    return Inertia(split, size=size, seed=seed, dtype=dtype)
