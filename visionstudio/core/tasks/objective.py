"""What a run optimises and how it is judged: one Objective per task.

The training loop knows nothing of tasks. It hands the network's outputs (always a tuple,
one tensor per head, in the plan's head order) and the batch's targets (the label layout
of ``LoadedDataset.task``) to the run's Objective and gets back tensors that stay on the
device: the weighted total loss, the per-head losses, a training score. Everything that
needs a host read (metrics) goes through an Evaluator that accumulates on the device and
is read once, at the end of a validation pass — so a task adds no synchronisation.

An Objective is built on the training device from the plan's heads (core/tasks/heads.py
HeadPlan) by ``core/tasks/objectives.make_objective``; the task modules register their
factory in OBJECTIVES here (objectives.py imports them all, so this base imports none).
Its ``state_dict`` is plain JSON data (e.g. a regression's target mean and std): saved in
each checkpoint and in the run's summary, so predictions made later from a checkpoint are
in the dataset's units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # torch loads when a run is set up, not when a project is read
    import torch

    from visionstudio.core.tasks.heads import HeadPlan


class ObjectiveError(ValueError):
    """Settings of a head that its task cannot train (e.g. a loss that does not fit its target)."""


def as_outputs(out: Any) -> tuple[torch.Tensor, ...]:
    """The network's output as a tuple of heads (a one-head network returns a tensor)."""
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


class Evaluator:
    """Validation metrics of one pass: ``add`` per batch (device tensors only), then
    ``result`` once (one host read). ``scatter`` is the regression's predicted-vs-true
    sample (ValidationRecord.scatter); the other tasks have none."""

    def add(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> None:
        raise NotImplementedError

    def result(self) -> dict[str, float]:
        raise NotImplementedError

    def scatter(self) -> tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...]:
        return ()


class Objective:
    """The loss, the training score, the metrics and the predictions of a task.

    ``loss`` returns (total, per-head losses as a 1-D tensor, or None with one head),
    without reading anything back to the host; ``batch_score`` the batch's training
    score to sum (classification: correct answers; None where a task has none).
    """

    task = ""
    fits_targets = False   # fit() needs the training targets (the trainer gathers them then)

    def __init__(self, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                 target_names: Sequence[str] = ()) -> None:
        self.heads = tuple(heads)
        self.num_classes = int(num_classes)
        self.device = device
        self.target_names = tuple(target_names)
        self.notes: list[str] = []    # for the run's start record (e.g. what augmentation keeps)
        self._weights: dict[Any, torch.Tensor] = {}   # the heads' loss weights, per device

    @property
    def head_names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.heads)

    def fit(self, train_targets: torch.Tensor) -> None:
        """Learn what the loss needs from the training targets (a regression's mean/std)."""

    def loss(self, outputs: tuple[torch.Tensor, ...],
             targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def batch_score(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> torch.Tensor | None:
        return None

    def evaluator(self) -> Evaluator:
        raise NotImplementedError

    def predict(self, outputs: tuple[torch.Tensor, ...]) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a ``state_dict`` (read from a checkpoint: checked by the task)."""

    def weighted(self, losses: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(Σ weight × loss, the losses stacked) of per-head losses; one head: (loss × weight, None)."""
        if len(losses) == 1:
            weight = float(self.heads[0].weight) if self.heads else 1.0
            return (losses[0] if weight == 1.0 else losses[0] * weight), None
        import torch

        stacked = torch.stack([x.float() for x in losses])
        weights = self._weights.get(stacked.device)
        if weights is None:   # made once: a host-to-device copy per step would synchronise
            weights = torch.tensor([float(h.weight) for h in self.heads], device=stacked.device)
            self._weights[stacked.device] = weights
        return (stacked * weights).sum(), stacked.detach()


ObjectiveFactory = Callable[[Sequence["HeadPlan"], int, "torch.device", Sequence[str]], Objective]
# task key -> factory(heads, num_classes, device, target_names); filled by the task modules,
# which core/tasks/objectives.py imports (its make_objective builds one)
OBJECTIVES: dict[str, ObjectiveFactory] = {}
