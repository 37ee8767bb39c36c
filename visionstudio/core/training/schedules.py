"""The learning-rate schedule registry: each schedule's title, help and parameters.

The arithmetic is lr_schedule.py's, the one module an exported train.py copies, so the
app and the script share it; a spec names its rule there by its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visionstudio.core.params import ParamSpec
from visionstudio.core.registry import Registry
from visionstudio.core.training.lr_schedule import RULES, Schedule


@dataclass(frozen=True)
class SchedulerSpec:
    key: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]

    @property
    def per(self) -> str:
        """"step", "epoch" (changes at epoch boundaries) or "plateau"."""
        return RULES[self.key][1]

    def factory(self, params: dict[str, Any], *, base_lr: float, steps_per_epoch: int,
                total_steps: int) -> Schedule:
        return Schedule(self.key, params, base_lr=base_lr, steps_per_epoch=steps_per_epoch,
                        total_steps=total_steps)


SCHEDULERS: Registry[SchedulerSpec] = Registry("learning-rate schedule")

_GAMMA = ParamSpec("gamma", "float", 0.1, minimum=0.0, maximum=1.0,
                   help="Multiply the learning rate by this at each decay.")


def _register(spec: SchedulerSpec, aliases: tuple[str, ...] = ()) -> None:
    if spec.key not in RULES:
        raise ValueError(f"schedule {spec.key!r} has no rule in lr_schedule.RULES")
    SCHEDULERS.register(spec.key, spec, category="Schedule", aliases=aliases)


_register(SchedulerSpec("constant", "Constant", "The same learning rate throughout.", ()),
          aliases=("none",))
_register(SchedulerSpec(
    "step", "Step decay", "Multiply by gamma every N epochs.",
    (ParamSpec("step_size", "int", 10, title="step size", minimum=1, maximum=100_000,
               help="Epochs between decays."), _GAMMA),
))
_register(SchedulerSpec(
    "multistep", "Multi-step decay", "Multiply by gamma at each listed epoch.",
    (ParamSpec("milestones", "int_list", [30, 60], minimum=1, maximum=100_000,
               help="Epochs at which the learning rate drops."), _GAMMA),
))
_register(SchedulerSpec(
    "exponential", "Exponential decay", "Multiply by gamma after every epoch.",
    (ParamSpec("gamma", "float", 0.95, minimum=0.0, maximum=1.0,
               help="Factor applied after every epoch."),),
))
_register(SchedulerSpec(
    "cosine", "Cosine with warm-up",
    "Linear warm-up, then a half cosine down to a fraction of the learning rate; per step.",
    (ParamSpec("warmup_epochs", "float", 0.0, title="warm-up epochs", minimum=0.0, maximum=1000.0,
               help="Epochs of linear warm-up from zero (fractions allowed)."),
     ParamSpec("min_lr_ratio", "float", 0.0, title="final fraction", minimum=0.0, maximum=1.0,
               help="Final learning rate as a fraction of the initial one.")),
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
))
