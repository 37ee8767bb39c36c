"""The validation pass of an epoch, for a set-up Trainer: the loss (total and per head)
and the task's metrics (its Objective's Evaluator), each read from the device once.

Classification keeps its accuracy and top-5 in the record's own fields (the numbers are
the ones the loop always gave); every other task's metrics go to ``metrics`` (an
accuracy among them, as localization's, also fills the field).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from visionstudio.core.tasks.objective import as_outputs
from visionstudio.core.training.device import autocast
from visionstudio.core.training.failures import NonFinite
from visionstudio.core.training.records import ValidationRecord

RECORD_FIELDS = ("accuracy", "top5")   # a classification's metrics kept in their own fields


@dataclass(frozen=True)
class Validation:
    loss: float
    accuracy: float                      # NaN where the task has none
    top5: float | None
    samples: int
    metrics: tuple[tuple[str, float], ...] = ()
    head_losses: tuple[tuple[str, float], ...] = ()
    scatter: tuple = ()
    primary: float = math.nan            # the task's primary metric (TaskKind.primary_metric)


NO_VALIDATION = Validation(math.nan, math.nan, None, 0)


def validate(trainer: Any) -> Validation:
    """The validation set's loss and metrics (NO_VALIDATION without one)."""
    if trainer.val_feed is None:
        return NO_VALIDATION
    return evaluate_feed(trainer.train_model, trainer.val_feed, trainer.objective,
                         max(trainer.config.batch_size * 2, 256), lambda: autocast(trainer))


@torch.no_grad()
def evaluate_feed(model: Any, feed: Any, objective: Any, batch_size: int,
                  autocast_context: Callable[[], Any] = nullcontext,
                  on_batch: Callable[[tuple, torch.Tensor], None] | None = None) -> Validation:
    """Loss and metrics of ``model`` over every batch of ``feed`` (eval mode, restored
    after); ``on_batch(outputs, targets)`` sees each batch (a caller's own tallies)."""
    device = objective.device
    was_training = model.training
    model.eval()
    evaluator = objective.evaluator()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    head_sum: torch.Tensor | None = None
    n = 0
    for xb, yb in feed.batches(None, batch_size):
        with autocast_context():
            out = as_outputs(model(xb))
            loss, per_head = objective.loss(out, yb)
        loss_sum += loss.double() * yb.shape[0]
        if per_head is not None:
            part = per_head.double() * yb.shape[0]
            head_sum = part if head_sum is None else head_sum + part
        evaluator.add(out, yb)
        if on_batch is not None:
            on_batch(out, yb)
        n += int(yb.shape[0])
    model.train(was_training)
    values = (torch.cat([loss_sum.view(1), head_sum]) if head_sum is not None else loss_sum.view(1)).tolist()
    result = evaluator.result()
    n = max(n, 1)
    classification = objective.task == "classification"
    metrics = tuple((k, float(v)) for k, v in result.items() if not (classification and k in RECORD_FIELDS))
    heads = tuple((name, v / n) for name, v in zip(objective.head_names, values[1:]))
    primary = result.get(_primary(objective.task), math.nan)
    return Validation(values[0] / n, float(result.get("accuracy", math.nan)), result.get("top5"), n,
                      metrics, heads, evaluator.scatter(), float(primary))


def _primary(task: str) -> str:
    from visionstudio.core.tasks import TASK_KINDS

    return TASK_KINDS[task].primary_metric if task in TASK_KINDS else "accuracy"


def validated(trainer: Any, epoch: int) -> Validation:
    """Validate and send the ValidationRecord; NonFinite when the loss is not finite."""
    t0 = time.perf_counter()
    v = validate(trainer)
    if v.samples:
        if not math.isfinite(v.loss):
            raise NonFinite(v.loss, trainer.step)
        trainer._emit("on_validation_end", ValidationRecord(
            epoch=epoch, step=trainer.step, loss=v.loss, accuracy=v.accuracy, top5=v.top5,
            samples=v.samples, seconds=time.perf_counter() - t0, metrics=v.metrics,
            head_losses=v.head_losses, scatter=v.scatter))
    return v
