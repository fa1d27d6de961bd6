"""Argument and input checks shared by the layers (`symml.nn`) and the models built on them.

Every check raises a one-line ValueError / TypeError of the form
``"<owner>: expected <what> (got <value>); <fix>"``, so a user's mistake names the argument it is
about instead of surfacing as a torch error deep inside ``forward``. Value checks on tensors
(NaN, inf) are skipped while ``torch.compile`` traces: a data-dependent branch would split the
graph.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from symml.reps import Rep


def check_positive(value: object, owner: str, argument: str, minimum: int = 1) -> int:
    """``value`` as an integer >= ``minimum`` (a bool is not an integer here), else a ValueError
    naming ``argument``.

    Example:
        >>> check_positive(0, "egnn", "layers")
        Traceback (most recent call last):
        ...
        ValueError: egnn: expected an integer layers >= 1 (got 0)
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: expected an integer {argument} >= {minimum} (got {value!r})")
    return value


def check_real(
    value: object, owner: str, argument: str, *, positive: bool = False, also: str = ""
) -> float:
    """``value`` as a finite real number (> 0 when ``positive``), else a ValueError naming
    ``argument`` (``also`` names further accepted values, e.g. ``" or None"``, for the message).

    Example:
        >>> check_real(0.0, "SchNetConv", "cutoff", positive=True)
        Traceback (most recent call last):
        ...
        ValueError: SchNetConv: expected a finite cutoff > 0 (got 0.0)
    """
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not real or not math.isfinite(value) or (positive and not value > 0):  # type: ignore[arg-type,operator]
        bound = " > 0" if positive else ""
        raise ValueError(f"{owner}: expected a finite {argument}{bound}{also} (got {value!r})")
    return float(value)  # type: ignore[arg-type]


def check_probability(value: object, owner: str, argument: str) -> float:
    """``value`` in ``[0, 1)`` (a dropout rate: 1 would drop everything), else a ValueError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0.0 <= value < 1.0:  # type: ignore[operator]
        raise ValueError(f"{owner}: expected {argument} in [0, 1) (got {value!r})")
    return float(value)  # type: ignore[arg-type]


def check_flag(value: object, owner: str, argument: str) -> bool:
    """``value`` if it is a bool, else a ValueError: a string such as ``"false"`` is truthy, so
    accepting it would silently turn the option on."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: expected {argument} as True or False (got {value!r})")
    return value


def check_choice(value: object, choices: tuple[str, ...], owner: str, argument: str) -> str:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{owner}: expected {argument} in {list(choices)} (got {value!r})")
    return str(value)


def check_rep(value: object, owner: str, argument: str = "rep") -> Rep:
    """``value`` if it is a symml `Rep`, else a TypeError naming ``argument``."""
    if not isinstance(value, Rep):
        raise TypeError(
            f"{owner}: expected {argument} to be a symml Rep, e.g. 2 * standard(O(3)) (got "
            f"{type(value).__name__} {value!r})"
        )
    return value


_CASTS = {
    torch.float64: ".double()",
    torch.float32: ".float()",
    torch.float16: ".half()",
    torch.bfloat16: ".bfloat16()",
}


def _cast(dtype: torch.dtype) -> str:
    return _CASTS.get(dtype, f".to({dtype})")


def reference_tensor(module: nn.Module) -> Tensor | None:
    """The first parameter (else buffer) of ``module``: where its weights live and in what dtype
    (None for a module without either)."""
    first = next(module.parameters(), None)
    return first if first is not None else next(module.buffers(), None)


def check_like(x: Tensor, like: Tensor | None, owner: str, what: str = "x") -> None:
    """``x`` has the dtype and device of ``like`` (the model's weights), else a one-line
    TypeError naming both and the fix. Under autocast a floating-point dtype mismatch is allowed
    (autocast casts inside the ops). Two attribute comparisons when they match."""
    if like is None or (x.dtype == like.dtype and x.device == like.device):
        return
    if x.device != like.device:
        # a meta tensor has no data: moving the model there is never the fix
        model = "" if x.device.type == "meta" else f" or the model with model.to('{x.device}')"
        raise TypeError(
            f"{owner}: expected {what} on the model's device {like.device} (got {what} on "
            f"{x.device}); move the input with {what}.to('{like.device}'){model}"
        )
    if x.is_floating_point() and torch.is_autocast_enabled(x.device.type):
        return
    raise TypeError(
        f"{owner}: expected {what} of the model's dtype {like.dtype} (got {x.dtype}); convert "
        f"the input with {what}{_cast(like.dtype)} or the model with model{_cast(x.dtype)}"
    )


def check_finite(x: Tensor, owner: str, what: str) -> None:
    """A ValueError naming ``what`` when ``x`` holds NaN or ±inf (eager mode only)."""
    if torch.compiler.is_compiling() or x.numel() == 0:
        return
    # a finite sum proves every entry finite (NaN and ±inf propagate), in one pass; only a
    # non-finite sum (a bad entry or an overflow) needs the exact test
    if bool(x.sum().isfinite()) or bool(torch.isfinite(x).all()):
        return
    raise ValueError(
        f"{owner}: expected finite {what} (got NaN or infinite values in {what}); clean the data "
        "or drop those samples"
    )
