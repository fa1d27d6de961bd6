"""How long a run trains, and whether it trained long enough.

`resolve_budget` turns a trainer's budget rule into numbers for one training-set size: a fair
comparison gives every model, at every size, the same number of optimizer steps (``budget.steps``)
instead of the same number of epochs, which would give a 100-sample run 100× fewer steps than a
10,000-sample one. `judge_convergence` reads a run's validation curve and says whether it was
still improving markedly when the budget ran out: an under-trained baseline is a false result, so
the report flags it instead of assuming convergence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import Field

from symml.training.config import TrainerConfig

# the tail of the budget whose improvement decides "still improving" (the last 20 % of steps)
_TAIL = 0.2
# below this many validation points a curve says too little to judge
_MIN_POINTS = 5
# a curve whose last this-many evaluations each improved on the one before is still falling
_FALLING = 3


_Count = Annotated[int, Field(ge=0)]


@dataclass(frozen=True)
class Budget:
    """One run's resolved budget (``result.json``'s ``budget``: the field constraints are
    checked when `symml.training.run_result.RunResult` reads a record).

    Attributes:
        rule: the rule in words, as the report states it (``"3,000 optimizer steps at every
            training size"``).
        epochs: passes over the training set (the last one may stop part-way).
        steps: optimizer steps planned.
        steps_per_epoch: batches per pass.
        eval_every: optimizer steps between validation evaluations (the last step is always
            evaluated).
    """

    rule: Annotated[str, Field(min_length=1)]
    epochs: _Count
    steps: _Count
    steps_per_epoch: _Count
    eval_every: Annotated[int, Field(ge=1)]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_budget(trainer: TrainerConfig, train_size: int, steps_per_epoch: int) -> Budget:
    """The budget of a run with ``train_size`` samples and ``steps_per_epoch`` batches per pass.

    Example:
        >>> from symml.training.config import TrainerConfig
        >>> trainer = TrainerConfig.model_validate({"budget": {"steps": 1000, "evaluations": 20}})
        >>> resolve_budget(trainer, 100, 2).epochs, resolve_budget(trainer, 10_000, 157).epochs
        (500, 7)
        >>> emlp = TrainerConfig.model_validate({"budget": {"samples": 900000, "max_epochs": 1000}})
        >>> resolve_budget(emlp, 30, 1).epochs, resolve_budget(emlp, 30_000, 60).epochs
        (1000, 30)
    """
    spe = max(1, steps_per_epoch)
    rule_budget = trainer.budget
    if rule_budget is None:
        epochs = trainer.epochs
        steps, rule = epochs * spe, f"{epochs:,} epochs"
    elif rule_budget.steps is not None:
        steps = rule_budget.steps
        epochs = math.ceil(steps / spe)
        rule = f"{steps:,} optimizer steps at every training size"
    elif rule_budget.epochs_by_size is not None:
        table = rule_budget.epochs_by_size
        if train_size not in table:
            raise ValueError(
                f"trainer.budget.epochs_by_size has no entry for training size {train_size:,} "
                f"(it lists {', '.join(f'{n:,}' for n in sorted(table))}); add one"
            )
        epochs = table[train_size]
        steps = epochs * spe
        rule = "epochs per training size: " + ", ".join(
            f"{n:,}: {e:,}" for n, e in sorted(table.items())
        )
    else:
        assert rule_budget.samples is not None  # BudgetConfig guarantees one rule
        cap = rule_budget.max_epochs or math.inf
        epochs = int(max(1, min(rule_budget.samples // max(train_size, 1), cap)))
        steps = epochs * spe
        rule = f"epochs = min({rule_budget.samples:,} / N, {cap:,})"
    if trainer.max_steps is not None and trainer.max_steps < steps:
        steps = trainer.max_steps
        epochs = math.ceil(steps / spe)
        rule += f", cut at {steps:,} steps (trainer.max_steps)"
    # without a budget rule, epochs are the unit: validate once per epoch
    eval_every = spe if rule_budget is None else max(1, steps // rule_budget.evaluations)
    return Budget(rule, epochs, steps, spe, min(eval_every, steps))


def judge_convergence(
    curve: Sequence[tuple[int, float]], steps: int, early_stopped: bool, tolerance: float
) -> tuple[bool | None, str]:
    """Whether a run's validation metric (lower is better) had stopped improving.

    A run is *not converged* when its best validation metric improved by more than
    ``tolerance`` (relative) during the last 20 % of its ``steps``, or when it fell at each of
    its last three evaluations and improved by more than ``tolerance / 5``: more steps would
    likely have lowered it further. A run that stopped early on patience has converged.

    Args:
        curve: ``(step, validation metric)`` pairs in step order.
        steps: optimizer steps the run took.
        early_stopped: whether early stopping ended the run.
        tolerance: relative improvement that counts as "still improving markedly".

    Returns:
        ``(converged, note)``: ``converged`` is None when the curve has fewer than 5 points;
        ``note`` is empty for a converged run and says why otherwise.

    Example:
        >>> converged, note = judge_convergence(
        ...     [(s, 1 / s) for s in range(100, 1100, 100)], 1000, False, 0.05
        ... )
        >>> converged, note[:45]
        (False, 'not converged: best at step 1,000 of 1,000 (v')
        >>> judge_convergence([(s, 1.0) for s in range(100, 1100, 100)], 1000, False, 0.05)
        (True, '')
    """
    if early_stopped:
        return True, ""
    if len(curve) < _MIN_POINTS:
        return None, f"convergence not judged: {len(curve)} validation points (need {_MIN_POINTS})"
    cutoff = (1 - _TAIL) * steps
    before = [value for step, value in curve if step <= cutoff]
    if not before:
        return None, "convergence not judged: no validation point before the last 20% of steps"
    best_before = min(before)
    best_step, best = min(curve, key=lambda point: (point[1], point[0]))
    gain = (best_before - best) / abs(best_before) if best_before else 0.0
    last = [value for _, value in curve[-_FALLING:]]
    # a curve that fell at each of its last evaluations is still improving even when the gain
    # is small; a fifth of the tolerance keeps float noise on a flat curve from counting
    still_falling = all(b < a for a, b in itertools.pairwise(last)) and gain > tolerance / 5
    if gain > tolerance or still_falling:
        return False, (
            f"not converged: best at step {best_step:,} of {steps:,} (validation improved "
            f"{gain:.1%} over the last 20% of the budget)"
        )
    return True, ""
