"""The metric the dashboard's second plot shows: accuracy (the classic three curves), or
any metric the shown run recorded per epoch — the task's metrics (R², MAE, IoU, mAP …,
``val_<metric>`` as EpochRecord.metric_values names them) and the per-head losses
(``train_loss/<head>`` and ``val_loss/<head>`` drawn together as "loss/<head>").

The choice lists what the shown run has. Until the user picks one, a run of another task
than classification shows its primary metric (the first of TaskKind.primary_metric the
run recorded): a regression run opens on R², a detection run on mAP@0.5. A metric the
next run does not have falls back to that default. The plot's title and its y axis name
the metric; fractions (accuracy, IoU, mAP, precision, recall) keep the 0–1 range, other
values (R² can be negative, errors are unbounded) range automatically.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from visionstudio.core.tasks import TASK_KINDS
from visionstudio.ui.forms import ignore_wheel_unless_focused
from visionstudio.ui.plots.metric_names import ACCURACY, is_fraction, metric_label, metric_text
from visionstudio.ui.plots.style import DARK_BLUE, decimate, metric_title, set_if_changed, titles

EMPTY = (np.zeros(0), np.zeros(0))


def epoch_values(row: dict[str, Any]) -> dict[str, float]:
    """One history row (EpochRecord.as_dict, or a row read from metrics.json) by the names of
    EpochRecord.metric_values; rows of older runs lack the task fields and give fewer."""
    out = {k: float(row[k]) for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                      "val_top5") if isinstance(row.get(k), (int, float))}
    for field, prefix in (("val_metrics", "val_"), ("val_head_losses", "val_loss/"),
                          ("train_head_losses", "train_loss/")):
        values = row.get(field)
        if isinstance(values, dict):
            out.update((f"{prefix}{k}", float(v)) for k, v in values.items() if isinstance(v, (int, float)))
    return out


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # history -> (epochs, count, results)


def _cached(history) -> dict:
    """What this module worked out from ``history``'s epochs (each row's values, the
    metric names, the curves), kept until its epochs change: a long run redraws its plots
    at every batch record, its epochs change once an epoch. RunHistory replaces its list
    of epochs on every change (add_epoch, truncate, load); the cache holds the list it
    read, so the identity check cannot be fooled by a reused id."""
    epochs = history.epochs
    cached = _CACHE.get(history)
    if cached is None or cached[0] is not epochs or cached[1] != len(epochs):
        cached = _CACHE[history] = (epochs, len(epochs), {"rows": [epoch_values(row) for row in epochs]})
    return cached[2]


def metric_names(history) -> list[str]:
    """The choices for ``history``: accuracy, then the task's metrics, then one per head."""
    results = _cached(history)
    if "names" in results:
        return results["names"]
    names: list[str] = [ACCURACY]
    heads: list[str] = []
    for values in results["rows"]:
        for key in values:
            if key.startswith(("val_loss/", "train_loss/")):
                head = "loss/" + key.split("/", 1)[1]
                if head not in heads:
                    heads.append(head)
            elif key.startswith("val_") and key not in ("val_loss", "val_accuracy") and key not in names:
                names.append(key)
    results["names"] = names + heads
    return results["names"]


def default_metric(history) -> str:
    """The task's primary metric when the run recorded one, else accuracy."""
    recorded = {key for row in history.epochs[-1:] for key in epoch_values(row)}
    for task in TASK_KINDS.values():
        if task.primary_metric != ACCURACY and f"val_{task.primary_metric}" in recorded:
            return f"val_{task.primary_metric}"
    return ACCURACY


