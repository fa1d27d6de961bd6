"""The eval-mode cache of an expanded filter bank, shared by the group and steerable convolutions.

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
from torch import Tensor, nn


class CachedFilterBank(nn.Module):
    """Base class: subclasses implement ``_expand() -> (bank, bias or None)``."""

    _bank: Tensor | None
    _bank_bias: Tensor | None

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
