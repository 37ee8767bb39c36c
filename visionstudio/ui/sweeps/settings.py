"""How the sweep searches: sampler, pruner, budget, objective, epochs, repeats, name.

``values()`` gives the sweep file's own keys (docs/sweeps.md), so the panel builds its
SweepConfig through the same ``SweepConfig.from_dict`` the command line reads: one set
of checks, one set of messages. A budget field at 0 means "no limit" (at least one of
trials and minutes must be set; the panel says so). The objective lists the metrics
runs record (any ``val_*`` a task adds can be typed in); choosing one sets the
direction a user expects (losses down, the rest up), which stays editable.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QSpinBox, QWidget

SAMPLERS = (("tpe", "TPE (learns from past trials)"), ("random", "Random"),
            ("grid", "Grid (every combination)"))
PRUNERS = (("none", "None"), ("median", "Median (stop below the median)"), ("halving", "Successive halving"))
METRICS = ("val_loss", "val_accuracy", "val_top5", "train_loss", "train_accuracy", "val_r2",
           "val_map50", "val_map")
DIRECTIONS = (("minimize", "minimise"), ("maximize", "maximise"))


def default_direction(metric: str) -> str:
    return "minimize" if "loss" in metric or metric.endswith(("mae", "mse", "rmse")) else "maximize"


def _combo(name: str, title: str, tip: str, items) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setAccessibleName(title)
    combo.setToolTip(tip)
    for key, text in items:
        combo.addItem(text, key)
    return combo


def _spin(name: str, title: str, tip: str, low: int, high: int, value: int, zero: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setAccessibleName(title)
    spin.setToolTip(tip)
    spin.setRange(low, high)
    spin.setValue(value)
    if zero:
        spin.setSpecialValueText(zero)
    return spin


class SweepSettings(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepSettings")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.name = QLineEdit("sweep-1")
        self.name.setObjectName("sweepName")
        self.name.setAccessibleName("Sweep name")
        self.name.setToolTip("The study's name in the project's sweeps database; the same name "
                             "continues a stopped sweep")
        form.addRow("Name", self.name)
        self.sampler = _combo("sweepSampler", "Sampler", "How the next trial's settings are chosen",
                              SAMPLERS)
        form.addRow("Sampler", self.sampler)
        self.pruner = _combo("sweepPruner", "Pruner", "Stop a trial early after an epoch whose "
                             "validation metric is worse than the other trials' at that epoch", PRUNERS)
        form.addRow("Pruner", self.pruner)
        self.trials = _spin("sweepTrials", "Trials", "How many trials at most; Continue runs this "
                            "many more (no limit: until the time runs out or the grid is done)",
                            0, 10_000, 10, "no limit")
        self.minutes = _spin("sweepMinutes", "Minutes", "Stop starting trials after this long "
                             "(no limit: until the trials are done)", 0, 100_000, 0, "no limit")
        budget = QHBoxLayout()
        budget.addWidget(self.trials)
        budget.addWidget(self.minutes)
        form.addRow("Trials · minutes", budget)
        self.metric = QComboBox()
        self.metric.setObjectName("sweepMetric")
        self.metric.setAccessibleName("Objective metric")
        self.metric.setToolTip("The recorded metric the sweep optimises (the last epoch's value)")
        self.metric.setEditable(True)
        self.metric.addItems(METRICS)
        self.metric.lineEdit().setAccessibleName("Objective metric name")
        self.metric.lineEdit().setToolTip(self.metric.toolTip())
        self.direction = _combo("sweepDirection", "Direction", "Whether a lower or a higher metric "
                                "is better", DIRECTIONS)
        objective = QHBoxLayout()
        objective.addWidget(self.metric, 1)
        objective.addWidget(self.direction)
        form.addRow("Objective", objective)
        self.metric.currentTextChanged.connect(self._on_metric_current_text_changed)
        self.epochs = _spin("sweepEpochs", "Epochs per trial", "Epochs each trial trains (project "
                            "setting: the project's own epochs)", 0, 10_000, 0, "project setting")
        self.repeats = _spin("sweepRepeats", "Repeats", "Seeds per set of settings: the table "
                             "shows mean ± sd over them", 1, 20, 1)
        more = QHBoxLayout()
        more.addWidget(self.epochs)
        more.addWidget(self.repeats)
        form.addRow("Epochs · repeats", more)

    def _on_metric_current_text_changed(self, text: str) -> None:
        self.direction.setCurrentIndex(self.direction.findData(default_direction(text.strip())))

    def values(self) -> dict[str, Any]:
        """The sweep file's keys for what this form shows (parameters aside)."""
        out: dict[str, Any] = {
            "name": self.name.text().strip(),
            "sampler": self.sampler.currentData(), "pruner": self.pruner.currentData(),
            "objective": {"metric": self.metric.currentText().strip(),
                          "direction": self.direction.currentData()},
            "repeats": self.repeats.value(),
        }
        if self.trials.value():
            out["trials"] = self.trials.value()
        if self.minutes.value():
            out["timeout_s"] = 60.0 * self.minutes.value()
        if self.epochs.value():
            out["epochs"] = self.epochs.value()
        return out

    def show_config(self, config: Any) -> None:
        """Show a stored sweep's settings (reopening it)."""
        self.name.setText(config.name)
        self.sampler.setCurrentIndex(max(0, self.sampler.findData(config.sampler)))
        self.pruner.setCurrentIndex(max(0, self.pruner.findData(config.pruner)))
        self.trials.setValue(config.trials or 0)
        self.minutes.setValue(round((config.timeout_s or 0) / 60))
        self.metric.setCurrentText(config.objective_metric)
        self.direction.setCurrentIndex(max(0, self.direction.findData(config.direction)))
        self.epochs.setValue(config.epochs or 0)
        self.repeats.setValue(config.repeats)
