"""Classification: which class an image shows (the task every project had before tasks).

Each head (usually one) scores the classes; its configured loss (a LOSSES key: cross
entropy, NLL, or a vector loss on the one-hot label) compares the scores with the integer
labels, exactly as the loop did before objectives: a network with one head trains to the
same numbers. The training score is the count of correct argmax answers of the first
head; validation reports accuracy and top-5 accuracy (with more than 5 classes) in their
own record fields, so the task adds no entry to ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import validate_all
from visionstudio.core.tasks.objective import OBJECTIVES, Evaluator, Objective, ObjectiveError
from visionstudio.core.training.losses import LOSSES, TrainingLoss

if TYPE_CHECKING:
    import torch

    from visionstudio.core.tasks.heads import HeadPlan


def _flat(out: torch.Tensor) -> torch.Tensor:
    return out.reshape(out.shape[0], -1) if out.dim() > 2 else out


def head_loss(head: HeadPlan, num_classes: int, device: torch.device, *,
              log_softmax: bool = False) -> TrainingLoss:
    """The LOSSES loss a class head names, its settings checked (ObjectiveError in words)."""
    key = head.loss.get("key")
    if key not in LOSSES:
        raise ObjectiveError(f"the head {head.name} names the loss {key!r}, which does not exist")
    params, problems = validate_all(LOSSES.get(key).params, dict(head.loss.get("params") or {}))
    if problems:
        raise ObjectiveError(f"the loss of {head.name}: {problems[0]}")
    try:
        return TrainingLoss(key, params, num_classes, device, log_softmax=log_softmax)
    except ValueError as exc:
        raise ObjectiveError(f"the loss of {head.name}: {exc}") from None


class ClassificationEvaluator(Evaluator):
    """Correct and top-5 counts on the device (float64, as the loop always summed them)."""

    def __init__(self, num_classes: int, device: torch.device) -> None:
        import torch

        self.k5 = num_classes > 5
        self.sums = torch.zeros(2, device=device, dtype=torch.float64)   # correct, top-5
        self.n = 0

    def add(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> None:
        out = _flat(outputs[0])
        self.sums[0] += (out.argmax(1) == targets).sum()
        if self.k5:
            self.sums[1] += (out.topk(5, dim=1).indices == targets[:, None]).any(1).sum()
        self.n += int(targets.shape[0])

    def result(self) -> dict[str, float]:
        correct, top5 = self.sums.tolist()
        n = max(self.n, 1)
        out = {"accuracy": correct / n}
        if self.k5:
            out["top5"] = top5 / n
        return out


class ClassificationObjective(Objective):
    task = "classification"

    def __init__(self, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                 target_names: Sequence[str] = ()) -> None:
        super().__init__(heads, num_classes, device, target_names)
        if not self.heads:
            raise ObjectiveError("a classification network needs an output that scores the classes")
        self._losses = [head_loss(h, self.num_classes, device) for h in self.heads]

    def use_log_softmax(self, log_softmax: bool) -> None:
        """The training view folded a final softmax away and the loss wants log-probabilities
        (model_prep.training_view): the first head's loss applies log-softmax itself."""
        self._losses[0] = head_loss(self.heads[0], self.num_classes, self.device, log_softmax=log_softmax)

    def loss(self, outputs: tuple[torch.Tensor, ...],
             targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.weighted([fn(out, targets) for fn, out in zip(self._losses, outputs)])

    def batch_score(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> torch.Tensor:
        return (_flat(outputs[0]).detach().argmax(1) == targets).sum()

    def evaluator(self) -> ClassificationEvaluator:
        return ClassificationEvaluator(self.num_classes, self.device)

    def predict(self, outputs: tuple[torch.Tensor, ...]) -> Any:
        """The first head's class scores as the network gives them (N, classes): its
        argmax is the predicted class (a final softmax, if any, is the network's)."""
        return _flat(outputs[0])


OBJECTIVES["classification"] = ClassificationObjective
