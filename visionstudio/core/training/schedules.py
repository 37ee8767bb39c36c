"""Learning-rate schedules as closed-form factors of the step number.

The learning rate of step ``s`` is ``base_lr * factor(s) * plateau_scale``. Computing
it afresh every step (rather than chaining torch schedulers) keeps the state a few
numbers — easy to checkpoint as JSON — and lets a paused run change ``base_lr``
without the schedule losing its place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from visionstudio.core.params import ParamSpec
from visionstudio.core.registry import Registry

FactorFn = Callable[[int, int, int, dict[str, Any]], float]  # (step, per_epoch, total, params)


@dataclass(frozen=True)
class SchedulerSpec:
    key: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    factor: FactorFn
    per: str = "step"  # "step", "epoch" (changes at epoch boundaries) or "plateau"

    def factory(self, params: dict[str, Any], *, base_lr: float, steps_per_epoch: int,
                total_steps: int) -> Schedule:
        return Schedule(self.key, params, base_lr=base_lr, steps_per_epoch=steps_per_epoch,
                        total_steps=total_steps)


SCHEDULERS: Registry[SchedulerSpec] = Registry("learning-rate schedule")

_GAMMA = ParamSpec("gamma", "float", 0.1, minimum=0.0, maximum=1.0,
                   help="Multiply the learning rate by this at each decay.")


def _epoch(step: int, per_epoch: int) -> int:
    return step // max(per_epoch, 1)


def _cosine(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    warm = int(round(p["warmup_epochs"] * per_epoch))
    if step < warm:
        return (step + 1) / warm
    span = max(total - warm, 1)
    progress = min((step - warm) / span, 1.0)
    low = p["min_lr_ratio"]
    return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _one_cycle(step: int, per_epoch: int, total: int, p: dict[str, Any]) -> float:
    start = 1.0 / p["div_factor"]
    end = start / p["final_div_factor"]
    up = max(float(p["pct_start"] * total) - 1.0, 1.0)
    down = max(float(total - 1) - up, 1.0)

    def anneal(a: float, b: float, t: float) -> float:
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))
    if step <= up:
        return anneal(start, 1.0, step / up)
    return anneal(1.0, end, (step - up) / down)


def _register(spec: SchedulerSpec, aliases: tuple[str, ...] = ()) -> None:
    SCHEDULERS.register(spec.key, spec, category="Schedule", aliases=aliases)


_register(SchedulerSpec("constant", "Constant", "The same learning rate throughout.", (),
                        lambda s, e, t, p: 1.0), aliases=("none",))
_register(SchedulerSpec(
    "step", "Step decay", "Multiply by gamma every N epochs.",
    (ParamSpec("step_size", "int", 10, title="step size", minimum=1, maximum=100_000,
               help="Epochs between decays."), _GAMMA),
    lambda s, e, t, p: p["gamma"] ** (_epoch(s, e) // p["step_size"]), per="epoch",
))
_register(SchedulerSpec(
    "multistep", "Multi-step decay", "Multiply by gamma at each listed epoch.",
    (ParamSpec("milestones", "int_list", [30, 60], minimum=1, maximum=100_000,
               help="Epochs at which the learning rate drops."), _GAMMA),
    lambda s, e, t, p: p["gamma"] ** sum(1 for m in p["milestones"] if _epoch(s, e) >= m),
    per="epoch",
))
_register(SchedulerSpec(
    "exponential", "Exponential decay", "Multiply by gamma after every epoch.",
    (ParamSpec("gamma", "float", 0.95, minimum=0.0, maximum=1.0,
               help="Factor applied after every epoch."),),
    lambda s, e, t, p: p["gamma"] ** _epoch(s, e), per="epoch",
))
_register(SchedulerSpec(
    "cosine", "Cosine with warm-up",
    "Linear warm-up, then a half cosine down to a fraction of the learning rate; per step.",
    (ParamSpec("warmup_epochs", "float", 0.0, title="warm-up epochs", minimum=0.0, maximum=1000.0,
               help="Epochs of linear warm-up from zero (fractions allowed)."),
     ParamSpec("min_lr_ratio", "float", 0.0, title="final fraction", minimum=0.0, maximum=1.0,
               help="Final learning rate as a fraction of the initial one.")),
    _cosine,
), aliases=("cosine_warmup",))
_register(SchedulerSpec(
    "one_cycle", "One-cycle",
    "Rise to the learning rate (the peak) then anneal far below it; per step.",
    (ParamSpec("pct_start", "float", 0.3, title="rising fraction", minimum=0.0, maximum=1.0,
               help="Fraction of training spent rising to the peak."),
     ParamSpec("div_factor", "float", 25.0, title="start divisor", minimum=1.0, maximum=1e6,
               help="Start at peak / this."),
     ParamSpec("final_div_factor", "float", 1e4, title="final divisor", minimum=1.0, maximum=1e9,
               help="End at start / this.")),
    _one_cycle,
))
_register(SchedulerSpec(
    "reduce_on_plateau", "Reduce on plateau",
    "Multiply by factor when the validation loss stops improving for some epochs.",
    (ParamSpec("factor", "float", 0.1, minimum=0.0, maximum=0.999,
               help="Multiply the learning rate by this on a plateau."),
     ParamSpec("patience", "int", 5, minimum=0, maximum=100_000,
               help="Epochs without improvement before reducing."),
     ParamSpec("threshold", "float", 1e-4, minimum=0.0, maximum=1.0, advanced=True,
               help="Relative improvement that counts."),
     ParamSpec("min_lr", "float", 0.0, title="minimum lr", minimum=0.0, maximum=100.0,
               help="Never go below this learning rate.")),
    lambda s, e, t, p: 1.0, per="plateau",
))


class Schedule:
    """The learning rate for each step, with JSON-friendly state."""

    def __init__(self, key: str, params: dict[str, Any], *, base_lr: float, steps_per_epoch: int,
                 total_steps: int) -> None:
        self.spec = SCHEDULERS.get(key)
        self.params = dict(params)
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(total_steps)
        self.scale = 1.0          # reduce-on-plateau's accumulated reductions
        self.best: float | None = None
        self.bad_epochs = 0

    def lr(self, step: int) -> float:
        f = self.spec.factor(step, self.steps_per_epoch, self.total_steps, self.params)
        lr = self.base_lr * f * self.scale
        if self.spec.per == "plateau":
            lr = max(lr, float(self.params["min_lr"]))
        return lr

    def on_validation(self, value: float) -> bool:
        """Feed the epoch's monitored loss; True when the learning rate was reduced."""
        if self.spec.per != "plateau" or not math.isfinite(value):
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
        return {"key": self.spec.key, "params": dict(self.params), "base_lr": self.base_lr,
                "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = float(state["base_lr"])
        self.scale = float(state["scale"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
