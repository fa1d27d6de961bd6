"""Batch normalisation of image fields, per field and shared over the group."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symml.nn._checks import check_real
from symml.nn.cnn._fields import check_images, fibre_of, invariant_basis, runs
from symml.reps import GridRep, Rep


class EquivariantBatchNorm(nn.Module):
    """Batch norm per field: one mean along the field's invariant directions, one variance.

    For a field with orthogonal rep ρ (dim d) and invariant subspace spanned by the orthonormal
    columns of U (``P = UUᵀ``), over batch and pixels::

        m = P·E[f],  σ² = E|f - m|² / d,  out = γ (f - m) / √(σ² + ε) + U β

    ``m``, ``σ²``, ``|·|`` and ``Uβ`` are unchanged by ρ(g), so the layer is equivariant (in
    training too, when the batch is transformed as a whole). For a regular field P averages its
    |G| channels: this is escnn's InnerBatchNorm (statistics shared over the group); for trivial
    fields it is `torch.nn.BatchNorm2d`; fields without invariant part are only rescaled.
    Running statistics follow `torch.nn.BatchNorm2d` (``momentum``, unbiased running variance).

    Args:
        rep: the fibre (a `Rep` or `GridRep`); its summands are the fields.
        eps: added to the variance.
        momentum: weight of the batch in the running statistics.
        affine: learn γ (per field) and β (per invariant direction).

    Shapes: ``[B, rep.dim, H, W] -> [B, rep.dim, H, W]``.

    Example:
        >>> import torch
        >>> from symml.groups import Cyclic
        >>> from symml.reps import regular
        >>> bn = EquivariantBatchNorm(10 * regular(Cyclic(4)))
        >>> sum(p.numel() for p in bn.parameters())  # γ and β per field
        20
        >>> bn(torch.randn(8, 40, 5, 5)).shape
        torch.Size([8, 40, 5, 5])
    """

    running_mean: Tensor
    running_var: Tensor
    num_batches_tracked: Tensor

    def __init__(
        self,
        rep: Rep | GridRep,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        fibre = fibre_of(rep, type(self).__name__)
        self.group = fibre.group
        self.rep_in = self.rep_out = GridRep(fibre)
        owner = type(self).__name__
        self.eps = check_real(eps, owner, "eps", positive=True)
        self.momentum = check_real(momentum, owner, "momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"{owner}: expected momentum in [0, 1] (got {momentum!r})")
        self.affine = affine
        # per run of equal fields: (field dim, copies, first channel, first field, first β)
        self._runs: list[tuple[int, int, int, int, int]] = []
        n_fields = n_invariant = 0
        for r, (field, copies, start) in enumerate(runs(fibre)):
            basis = invariant_basis(field)
            self.register_buffer(
                f"invariant_{r}", basis.to(torch.get_default_dtype()), persistent=False
            )
            self._runs.append((field.dim, copies, start, n_fields, n_invariant))
            n_fields += copies
            n_invariant += copies * basis.shape[1]
        self.num_fields = n_fields
        self.weight = nn.Parameter(torch.ones(n_fields)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_invariant)) if affine and n_invariant else None
        self.register_buffer("running_mean", torch.zeros(fibre.dim))
        self.register_buffer("running_var", torch.ones(n_fields))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def _invariant(self, r: int, like: Tensor) -> Tensor:
        basis: Tensor = getattr(self, f"invariant_{r}")
        return basis.to(like.dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.rep_in.channels, type(self).__name__)
        if self.training:
            self.num_batches_tracked.add_(1)
        outs = []
        for r, (dim, copies, start, first, first_beta) in enumerate(self._runs):
            u = self._invariant(r, x)  # [d, t]
            block = x[:, start : start + dim * copies].unflatten(1, (copies, dim))
            if self.training:
                mean = block.mean((0, 3, 4))  # [copies, d]
                mean = mean @ u @ u.T
                centered = block - mean[None, :, :, None, None]
                var = centered.pow(2).mean((0, 2, 3, 4))  # [copies]
                self._update(mean, var, block.numel() // copies, start, first)
            else:
                mean = self.running_mean[start : start + dim * copies].view(copies, dim)
                centered = block - mean[None, :, :, None, None].to(x.dtype)
                var = self.running_var[first : first + copies].to(x.dtype)
            scale = torch.rsqrt(var + self.eps)
            if self.weight is not None:
                scale = scale * self.weight[first : first + copies]
            out = centered * scale[None, :, None, None, None]
            t = u.shape[1]
            if self.bias is not None and t:
                beta = self.bias[first_beta : first_beta + copies * t].view(copies, t)
                out = out + (beta @ u.T)[None, :, :, None, None]
            outs.append(out.flatten(1, 2))
        return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    def reset_running_stats(self) -> None:
        """Running means to 0, running variances to 1, the batch count to 0 (as
        `torch.nn.BatchNorm2d`): the start of a re-estimation pass."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def _update(self, mean: Tensor, var: Tensor, count: int, start: int, first: int) -> None:
        with torch.no_grad():
            unbiased = var * (count / max(count - 1, 1))
            stop = start + mean.numel()
            rm = self.running_mean[start:stop]
            rm.lerp_(mean.reshape(-1).to(rm.dtype), self.momentum)
            rv = self.running_var[first : first + var.numel()]
            rv.lerp_(unbiased.to(rv.dtype), self.momentum)

    def _per_channel(self) -> tuple[Tensor, Tensor, Tensor]:
        """Running variance, γ and shift broadcast to channels (for export)."""
        var, gamma, shift = [], [], []
        for r, (dim, copies, _, first, first_beta) in enumerate(self._runs):
            u = self._invariant(r, self.running_var)
            var.append(self.running_var[first : first + copies].repeat_interleave(dim))
            g = self.weight[first : first + copies] if self.weight is not None else None
            gamma.append(torch.ones_like(var[-1]) if g is None else g.repeat_interleave(dim))
            t = u.shape[1]
            if self.bias is not None and t:
                beta = self.bias[first_beta : first_beta + copies * t].view(copies, t)
                shift.append((beta @ u.T).reshape(-1))
            else:
                shift.append(torch.zeros_like(var[-1]))
        return torch.cat(var), torch.cat(gamma), torch.cat(shift)

    def export(self) -> nn.BatchNorm2d:
        """`torch.nn.BatchNorm2d` (eval mode) with the running statistics spread to channels."""
        channels = self.rep_in.channels
        bn = nn.BatchNorm2d(
            channels, eps=self.eps, device=self.running_mean.device, dtype=self.running_mean.dtype
        )
        var, gamma, shift = self._per_channel()
        state = {
            "weight": gamma,
            "bias": shift,
            "running_mean": self.running_mean,
            "running_var": var,
            "num_batches_tracked": self.num_batches_tracked,
        }
        bn.load_state_dict({k: v.detach() for k, v in state.items()})
        return bn.eval()

    def extra_repr(self) -> str:
        return f"{self.rep_in.fibre}, eps={self.eps}, momentum={self.momentum}"
