"""Matrix products through oneDNN where that is faster than the default BLAS.

For float32 on the CPU, ``torch.mm`` / ``F.linear`` call MKL, which runs its AVX2 kernels on AMD
CPUs; oneDNN's GEMM (the one behind ``torch.ops.mkldnn._linear_pointwise``, a private op of
torch's CPU build, used by Inductor) runs AVX-512 there and is about twice as fast at the shapes of
our layers: e.g. ``[195, 162] @ [162, 500]`` 154 µs → 78 µs, ``[500, 384] @ [384, 384]`` 706 µs
→ 340 µs. It takes its second operand ``w [n, k]`` row-major or column-major (a transposed view:
no copy), but other strides (a column slice) send it to a slow reference kernel, so those are
copied first. Its fixed cost per call (~10 µs) is only worth paying from about 10⁶
multiply-adds on. Everything else (other dtypes, GPUs, builds
without oneDNN, small products) takes the ordinary path, and the op is only used where no
autograd graph is recorded (inside hand-written backward passes).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_MIN_MACS = 1 << 20


def _use_onednn(x: Tensor, macs: int) -> bool:
    return _ONEDNN and macs >= _MIN_MACS and x.dtype == torch.float32 and x.device.type == "cpu"


def linear(x: Tensor, w: Tensor, b: Tensor | None = None, add: Tensor | None = None) -> Tensor:
    """``x @ wᵀ (+ b) (+ add)`` for ``x [m, k]``, ``w [n, k]``, ``b [n]``, ``add [m, n]``."""
    if _use_onednn(x, x.shape[0] * w.shape[0] * w.shape[1]):
        if not (w.is_contiguous() or w.t().is_contiguous()):
            w = w.contiguous()
        out: Tensor = torch.ops.mkldnn._linear_pointwise(x.contiguous(), w, b, "none", [], "")
        # (its fused "add" variant is slower than the separate add with two threads)
        return out if add is None else out.add_(add)
    if add is None:
        return F.linear(x, w, b)
    return torch.addmm(add, x, w.t()) if b is None else F.linear(x, w, b).add_(add)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for ``a [m, k]``, ``b [k, n]`` (``a`` is copied if strided: keep it small)."""
    return linear(a, b.t())


def addmm_(out: Tensor, a: Tensor, b: Tensor) -> None:
    """``out += a @ b`` in place (``out`` may be a view)."""
    if _use_onednn(a, a.shape[0] * a.shape[1] * b.shape[1]):
        out.add_(linear(a, b.t()))
    else:
        out.addmm_(a, b)
