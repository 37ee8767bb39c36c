"""Learning-rate schedules as closed-form factors of the step number.

The learning rate of step ``s`` is ``base_lr * factor(s) * plateau_scale``. Computing
it afresh every step (rather than chaining torch schedulers) keeps the state a few
numbers — easy to checkpoint as JSON — and lets a paused run change ``base_lr``
without the schedule losing its place.

Only the standard library is imported: an exported training script carries this file
verbatim (core/export/schedule_source.py), so it sets the learning rate the app sets at
every step. The parameter schemas and titles live in schedules.py, the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

FactorFn = Callable[[int, int, int, dict[str, Any]], float]  # (step, per_epoch, total, params)


def _epoch(step: int, per_epoch: int) -> int:
    return step // max(per_epoch, 1)


def constant(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    return 1.0


def step_decay(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    return p["gamma"] ** (_epoch(step, per_epoch) // p["step_size"])


def multistep(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    epoch = _epoch(step, per_epoch)
    return p["gamma"] ** sum(1 for m in p["milestones"] if epoch >= m)


def exponential(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    return p["gamma"] ** _epoch(step, per_epoch)


def cosine(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    warm = int(round(p["warmup_epochs"] * per_epoch))
    if step < warm:
        return (step + 1) / warm
    span = max(total - warm, 1)
    progress = min((step - warm) / span, 1.0)
    low = p["min_lr_ratio"]
    return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


def one_cycle(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    start = 1.0 / p["div_factor"]
    end = start / p["final_div_factor"]
    up = max(float(p["pct_start"] * total) - 1.0, 1.0)
    down = max(float(total - 1) - up, 1.0)

    def anneal(a: float, b: float, t: float) -> float:
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))
    if step <= up:
        return anneal(start, 1.0, step / up)
    return anneal(1.0, end, (step - up) / down)


# key -> (factor, when it changes: "step", "epoch" (at epoch boundaries) or "plateau")
RULES: dict[str, tuple[FactorFn, str]] = {
    "constant": (constant, "step"),
    "step": (step_decay, "epoch"),
    "multistep": (multistep, "epoch"),
    "exponential": (exponential, "epoch"),
    "cosine": (cosine, "step"),
    "one_cycle": (one_cycle, "step"),
    "reduce_on_plateau": (constant, "plateau"),  # the plateau scale does the work
}


class Schedule:
    """The learning rate for each step, with JSON-friendly state."""

    def __init__(self, key: str, params: dict[str, Any], *, base_lr: float, steps_per_epoch: int,
                 total_steps: int) -> None:
        self.key = key
        self.factor, self.per = RULES[key]
        self.params = dict(params)
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(total_steps)
        self.scale = 1.0          # reduce-on-plateau's accumulated reductions
        self.best: float | None = None
        self.bad_epochs = 0

    def lr(self, step: int) -> float:
        f = self.factor(step, self.steps_per_epoch, self.total_steps, self.params)
        lr = self.base_lr * f * self.scale
        if self.per == "plateau":
            lr = max(lr, float(self.params["min_lr"]))
        return lr

    def on_validation(self, value: float) -> bool:
        """Feed the epoch's monitored loss; True when the learning rate was reduced."""
        if self.per != "plateau" or not math.isfinite(value):
            return False
        if self.best is None or value < self.best * (1.0 - self.params["threshold"]):
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs > self.params["patience"]:
            self.scale *= self.params["factor"]
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params), "base_lr": self.base_lr,
                "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = float(state["base_lr"])
        self.scale = float(state["scale"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
