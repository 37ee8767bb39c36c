"""Optimizers: one spec each. ``group_values`` maps the user's settings onto torch's
param-group entries, so the same mapping builds an optimizer and changes a paused one
in place (its state — Adam's moments, momentum buffers — is kept)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import ParamSpec
from visionstudio.core.registry import Registry

if TYPE_CHECKING:  # torch loads only when an optimizer is built, not when a project is read
    import torch


@dataclass(frozen=True)
class OptimizerSpec:
    key: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    class_name: str                           # in torch.optim
    group_values: Callable[[dict[str, Any]], dict[str, Any]]
    fixed: tuple[tuple[str, Any], ...] = ()   # constructor arguments the user does not set
    supports_fused: bool = False

    def factory(self, parameters: Iterable[torch.nn.Parameter], values: dict[str, Any], *,
                fused: bool = False) -> torch.optim.Optimizer:
        kwargs = dict(self.group_values(values))
        kwargs.update(dict(self.fixed))
        if fused and self.supports_fused:
            kwargs["fused"] = True
        return self.cls(parameters, **kwargs)

    @property
    def cls(self) -> type[torch.optim.Optimizer]:
        import torch.optim

        return getattr(torch.optim, self.class_name)


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer")


def _lr(default: float) -> ParamSpec:
    return ParamSpec("lr", "float", default, title="learning rate", minimum=1e-12, maximum=100.0,
                     key=True, help="Step size of each update.")


WEIGHT_DECAY = ParamSpec("weight_decay", "float", 0.0, title="weight decay", minimum=0.0,
                         maximum=10.0, help="L2 penalty on the weights.")
MOMENTUM = ParamSpec("momentum", "float", 0.9, minimum=0.0, maximum=0.9999,
                     help="Fraction of the previous update carried into the next.")
EPS = ParamSpec("eps", "float", 1e-8, minimum=0.0, maximum=1.0, advanced=True,
                help="Added to denominators for numerical stability.")
BETA1 = ParamSpec("beta1", "float", 0.9, title="beta 1", minimum=0.0, maximum=0.9999,
                  help="Decay of the running mean of gradients.")
BETA2 = ParamSpec("beta2", "float", 0.999, title="beta 2", minimum=0.0, maximum=0.99999,
                  help="Decay of the running mean of squared gradients.")


def _pick(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda v: {n: v[n] for n in names}


def _adam_like(v: dict[str, Any]) -> dict[str, Any]:
    return {"lr": v["lr"], "betas": (v["beta1"], v["beta2"]), "eps": v["eps"],
            "weight_decay": v["weight_decay"], "amsgrad": v["amsgrad"]}


def _register(spec: OptimizerSpec, aliases: tuple[str, ...] = ()) -> None:
    OPTIMIZERS.register(spec.key, spec, category="Optimizer", aliases=aliases)


_register(OptimizerSpec(
    "sgd", "SGD", "Plain stochastic gradient descent.",
    (_lr(0.01), WEIGHT_DECAY), "SGD", _pick("lr", "weight_decay"),
    fixed=(("momentum", 0.0),),
))
_register(OptimizerSpec(
    "sgd_momentum", "SGD with momentum", "SGD that keeps a running velocity of updates.",
    (_lr(0.01), MOMENTUM, WEIGHT_DECAY), "SGD", _pick("lr", "momentum", "weight_decay"),
), aliases=("momentum",))
_register(OptimizerSpec(
    "nesterov", "SGD with Nesterov momentum", "Momentum that looks ahead before stepping.",
    (_lr(0.01), MOMENTUM, WEIGHT_DECAY), "SGD", _pick("lr", "momentum", "weight_decay"),
    fixed=(("nesterov", True),),
))
_register(OptimizerSpec(
    "rmsprop", "RMSprop", "Divides each step by a running average of squared gradients.",
    (_lr(0.001),
     ParamSpec("alpha", "float", 0.99, minimum=0.0, maximum=0.99999,
               help="Decay of the running mean of squared gradients."),
     EPS, ParamSpec("momentum", "float", 0.0, minimum=0.0, maximum=0.9999, help="Momentum factor."),
     WEIGHT_DECAY),
    "RMSprop", _pick("lr", "alpha", "eps", "momentum", "weight_decay"),
))
_AMSGRAD = ParamSpec("amsgrad", "bool", False, advanced=True,
                     help="Use the AMSGrad variant (keeps the maximum of past squared gradients).")
_register(OptimizerSpec(
    "adam", "Adam", "Adaptive moments: a robust default for most networks.",
    (_lr(0.001), BETA1, BETA2, EPS, WEIGHT_DECAY, _AMSGRAD), "Adam", _adam_like,
    supports_fused=True,
))
_register(OptimizerSpec(
    "adamw", "AdamW", "Adam with decoupled weight decay.",
    (_lr(0.001), BETA1, BETA2, EPS,
     ParamSpec("weight_decay", "float", 0.01, title="weight decay", minimum=0.0, maximum=10.0,
               help="Decoupled weight decay."), _AMSGRAD),
    "AdamW", _adam_like, supports_fused=True,
))
_register(OptimizerSpec(
    "adagrad", "Adagrad", "Per-weight step sizes that shrink with accumulated squared gradients.",
    (_lr(0.01),
     ParamSpec("lr_decay", "float", 0.0, title="lr decay", minimum=0.0, maximum=1.0,
               help="Learning-rate decay per step."),
     ParamSpec("eps", "float", 1e-10, minimum=0.0, maximum=1.0, advanced=True,
               help="Added to denominators for numerical stability."),
     WEIGHT_DECAY),
    "Adagrad", _pick("lr", "lr_decay", "eps", "weight_decay"),
))


def apply_group_values(optimizer: torch.optim.Optimizer, key: str, values: dict[str, Any]) -> None:
    """Write settings into every param group in place (the optimizer's state is kept)."""
    group = OPTIMIZERS.get(key).group_values(values)
    for g in optimizer.param_groups:
        g.update(group)
