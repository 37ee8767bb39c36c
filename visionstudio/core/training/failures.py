"""How a failed run is reported: the message says what happened and what to try.

Three kinds: "nan" (the loss diverged; lower the learning rate or clip gradients),
"oom" (out of memory; a smaller batch size is suggested) and "error" (anything else,
with its traceback kept for the details view).
"""

from __future__ import annotations

import math
import traceback

import torch

from .device import suggest_batch_size
from .records import FailureRecord


class NonFinite(Exception):
    """The loss (training or validation) became NaN or infinite at ``step``."""

    def __init__(self, value: float, step: int) -> None:
        super().__init__(value, step)
        self.value, self.step = value, step


def failure_record(kind: str, exc: BaseException, *, epoch: int, step: int, lr: float,
                   batch_size: int, clip_norm: float | None, device: torch.device,
                   checkpoint: str | None, value: float = math.nan) -> FailureRecord:
    """The FailureRecord for ``exc`` at ``epoch``/``step`` (kind: nan, oom or error)."""
    suggested = None
    if kind == "nan":
        what = "NaN" if math.isnan(value) else "infinite"
        clip = ("lower the gradient clipping norm" if clip_norm
                else "turn on gradient clipping (clip_norm, e.g. 1.0)")
        message = (f"The loss became {what} at epoch {epoch}, step {step}: training diverged. "
                   f"Try a lower learning rate (it was {lr:.3g}; e.g. {lr / 10:.3g}) or {clip}.")
    elif kind == "oom":
        suggested = suggest_batch_size(batch_size)
        message = (f"Out of memory on {device} at epoch {epoch}, step {step + 1} with batch "
                   f"size {batch_size}. Try batch size {suggested} (or a smaller network / input size).")
    else:
        message = f"Training stopped by an error at epoch {epoch}, step {step + 1}: {type(exc).__name__}: {exc}"
    return FailureRecord(kind=kind, message=message, epoch=epoch, step=step,
                         traceback="".join(traceback.format_exception(exc)),
                         suggested_batch_size=suggested, checkpoint=checkpoint)
