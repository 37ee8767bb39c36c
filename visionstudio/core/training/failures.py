"""How a failed run is reported: the message says what happened and what to try.

Three kinds: "nan" (the loss became non-finite), "oom" (out of memory; a smaller batch
size is suggested) and "error" (anything else, with its traceback kept for the details
view). For "nan" the message follows the diagnosis of nonfinite.py: a layer that turns
finite inputs and weights into NaN is named and the architecture blamed; only when the
forward pass is finite (or the weights themselves diverged) is the learning rate.
"""

from __future__ import annotations

import math
import traceback

import torch

from visionstudio.core.training.device import suggest_batch_size
from visionstudio.core.training.nonfinite import NonFiniteOrigin
from visionstudio.core.training.records import FailureRecord


class NonFinite(Exception):
    """The loss (training or validation) became NaN or infinite at ``step``.

    ``inputs``: a training batch to diagnose with (the failing one when ``before_step``:
    caught before its update reached the weights), None for the validation loss."""

    def __init__(self, value: float, step: int, inputs: torch.Tensor | None = None,
                 before_step: bool = False) -> None:
        super().__init__(value, step)
        self.value, self.step = value, step
        self.inputs, self.before_step = inputs, before_step


def _nan_message(value: float, epoch: int, step: int, lr: float, clip_norm: float | None,
                 precision: str, origin: NonFiniteOrigin | None) -> str:
    what = "NaN" if math.isnan(value) else "infinite"
    start = f"The loss became {what} at epoch {epoch}, step {step}: "
    clip = ("lower the gradient clipping norm" if clip_norm
            else "turn on gradient clipping (clip_norm, e.g. 1.0)")
    advice = f"Try a lower learning rate (it was {lr:.3g}; e.g. {lr / 10:.3g}) or {clip}."
    if origin is not None and origin.kind == "layer":
        fp16 = (" In fp16 values above 65,504 overflow: try mixed precision bf16 or off."
                if precision == "fp16" else "")
        return (start + f"{origin.layer} produced non-finite values ({origin.values}) first, from "
                f"finite inputs and finite weights, so the network itself overflows there; a lower "
                f"learning rate will not fix it. Check {origin.layer}'s settings (very large fixed "
                f"weights, for example) or add normalisation (BatchNorm) before it.{fp16}")
    if origin is not None and origin.kind == "input":
        return (start + f"the training images themselves contain non-finite values "
                f"({origin.values}); check the dataset.")
    if origin is not None and origin.kind == "weights":
        grew = (f"grew to {origin.peak:.2g}" if origin.peak is not None
                else f"became {origin.values}")
        return start + f"the weights of {origin.layer} {grew}, so training diverged. {advice}"
    return start + f"training diverged. {advice}"


def failure_record(kind: str, exc: BaseException, *, epoch: int, step: int, lr: float,
                   batch_size: int, clip_norm: float | None, device: torch.device,
                   checkpoint: str | None, value: float = math.nan,
                   origin: NonFiniteOrigin | None = None, precision: str = "fp32") -> FailureRecord:
    """The FailureRecord for ``exc`` at ``epoch``/``step`` (kind: nan, oom or error);
    ``origin``: where a NaN came from (nonfinite.find_origin), when known."""
    suggested = None
    if kind == "nan":
        message = _nan_message(value, epoch, step, lr, clip_norm, precision, origin)
    elif kind == "oom":
        suggested = suggest_batch_size(batch_size)
        message = (f"Out of memory on {device} at epoch {epoch}, step {step + 1} with batch "
                   f"size {batch_size}. Try batch size {suggested} (or a smaller network / input size).")
    else:
        message = (f"Training stopped by an error at epoch {epoch}, step {step + 1}: "
                   f"{type(exc).__name__}: {exc}")
    return FailureRecord(kind=kind, message=message, epoch=epoch, step=step,
                         traceback="".join(traceback.format_exception(exc)),
                         suggested_batch_size=suggested, checkpoint=checkpoint)
