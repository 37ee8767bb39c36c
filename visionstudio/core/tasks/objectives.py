"""Every task's Objective, registered: import this module (not the task modules) to build one.

A new task is one module that registers its factory in ``objective.OBJECTIVES`` and one
import line here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from visionstudio.core.tasks import (  # noqa: F401 - each registers its objective
    classification,
    detection_objective,
    localization,
    regression,
)
from visionstudio.core.tasks.objective import OBJECTIVES, Objective, ObjectiveError

if TYPE_CHECKING:
    import torch

    from visionstudio.core.tasks.heads import HeadPlan


def make_objective(task: str, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                   target_names: Sequence[str] = ()) -> Objective:
    """The Objective of ``task`` for a run's heads; ObjectiveError for a task none trains."""
    factory = OBJECTIVES.get(task)
    if factory is None:
        raise ObjectiveError(f"the task {task!r} cannot be trained yet")
    return factory(heads, num_classes, device, list(target_names))