def series(history, name: str, x: str = "step") -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(train, validation) curves of ``name`` (accuracy: the epoch curves; a head's loss: its
    training and validation losses; a validation metric: no training curve)."""
    if name == ACCURACY:   # a localization run's accuracy is among its metrics
        return _curve(history, "train_accuracy", x), _curve(history, "val_accuracy", x)
    if name.startswith("loss/"):
        head = name.split("/", 1)[1]
        return _curve(history, f"train_loss/{head}", x), _curve(history, f"val_loss/{head}", x)
    return EMPTY, _curve(history, name, x)


def _curve(history, name: str, x: str) -> tuple[np.ndarray, np.ndarray]:
    results = _cached(history)
    curve = results.get(("curve", name, x))
    if curve is None:
        pairs = [(row[x], values[name]) for row, values in zip(history.epochs, results["rows"])
                 if math.isfinite(values.get(name, math.nan))    # NaN: not measured (no training accuracy)
                 and isinstance(row.get(x), (int, float))]
        xs, ys = zip(*pairs) if pairs else ((), ())
        curve = (np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
        results[("curve", name, x)] = curve
    return curve


def epoch_readout(row: dict, key: str) -> str:
    """The hover readout's epoch part: its accuracy (train, val) or the metric shown."""
    values = epoch_values(row)
    if key == ACCURACY:
        shown = [f"{which} {values[f'{which}_accuracy']:.1%}" for which in ("train", "val")
                 if math.isfinite(values.get(f"{which}_accuracy", math.nan))]
    elif key.startswith("loss/"):
        head = key.split("/", 1)[1]
        shown = [f"{metric_label(key)} {which} {values[f'{which}_loss/{head}']:.4g}"
                 for which in ("train", "val") if f"{which}_loss/{head}" in values]
    else:
        shown = [metric_text(key.removeprefix("val_"), values[key])] if key in values else []
    return f"epoch {row['epoch']}: " + (", ".join(shown) or "–")


def overlay_series(history, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The one curve of an overlaid run: the validation curve, else the training one."""
    train, val = series(history, name)
    return val if len(val[0]) else train


class MetricChoice(QComboBox):
    """The dashboard's "which metric" combo; ``changed`` fires when the user picks one."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        ignore_wheel_unless_focused(self)
        self.setObjectName("plotMetricCombo")
        self.setAccessibleName("Metric shown")
        self.setToolTip("The metric the second plot shows: accuracy, the task's metrics "
                        "(R², MAE, IoU, mAP …) or one head's loss")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.chosen: str | None = None    # the user's pick; None: the run's default
        self.key = ACCURACY               # what is shown now
        self._names: tuple[str, ...] = ()
        self.drawn: str | None = ACCURACY  # what the plot's title and axis name (built for accuracy)
        self.train_color = DARK_BLUE
        self.activated.connect(self._on_activated)
        self.hide()                       # shown once a run has more than accuracy

    def update_for(self, history) -> str:
        """The metric to draw for ``history`` (the choices follow what it recorded)."""
        names = tuple(metric_names(history))
        key = self.chosen if self.chosen in names else default_metric(history)
        if names != self._names:
            self._names = names
            self.blockSignals(True)
            self.clear()
            for name in names:
                self.addItem(metric_label(name), name)
            self.blockSignals(False)
            self.setVisible(len(names) > 1)
        self.setCurrentIndex(max(0, self.findData(key)))
        self.key = key
        return key

    def choose(self, name: str) -> None:
        """Show ``name`` (as picking it in the combo does)."""
        self.chosen = name
        self.changed.emit()

    def restyle(self, plot, train_color: str | None = None) -> None:
        """Title, y axis and range of ``plot`` for the metric shown (and the theme's colour)."""
        self.train_color = train_color or self.train_color
        key = self.drawn = self.key
        if key == ACCURACY:
            plot.setTitle(titles(self.train_color)["accuracy"])
        else:
            plot.setTitle(metric_title(metric_label(key), self.train_color, key.startswith("loss/")))
        axis = plot.getAxis("left")
        axis.setLabel(metric_label(key) if key != ACCURACY else "")
        axis.showLabel(key != ACCURACY)
        if is_fraction(key):
            plot.setYRange(0, 1, padding=0.02)
        else:
            plot.enableAutoRange(y=True)

    def _on_activated(self, index: int) -> None:
        self.choose(self.itemData(index))


def draw_metric(plot, items: dict, history, choice: MetricChoice) -> str:
    """Draw the chosen metric of ``history`` on the second plot (its items are reused:
    the running training accuracy, the train curve, the validation curve); its key."""
    key = choice.update_for(history)
    if key == ACCURACY:
        a = history.batch_arrays()
        items["acc_batch"].setData(*decimate(a["acc_step"], a["acc"]), connect="finite")
        items["acc_batch"]._fed_series = None      # fed here, not by set_if_changed
    else:
        set_if_changed(items["acc_batch"], *EMPTY)
    train, val = series(history, key)
    set_if_changed(items["train_acc"], *train)
    set_if_changed(items["val_acc"], *val)
    if key != choice.drawn:
        choice.restyle(plot)
    return key
