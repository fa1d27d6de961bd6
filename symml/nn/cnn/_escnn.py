"""escnn's steerable kernel bases, sampled once per (group, field pair, kernel size, dilation).

escnn (the ``steerable`` extra) is imported here only, when a steerable layer is first built.
symml reuses escnn's R2Conv basis (so a symml layer and an escnn ``R2Conv`` with the same weights
compute the same function) but not its module: building an R2Conv for a whole layer allocates
its full filter and initialises the weights with a Python loop over every coefficient. Instead,
each distinct pair of fields is sampled once through a one-field R2Conv, and the layer is
assembled from these blocks: the weight layout is escnn's (pairs sorted by representation name,
then ``[out fields, in fields, basis]``), and the He initialisation below draws the same numbers
as ``escnn.nn.init.generalized_he_init`` from the same random state, without the loop.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from symml.groups import Group
from symml.groups.counterparts import EscnnCounterpart
from symml.nn.cnn import _escnn_cg
from symml.nn.cnn._fields import fields
from symml.reps import Irrep, Quotient, Rep, regular, to_escnn

MAXIMUM_FREQUENCY = 6  # escnn's default band limit for the harmonics of SO(2)/O(2) gspaces


def import_escnn(owner: str) -> Any:
    """``escnn.nn`` (importing escnn), or an ImportError naming the extra that provides it."""
    try:
        enn = importlib.import_module("escnn.nn")
    except ImportError as err:
        raise ImportError(
            f"{owner} needs escnn, an optional extra: pip install 'symml[steerable]' (its "
            "dependency py3nj needs a Fortran compiler, e.g. apt-get install gfortran)"
        ) from err
    return enn


@functools.cache
def gspace(group: Group) -> Any:
    """The escnn gspace of ``group`` acting on the plane with symml's conventions.

    symml's reflection is ``(x, y) ↦ (x, -y)``, a flip about the horizontal axis: escnn's
    ``flipRot2dOnR2`` takes that axis as ``axis=0`` (its default is the vertical axis, π/2).
    """
    import_escnn("SteerableConv2d")
    gspaces = importlib.import_module("escnn.gspaces")
    if not isinstance(group, EscnnCounterpart):
        raise ValueError(
            f"SteerableConv2d: escnn supports Cyclic(N), Dihedral(N), SO2() and O2() on the plane "
            f"(got {group!r})"
        )
    # the group as escnn's subgroup (axis, N) of O(2): what rot2dOnR2 / flipRot2dOnR2 build
    o2_subgroup = group.escnn_group_id(MAXIMUM_FREQUENCY).o2_subgroup
    return gspaces.GSpace2D(o2_subgroup, maximum_frequency=MAXIMUM_FREQUENCY)


@functools.cache
def escnn_rep(field: Rep) -> Any:
    """The escnn representation of one field. Regular reps and irreps map to escnn's own (their
    matrices are symml's, so a hand-written escnn model with ``gspace.regular_repr`` or
    ``gspace.irrep(...)`` has the same field types); other reps go through `to_escnn`."""
    group = gspace(field.group).fibergroup
    if isinstance(field, Quotient) and field == regular(field.group):
        return group.regular_representation
    if isinstance(field, Irrep):
        key = field.key
        return group.irrep(*(key if isinstance(key, tuple) else (key,)))
    return to_escnn(field)


def field_type(rep: Rep) -> Any:
    """The escnn ``FieldType`` of a symml fibre (one escnn field per summand)."""
    enn = import_escnn("SteerableConv2d")
    return enn.FieldType(gspace(rep.group), [escnn_rep(f) for f in fields(rep)])


@dataclass(frozen=True)
class PairBasis:
    """escnn's sampled basis for one (input field, output field) pair.

    Attributes:
        sampled: ``[D, d_out, d_in, k*k]`` float32, escnn's ``sampled_basis``.
        in_irreps: per basis element, the input irrep id (escnn's ``in_irrep``).
        out_irrep_idx: per basis element, the position of its irrep in the output field.
    """

    sampled: Tensor
    in_irreps: tuple[Any, ...]
    out_irrep_idx: tuple[int, ...]

    @property
    def dimension(self) -> int:
        return int(self.sampled.shape[0])


@functools.cache
def pair_basis(field_in: Rep, field_out: Rep, kernel_size: int, dilation: int) -> PairBasis | None:
    """The sampled kernel basis between two fields (None when no equivariant kernel exists)."""
    enn = import_escnn("SteerableConv2d")
    one_in = enn.FieldType(gspace(field_in.group), [escnn_rep(field_in)])
    one_out = enn.FieldType(gspace(field_out.group), [escnn_rep(field_out)])
    # symml's Clebsch–Gordan solver stands in for escnn's while the basis is solved (_escnn_cg)
    with _escnn_cg.solvers():
        try:
            # escnn prints a warning before raising for an empty basis: the raise is what we use
            with contextlib.redirect_stdout(io.StringIO()), _one_thread():
                conv = enn.R2Conv(
                    one_in, one_out, kernel_size, dilation=dilation, bias=False, initialize=False
                )
        except ValueError:  # "The basis for the steerable filter is empty!"
            return None
        expansion = conv.basisexpansion
        (names,) = expansion._representations_pairs
        block = getattr(expansion, f"block_expansion_{expansion._escape_pair(names)}")
        info = list(block.get_basis_info())
    return PairBasis(
        sampled=block.sampled_basis.detach().clone(),
        in_irreps=tuple(a["in_irrep"] for a in info),
        out_irrep_idx=tuple(int(a["out_irrep_idx"]) for a in info),
    )


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run escnn's one-time basis sampling on one intra-op thread, restoring the setting after.

    The sampling is ~100 einsums on tensors of a few kB: a second OpenMP thread cannot speed them
    up, and on a busy machine each one waits for it to be scheduled (measured on 2 cores: 0.3 s
    instead of 0.05 s for a C16 layer's basis, which made model construction bimodal).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Block:
    """One (input field type, output field type) block of a layer's weights."""

    basis: PairBasis
    field_in: Rep
    field_out: Rep
    in_channels: Tensor  # channel indices of every input field of this type, field-major
    out_channels: Tensor
    n_in: int
    n_out: int
    start: int  # first weight of this block
    std: Tensor  # [D]: He standard deviation of each basis element

    @property
    def size(self) -> int:
        return self.n_out * self.n_in * self.basis.dimension


def layer_blocks(rep_in: Rep, rep_out: Rep, kernel_size: int, dilation: int) -> list[Block]:
    """The weight blocks of a steerable layer, in escnn's order."""
    return list(_layer_blocks(rep_in, rep_out, kernel_size, dilation))


@functools.cache
def _layer_blocks(rep_in: Rep, rep_out: Rep, kernel_size: int, dilation: int) -> tuple[Block, ...]:
    ins, outs = _positions(rep_in), _positions(rep_out)
    pairs = {}
    for f_in in ins:
        for f_out in outs:
            basis = pair_basis(f_in, f_out, kernel_size, dilation)
            if basis is not None:
                pairs[(escnn_rep(f_in).name, escnn_rep(f_out).name)] = (f_in, f_out, basis)
    stds = _he_stds(pairs.values(), {f: len(c) for f, c in ins.items()})
    blocks, start = [], 0
    for key in sorted(pairs):  # escnn's order: sorted (input name, output name)
        f_in, f_out, basis = pairs[key]
        block = Block(
            basis,
            f_in,
            f_out,
            _channels(ins[f_in], f_in.dim),
            _channels(outs[f_out], f_out.dim),
            len(ins[f_in]),
            len(outs[f_out]),
            start,
            stds[(f_in, f_out)],
        )
        blocks.append(block)
        start += block.size
    return tuple(blocks)


def _positions(rep: Rep) -> dict[Rep, list[int]]:
    """First channel of every field, grouped by field type (in order of appearance)."""
    out: dict[Rep, list[int]] = defaultdict(list)
    start = 0
    for f in fields(rep):
        out[f].append(start)
        start += f.dim
    return dict(out)


def _channels(starts: list[int], dim: int) -> Tensor:
    return (torch.tensor(starts)[:, None] + torch.arange(dim)[None]).reshape(-1)


def _he_stds(pairs: Any, in_counts: dict[Rep, int]) -> dict[tuple[Rep, Rep], Tensor]:
    """escnn's generalised He scale ``1/√(#input irrep types × #basis elements of that input irrep
    type)`` per output irrep, counted per field type instead of per coefficient: every field of
    a type sees the same counts, so the scale depends only on the basis element."""
    counts: dict[Rep, Counter[tuple[Any, int]]] = defaultdict(Counter)
    for f_in, f_out, basis in pairs:
        for irrep, j in zip(basis.in_irreps, basis.out_irrep_idx, strict=True):
            counts[f_out][(irrep, j)] += in_counts[f_in]
    inputs: dict[Rep, Counter[int]] = {f: Counter(j for _, j in c) for f, c in counts.items()}
    stds = {}
    for f_in, f_out, basis in pairs:
        values = [
            1.0 / math.sqrt(inputs[f_out][j] * counts[f_out][(irrep, j)])
            for irrep, j in zip(basis.in_irreps, basis.out_irrep_idx, strict=True)
        ]
        stds[(f_in, f_out)] = torch.tensor(values)
    return stds


@functools.cache
def bias_basis(rep_out: Rep) -> Tensor | None:
    """``[C_out, T]`` float64: how the T learned biases (one per trivial irrep) enter the output,
    as escnn's ``bias_expansion`` (None when the output has no trivial irrep)."""
    group = escnn_rep(fields(rep_out)[0]).group
    columns, start = [], 0
    for f in fields(rep_out):
        r = escnn_rep(f)
        q = torch.as_tensor(r.change_of_basis, dtype=torch.float64)
        pos = 0
        for irrep_id in r.irreps:
            irrep = group.irrep(*irrep_id)
            if irrep.is_trivial():
                col = torch.zeros(rep_out.dim, dtype=torch.float64)
                col[start : start + f.dim] = q[:, pos]
                columns.append(col)
            pos += irrep.size
        start += f.dim
    return torch.stack(columns, 1) if columns else None
