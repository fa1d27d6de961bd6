"""Convolutions with an expanded filter bank (group and steerable): one ``conv2d`` in ``forward``,
a plain ``nn.Conv2d`` from ``export``, and the eval-mode cache of the bank.

In training the bank is rebuilt from the free parameters on every call (that is where the gradient
flows). When no gradient can reach the parameters (eval mode, and either ``torch.no_grad()`` or
parameters that do not require grad) the bank is built once and kept in non-persistent buffers,
so ``state_dict`` keys never depend on the mode. The cache is keyed by the storage and version
counter of each parameter, so an in-place update (an optimiser step, ``load_state_dict``,
``.to()``) rebuilds it, and ``train()`` / ``eval()`` drop it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symml.nn.cnn._fields import check_images


class CachedFilterBank(nn.Module):
    """Base class: subclasses set the conv2d geometry below and implement
    ``_expand() -> (bank, bias or None)``."""

    _bank: Tensor | None
    _bank_bias: Tensor | None
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    padding_mode: str

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_bank", None, persistent=False)
        self.register_buffer("_bank_bias", None, persistent=False)
        self._bank_key: tuple[Any, ...] | None = None

    def _expand(self) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def filter_bank(self) -> tuple[Tensor, Tensor | None]:
        """The conv2d weight ``[C_out, C_in, k, k]`` and bias ``[C_out]`` (or None) this layer
        applies (cached in eval mode when no gradient can reach the parameters)."""
        params = list(self.parameters(recurse=False))
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        if self.training or needs_grad or torch.compiler.is_compiling():
            return self._expand()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        if self._bank is None or key != self._bank_key:
            bank, bias = self._expand()
            self._bank, self._bank_bias, self._bank_key = bank, bias, key
        assert self._bank is not None  # set just above
        return self._bank, self._bank_bias

    def train(self, mode: bool = True) -> CachedFilterBank:
        self._bank, self._bank_bias, self._bank_key = None, None, None
        return super().train(mode)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, H, W] -> [B, C_out, H', W']`` with ``H' = ⌊(H + 2p - d(k-1) - 1)/s⌋ + 1``."""
        check_images(x, self.in_channels, type(self).__name__)
        weight, bias = self.filter_bank()
        padding = self.padding
        if self.padding_mode == "circular" and padding:
            x = F.pad(x, (padding,) * 4, mode="circular")
            padding = 0
        return F.conv2d(x, weight, bias, self.stride, padding, self.dilation)

    def export(self) -> nn.Conv2d:
        """A plain `torch.nn.Conv2d` holding the expanded filter bank (same function)."""
        with torch.no_grad():
            weight, bias = self._expand()
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=bias is not None,
            padding_mode=self.padding_mode,  # type: ignore[arg-type]  # checked in __init__
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(weight)
            if bias is not None and conv.bias is not None:
                conv.bias.copy_(bias)
        return conv
