"""Metrics in the user's words: "R²", "MAE (size)", "mAP@0.5 81.0%", and which of a run's
validation metrics is its task's primary one. Plain Python (no Qt, no pyqtgraph): the
training panel's texts use it before any plot exists."""

from __future__ import annotations

from visionstudio.core.tasks import TASK_KINDS

ACCURACY = "accuracy"
NAMES = {"accuracy": "Accuracy", "top5": "Top-5 accuracy", "r2": "R²", "mae": "MAE", "rmse": "RMSE",
         "iou": "IoU", "box_l1": "Box L1 error", "map50": "mAP@0.5", "map": "mAP@0.5:0.95",
         "precision": "Precision", "recall": "Recall"}
FRACTIONS = frozenset({"accuracy", "top5", "iou", "map50", "map", "precision", "recall"})


def _base(name: str) -> tuple[str, str]:
    """("r2", "") for val_r2, ("mae", "size") for val_mae/size, ("loss", "box") for loss/box."""
    bare = name.removeprefix("val_")
    metric, _, part = bare.partition("/")
    return metric, part


def metric_label(name: str) -> str:
    """The metric in words: "R²", "MAE (size)", "Loss (box)"."""
    metric, part = _base(name)
    title = NAMES.get(metric, metric.replace("_", " ").capitalize())
    return f"{title} ({part})" if part else title


def is_fraction(name: str) -> bool:
    return _base(name)[0] in FRACTIONS


def primary_value(metrics) -> tuple[str, float] | None:
    """The task's primary metric among a run's validation ``metrics`` (the dict of
    EpochRecord.val_metrics' names): ("r2", 0.97), ("map50", 0.8) …; None for a
    classification run (its accuracy has its own fields)."""
    if not isinstance(metrics, dict):
        return None
    for task in TASK_KINDS.values():
        value = metrics.get(task.primary_metric)
        if task.primary_metric != ACCURACY and isinstance(value, (int, float)):
            return task.primary_metric, float(value)
    return None


def metric_text(name: str, value: float) -> str:
    """ "R² 0.953", "mAP@0.5 81.0%": fractions as percentages, other values as numbers."""
    return f"{metric_label(name)} {value:.1%}" if is_fraction(name) else f"{metric_label(name)} {value:.3f}"
