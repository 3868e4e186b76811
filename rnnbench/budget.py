"""Fair comparison under a parameter budget (the Long Range Arena rule).

``--param-budget N`` sizes every model's width so that the whole task net (the task's
adapter and head included, because a wider core also widens them) has N trainable
parameters within ±10 %. The search relies on one property only: a wider model never
has fewer parameters, so the count is monotone in the width.

Importing this module stays cheap; the helpers that build nets import torch when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rnnbench.api import Model, Profile, Task, TaskData

DEFAULT_TOLERANCE = 0.10
MIN_WIDTH = 2  # some models split the width in half (a narrower second layer, a TCN's channels)
MAX_WIDTH = 1 << 16


class BudgetUnreachable(ValueError):
    """No width of a cell's model meets the budget: the cell's reason, one line."""


def fit_width(
    count_params: Callable[[int], int],
    budget: int,
    tolerance: float = DEFAULT_TOLERANCE,
    min_width: int = MIN_WIDTH,
    max_width: int = MAX_WIDTH,
) -> int:
    """The width whose parameter count ``count_params(width)`` is closest to ``budget``,
    provided it lies within ``±tolerance * budget``; ``ValueError`` (one line) otherwise.

    Exponential search for a width at or above the budget, then bisection: about
    2·log2(width) calls of ``count_params``.
    """
    if budget <= 0:
        raise ValueError(f"parameter budget must be positive, got {budget}")
    counts: dict[int, int] = {}

    def count(width: int) -> int:
        if width not in counts:
            counts[width] = int(count_params(width))
        return counts[width]

    low, high = min_width, min_width
    while count(high) < budget:
        if high >= max_width:
            raise ValueError(
                f"no width up to {max_width} reaches {budget:,} parameters (width {max_width} has {count(max_width):,})"
            )
        low, high = high, min(high * 2, max_width)
    # invariant: count(low) < budget <= count(high), unless high == min_width
    while high - low > 1:
        mid = (low + high) // 2
        if count(mid) < budget:
            low = mid
        else:
            high = mid
    best = min((low, high), key=lambda w: abs(count(w) - budget))
    if abs(count(best) - budget) <= tolerance * budget:
        return best
    if count(low) >= budget:
        raise ValueError(
            f"no width gives {budget:,} parameters within ±{tolerance:.0%}: even width {low} has {count(low):,}"
        )
    raise ValueError(
        f"no width gives {budget:,} parameters within ±{tolerance:.0%}: width {low} "
        f"has {count(low):,}, width {high} has {count(high):,}"
    )


def count_trainable(module) -> int:
    """Trainable parameters of a torch module (what the leaderboard shows)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def task_net_params(task: "Task", data: "TaskData", model: "Model", profile: "Profile") -> int:
    """Trainable parameters of the net ``task`` builds around ``model``'s core under
    ``profile``. The net is built on torch's meta device, which records shapes and
    allocates nothing, so a search may try wide nets cheaply; a build that computes with
    real tensors is retried on the CPU. The global random state is left as it was, so
    sizing a cell does not change how it is later initialised."""
    import torch

    with torch.random.fork_rng(devices=[]):
        try:
            with torch.device("meta"):
                net = task.build(data, model, profile)
        except Exception:
            net = task.build(data, model, profile)
        return count_trainable(net)


def fit_profile(
    task: "Task",
    data: "TaskData",
    model: "Model",
    profile: "Profile",
    budget: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> "Profile":
    """``profile`` with its ``hidden_size`` chosen so that the task net of ``model`` has
    ``budget`` parameters within ``±tolerance``; BudgetUnreachable naming the cell if impossible."""

    def count(width: int) -> int:
        return task_net_params(task, data, model, profile.replace(hidden_size=width))

    try:
        width = fit_width(count, budget, tolerance)
    except ValueError as exc:
        raise BudgetUnreachable(f"--param-budget {budget}: {model.name} on {task.name}: {exc}") from None
    return profile.replace(hidden_size=width)
