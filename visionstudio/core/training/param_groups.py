"""Transfer learning in a run: frozen layers, learning-rate groups, frozen BatchNorm.

``TransferPlan`` is the graph's transfer options (``graph.transfer``, resolved by
transfer_plan.py) as plain data keyed by module path (``conv1``, ``block1`` — a block
instance covers its inner layers), so a run, a checkpoint and an exported script agree without the graph.
Frozen parameters get ``requires_grad=False`` and are left out of the optimizer (no
optimizer state, no weight decay moves them); the trainable ones are grouped by
multiplier, the base group (×1) first and then the others by increasing multiplier,
so the group order is the same in every run of the same project and a checkpoint's
optimizer state fits the groups it was saved with. Each group carries its
``lr_multiplier``; ``set_group_lrs`` gives group *g* ``lr × multiplier_g``, which is
how the schedule's learning rate reaches every group with the ratios kept.

Only the standard library and torch are imported: an exported training bundle carries
this file verbatim (core/export/transfer_source.py), so its train.py freezes and groups
exactly as the app does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # torch loads only when a run starts, not when a plan is made
    import torch
    from torch import nn


class TransferPlan(NamedTuple):
    frozen: tuple[str, ...] = ()              # module paths whose parameters do not train
    lr_multipliers: Mapping[str, float] = {}  # module path -> factor (never mutated)
    frozen_bn_eval: bool = True               # frozen BatchNorm layers normalise with running stats

    @property
    def active(self) -> bool:
        return bool(self.frozen or self.lr_multipliers)


def _owner(name: str, prefixes: Iterable[str]) -> str | None:
    """The listed module path ``name`` (a parameter or module path) lies in, if any."""
    for prefix in prefixes:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def apply_freezing(model: nn.Module, plan: TransferPlan) -> tuple[int, int]:
    """Set ``requires_grad`` from the plan; (trainable, frozen) parameter counts."""
    trainable = frozen = 0
    for name, p in model.named_parameters():
        keep = _owner(name, plan.frozen) is None
        p.requires_grad_(keep)
        if keep:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return trainable, frozen


def param_groups(model: nn.Module, plan: TransferPlan) -> list[dict[str, Any]]:
    """Torch param groups of the trainable parameters, one per multiplier (×1 first),
    each tagged with ``lr_multiplier``; the multiplier of a layer inside a scaled block
    is the block's."""
    by_factor: dict[float, list[torch.nn.Parameter]] = {1.0: []}
    for name, p in model.named_parameters():
        if _owner(name, plan.frozen) is not None:
            continue
        owner = _owner(name, plan.lr_multipliers)
        factor = float(plan.lr_multipliers[owner]) if owner is not None else 1.0
        by_factor.setdefault(factor, []).append(p)
    order = [1.0] + sorted(f for f in by_factor if f != 1.0)
    groups = [{"params": by_factor[f], "lr_multiplier": f} for f in order if by_factor[f]]
    if not groups:
        raise ValueError("every layer is frozen, so nothing would train; unfreeze at least one layer")
    return groups


def set_group_lrs(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_multiplier", 1.0)


def frozen_batchnorms(model: nn.Module, plan: TransferPlan) -> list[nn.Module]:
    """The BatchNorm modules of frozen layers (empty when the option is off)."""
    from torch import nn

    if not plan.frozen_bn_eval or not plan.frozen:
        return []
    return [m for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and _owner(name, plan.frozen) is not None]


def keep_frozen_bn_eval(modules: list[nn.Module]) -> None:
    """After ``model.train()``: frozen BatchNorm layers back to eval (running statistics
    used, and left unchanged)."""
    for m in modules:
        m.eval()


def parameter_counts(model: nn.Module, plan: TransferPlan) -> tuple[int, int]:
    """(trainable, frozen) parameters the plan gives ``model``, without changing it."""
    trainable = frozen = 0
    for name, p in model.named_parameters():
        if _owner(name, plan.frozen) is None:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return trainable, frozen
