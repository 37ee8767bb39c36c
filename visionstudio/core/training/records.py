"""Metric records: frozen dataclasses of plain data (floats, ints, str, tuples) that
cross from the training thread to the GUI. ``as_dict`` gives JSON/CSV-ready values.

``METRIC_COLUMNS`` is the one declaration of the per-epoch metrics CSV: the CLI's
``metrics.csv``, a run folder's ``metrics.csv``, the exported train.py's and the
importer all use these columns, in this order (EpochRecord field names).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

METRIC_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                  "val_top5", "lr", "images_per_s", "epoch_s", "elapsed_s", "best")


# the task's (name, value) pairs of an epoch row and the CSV column each becomes
TASK_COLUMN_PREFIXES = (("val_metrics", "val_{}"), ("val_head_losses", "val_loss/{}"),
                        ("train_head_losses", "train_loss/{}"))


def task_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """An epoch row's task metrics and per-head losses by column name (val_r2,
    val_loss/box …), whether the row holds them as objects or as (name, value) pairs."""
    out: dict[str, Any] = {}
    for field_name, pattern in TASK_COLUMN_PREFIXES:
        pairs = row.get(field_name) or {}
        for name, value in (pairs.items() if isinstance(pairs, Mapping) else pairs):
            out[pattern.format(name)] = value
    return out


def metrics_csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """The metrics CSV of epoch rows (EpochRecord.as_dict() or a history's epoch dicts):
    METRIC_COLUMNS, then the task's own columns (val_r2, val_map50, val_loss/box …) in
    the order they first appear; floats to 6 significant digits, an empty cell where a
    value was not measured."""
    rows = list(rows)
    extra: dict[str, None] = {}
    for row in rows:
        extra.update(dict.fromkeys(task_values(row)))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((*METRIC_COLUMNS, *extra))
    for row in rows:
        task = task_values(row)
        cells = [row.get(c) for c in METRIC_COLUMNS] + [task.get(c) for c in extra]
        writer.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
                         for v in cells])
    return buf.getvalue()


class _Record:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class FitStartRecord(_Record):
    device: str
    precision: str               # "fp32", "bf16", "fp16"
    channels_last: bool
    epochs: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    start_epoch: int             # 1-based epoch the run starts (or resumes) in
    start_step: int              # optimisation steps already done (resume)
    train_samples: int
    val_samples: int
    num_classes: int
    parameters: int
    in_memory: bool
    notes: tuple[str, ...] = ()  # things the user should know (softmax folded, ...)


@dataclass(frozen=True)
class BatchRecord(_Record):
    """Sent at a throttled rate; ``losses``/``lrs`` hold every step since the last record
    (the first of them is step ``step - len(losses) + 1``)."""

    epoch: int                   # 1-based
    batch: int                   # batches done in this epoch
    batches: int                 # batches per epoch
    step: int                    # optimisation steps done in the whole run
    loss: float                  # mean loss over the steps since the last record
    accuracy: float              # training accuracy over the same steps
    lr: float                    # learning rate of the latest step
    images_per_s: float
    elapsed_s: float             # training time, pauses excluded
    eta_s: float
    losses: tuple[float, ...] = ()
    lrs: tuple[float, ...] = ()
    events: tuple[str, ...] = ()  # e.g. "learning rate set to 0.001 at step 120"
    # networks with several heads: (head name, mean loss over the same steps)
    head_losses: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ValidationRecord(_Record):
    epoch: int
    step: int
    loss: float
    accuracy: float
    top5: float | None           # only when there are more than 5 classes
    samples: int
    seconds: float
    # the task's metrics (name, value): ("r2", 0.97), ("mae/size", 1.2), ("map50", 0.8) ...
    metrics: tuple[tuple[str, float], ...] = ()
    head_losses: tuple[tuple[str, float], ...] = ()
    # regression: per target (name, true values, predicted values), at most 1,000 images,
    # for the live predicted-vs-true scatter
    scatter: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = ()


@dataclass(frozen=True)
class EpochRecord(_Record):
    epoch: int
    step: int
    train_loss: float
    train_accuracy: float        # NaN where the task has no training score (regression …)
    val_loss: float | None
    val_accuracy: float | None
    val_top5: float | None
    lr: float
    images_per_s: float
    epoch_s: float
    elapsed_s: float
    eta_s: float
    monitored: float             # the early-stopping metric's value this epoch
    best: bool                   # this epoch is the best so far (the 'best' checkpoint)
    # the task's validation metrics and per-head losses (see ValidationRecord), and the
    # training per-head losses; empty for a classification network with one output
    val_metrics: tuple[tuple[str, float], ...] = ()
    val_head_losses: tuple[tuple[str, float], ...] = ()
    train_head_losses: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """As _Record's, with the (name, value) pairs as objects (what JSON keeps) and a
        train accuracy the task does not measure (NaN) as None."""
        out = asdict(self)
        for name in ("val_metrics", "val_head_losses", "train_head_losses"):
            out[name] = dict(getattr(self, name))
        if math.isnan(out["train_accuracy"]):
            out["train_accuracy"] = None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochRecord:
        """The record of an ``as_dict`` (checked first where it came from a file)."""
        values = dict(data)
        for name in ("val_metrics", "val_head_losses", "train_head_losses"):
            values[name] = tuple((str(k), float(v)) for k, v in dict(values.get(name) or {}).items())
        if values.get("train_accuracy") is None:
            values["train_accuracy"] = math.nan
        return cls(**values)

    def metric_values(self) -> dict[str, float]:
        """Every measured value by its recorded name — train_loss, val_loss,
        train_accuracy, val_accuracy, val_top5, val_<metric> (val_r2, val_map50, …),
        val_loss/<head>, train_loss/<head> — the names sweeps and early stopping use."""
        out = {k: float(v) for k, v in (("train_loss", self.train_loss),
                                         ("train_accuracy", self.train_accuracy),
                                         ("val_loss", self.val_loss), ("val_accuracy", self.val_accuracy),
                                         ("val_top5", self.val_top5))
               if v is not None and not math.isnan(v)}
        out.update((f"val_{name}", float(v)) for name, v in self.val_metrics)
        out.update((f"val_loss/{name}", float(v)) for name, v in self.val_head_losses)
        out.update((f"train_loss/{name}", float(v)) for name, v in self.train_head_losses)
        return out


@dataclass(frozen=True)
class FailureRecord(_Record):
    kind: str                    # "nan", "oom", "error"
    message: str                 # for the user: what happened and what to try
    epoch: int
    step: int
    traceback: str = ""
    suggested_batch_size: int | None = None
    checkpoint: str | None = None  # the last good checkpoint, kept on disk


@dataclass(frozen=True)
class FitResult(_Record):
    status: str                  # "completed", "stopped", "early_stopped", "failed"
    epochs_completed: int
    steps: int
    history: tuple[EpochRecord, ...]
    best_epoch: int | None
    best_metric: float | None
    metric: str
    last_checkpoint: str | None
    best_checkpoint: str | None
    elapsed_s: float
    notes: tuple[str, ...] = ()
    failure: FailureRecord | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"
