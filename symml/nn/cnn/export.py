"""Export: a module made only of plain PyTorch layers that computes the same function.

Equivariant layers keep their free parameters and rebuild expanded filters; for inference, for
``torch.jit.trace`` and for ONNX, `export` replaces each of them by what it computes: group and
steerable convolutions by `torch.nn.Conv2d` with the expanded bank, batch norm by
`torch.nn.BatchNorm2d` with per-channel statistics, pooling by torch pooling layers. The few maps
no torch layer computes (norm and gated nonlinearities) become a `torch.fx.GraphModule` of torch
operations. The exported module is in eval mode (batch norm uses its running statistics).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def export(module: nn.Module) -> nn.Module:
    """Plain-PyTorch copy of ``module`` computing the same function (in eval mode).

    Modules with an ``export()`` method are replaced by its result, `torch.nn.Sequential`
    containers (`symml.nn.EquivariantSequential` too) are exported element by element into a
    `torch.nn.Sequential`, and other plain torch modules are copied.

    Raises:
        TypeError: a module that is neither plain torch nor exportable.

    Example:
        >>> import torch
        >>> from symml.nn.cnn import GroupConv2d, is_plain
        >>> layer = torch.nn.Sequential(GroupConv2d("p4", 4, 8, 3), torch.nn.ReLU())
        >>> plain = export(layer)
        >>> is_plain(plain), plain[0].weight.shape
        (True, torch.Size([8, 4, 3, 3]))
    """
    method = getattr(module, "export", None)
    if callable(method):
        out = method()
    elif isinstance(module, nn.Sequential):
        out = nn.Sequential(*(export(m) for m in module))
    elif is_plain(module):
        out = copy.deepcopy(module)
    else:
        raise TypeError(
            f"export: {type(module).__name__} has no export() method and is not a plain torch "
            "module; give it an export() returning plain torch layers"
        )
    return out.eval()


def is_plain(module: nn.Module) -> bool:
    """Whether ``module`` and all its submodules are classes of PyTorch itself."""
    return all(type(m).__module__.startswith("torch.") for m in module.modules())


def traced(module: nn.Module) -> torch.fx.GraphModule:
    """Trace a module written with torch operations only into a `torch.fx.GraphModule` (its
    buffers stay buffers, so ``.to()`` moves them)."""
    tracer = torch.fx.Tracer()
    tracer.proxy_buffer_attributes = True
    graph = tracer.trace(module)
    return torch.fx.GraphModule(module, graph, class_name="Exported")
