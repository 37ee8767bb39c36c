"""The training UI's words, in one place: the panel and the window's status bar and
message box say the same thing about the same state."""

from __future__ import annotations

import math

from visionstudio.ui.plots.metric_names import metric_text, primary_value

FAILURE_TITLES = {"nan": "Training diverged", "oom": "Out of memory", "dataset": "Dataset problem",
                  "setup": "Cannot start training"}
STATE_TEXTS = {"preparing": "Loading the dataset…", "pausing": "Pausing after this batch…",
               "paused": "Paused. Change the learning rate or optimizer settings, then Resume.",
               "stopping": "Stopping after this batch…"}
END_TEXTS = {"completed": "Training finished.",
             "stopped": "Training stopped; a checkpoint was kept. Continue training resumes it.",
             "early_stopped": "Training stopped early (no improvement).",
             "failed": "Training failed; see the message."}


def failure_title(failure) -> str:
    return FAILURE_TITLES.get(failure.kind, "Training failed")


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def batch_score(r) -> str:
    """The running score of a batch record for the status line: the training accuracy, or
    (tasks without one: regression, boxes) each head's loss."""
    if math.isfinite(r.accuracy):
        return f" · acc {r.accuracy:.1%}"
    if r.head_losses:
        return " (" + " · ".join(f"{name} {value:.4f}" for name, value in r.head_losses) + ")"
    return ""


def epoch_text(r) -> str:
    """An epoch's line: the task's primary metric (R², IoU, mAP …) or the accuracy, and the loss."""
    metric = primary_value(dict(r.val_metrics))
    acc, which = ((r.val_accuracy, "validation") if r.val_accuracy is not None
                  else (r.train_accuracy, "training"))
    if metric is not None:
        score, which = metric_text(*metric), "validation"
    elif acc is not None and math.isfinite(acc):
        score = f"accuracy {acc:.1%}"
    else:
        score = ""
    loss = f"loss {r.val_loss:.4f}" if r.val_loss is not None else f"loss {r.train_loss:.4f}"
    return f"Epoch {r.epoch}: {score} ({which}), {loss}" if score else f"Epoch {r.epoch}: {loss}"


def run_score(last: dict) -> tuple[str, str]:
    """The score of a run's last epoch (a history row) and where it was measured:
    ("R² 0.953", "validation"), ("accuracy 75.0%", "training"); ("", "") without one."""
    metric = primary_value(last.get("val_metrics"))
    if metric is not None:
        return metric_text(*metric), "validation"
    val = last.get("val_accuracy")
    acc, which = (val, "validation") if val is not None else (last.get("train_accuracy"), "training")
    if not isinstance(acc, (int, float)) or not math.isfinite(acc):
        return "", ""
    return f"accuracy {acc:.1%}", which


def final_text(last: dict, epochs: int) -> str:
    """The run's last epoch in a line; "" when it has no score."""
    score, which = run_score(last)
    return f"Final {score} ({which}) after {epochs} epochs" if score else ""
