"""What every hand-written autograd Function here shares: named saved tensors, and double
backward by differentiating the layer's reference forward."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import torch
from torch import Tensor

Saved = TypeVar("Saved", bound=NamedTuple)


def save(ctx: Any, saved: NamedTuple) -> None:
    """``ctx.save_for_backward`` of a NamedTuple whose fields are tuples of tensors (or None), so
    that the backward reads them back by name (`load`), not by position in one flat list."""
    ctx.saved_type = type(saved)
    ctx.saved_lengths = tuple(len(group) for group in saved)
    ctx.save_for_backward(*(t for group in saved for t in group))


def load(ctx: Any, kind: type[Saved]) -> Saved:
    """The NamedTuple ``kind`` that `save` stored on ``ctx``."""
    if ctx.saved_type is not kind:
        raise TypeError(f"load: expected saved {kind.__name__} (got {ctx.saved_type.__name__})")
    flat = iter(ctx.saved_tensors)
    return kind._make(tuple(next(flat) for _ in range(n)) for n in ctx.saved_lengths)


def replay_backward(
    reference: Callable[..., Tensor | tuple[Tensor, ...]],
    inputs: Sequence[Tensor | None],
    grads: Sequence[Tensor],
    needs: Sequence[bool],
) -> tuple[Tensor | None, ...]:
    """Gradients of ``reference(*inputs)`` against ``grads`` for the inputs ``needs`` names,
    recorded so that they can be differentiated again (``create_graph=True``).

    A kernel's own backward is written out for speed and is not itself differentiable; when
    autograd asks for a differentiable backward, the kernel replays its reference forward instead.
    Inputs that need a gradient but do not reach the output get zeros.
    """
    with torch.enable_grad():
        out = reference(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        # outputs that no input reaches (e.g. an empty one) take no gradient
        pairs = [(o, g) for o, g in zip(outs, grads, strict=True) if o.requires_grad]
        wanted = [t for t, need in zip(inputs, needs, strict=True) if need and t is not None]
        found = iter(
            torch.autograd.grad(
                [o for o, _ in pairs],
                wanted,
                [g for _, g in pairs],
                create_graph=True,
                allow_unused=True,
            )
        )
    result: list[Tensor | None] = []
    for t, need in zip(inputs, needs, strict=True):
        if not need or t is None:
            result.append(None)
            continue
        g = next(found)
        result.append(torch.zeros_like(t) if g is None else g)
    return tuple(result)
