"""The training registries: losses, optimizers and learning-rate schedules.

Each entry is a spec with ``key``, ``title``, ``description``, ``params`` (ParamSpecs
that drive validation, the inspector and the file format) and a factory.
"""

from __future__ import annotations

from visionstudio.core.training.losses import LOSSES, LossSpec
from visionstudio.core.training.optimizers import OPTIMIZERS, OptimizerSpec
from visionstudio.core.training.schedules import SCHEDULERS, SchedulerSpec

__all__ = ["LOSSES", "OPTIMIZERS", "SCHEDULERS", "LossSpec", "OptimizerSpec", "SchedulerSpec"]
