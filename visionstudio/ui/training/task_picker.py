"""The Training panel's Task section: what the network is trained to do (a TASK_KINDS
choice pushed as SetTask), and a line saying what that task needs of the network.

Choosing a task whose labels the project's dataset does not give also switches to the
first dataset that gives them (the dataset list only offers those: datasets.py), in the
same undo step: a professional tool does not leave the project on a dataset the task
cannot train on, and Undo brings the old task and dataset back together. The dataset's
own settings are kept by Undo, not carried over (another dataset has other settings).

When the network has head layers (Output, Detect), each head carries its own loss and
weight, so the panel's Loss section is hidden and the hint says where the losses are.
Like the other settings, the choice is read-only while a run trains.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from visionstudio.core.commands import Macro
from visionstudio.core.layers import LAYERS
from visionstudio.core.project.commands import SetDatasetSettings, SetTask
from visionstudio.core.tasks import TASK_KINDS
from visionstudio.ui.forms import ignore_wheel_unless_focused
from visionstudio.ui.training.datasets import clean_params, datasets_for
from visionstudio.ui.training.run_controller import runs_for

NEEDS = {
    "classification": "Classification: end the network in one score per class (a Dense layer "
                      "with as many units as classes).",
    "regression": "Regression: end the network in an Output layer with target values, one number "
                  "per target of the dataset.",
    "localization": "Localization: two Output layers, a class head (one score per class) and a box "
                    "head (4 numbers: centre x, y, width, height).",
    "detection": "Detection: end the network in a Detect layer (5 + one channel per class, on a grid).",
}
HEAD_LOSSES = "Each head sets its own loss and weight: select its Output or Detect layer on the canvas."


def has_heads(graph, analysis) -> bool:
    """Whether the network ends in head layers (its losses are on the heads then); the
    analysis lists its outputs, so a large network is not walked at every edit."""
    kinds = (graph.nodes[nid].kind for nid in analysis.output_ids if nid in graph.nodes)
    return any(kind in LAYERS and LAYERS.get(kind).is_head for kind in kinds)


class TaskPicker(QGroupBox):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__("Task", parent)
        self.setObjectName("taskBox")
        self.controller = controller
        self.loss_box: QWidget | None = None
        layout = QVBoxLayout(self)
        self.combo = ignore_wheel_unless_focused(QComboBox())
        self.combo.setObjectName("taskCombo")
        self.combo.setAccessibleName("Task")
        self.combo.setToolTip("What the network is trained to do; the datasets offered and the "
                              "metrics reported follow it")
        for key, kind in TASK_KINDS.items():
            self.combo.addItem(kind.title, key)
            self.combo.setItemData(self.combo.count() - 1, kind.description, Qt.ItemDataRole.ToolTipRole)
        self.combo.activated.connect(self._on_combo_activated)
        layout.addWidget(self.combo)
        self.hint = QLabel()
        self.hint.setObjectName("taskHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.hint)
        self.runs = runs_for(controller)
        self.runs.state_changed.connect(self._on_runs_state_changed)
        controller.analysis_changed.connect(self._on_controller_analysis_changed)
        controller.document_replaced.connect(self._bind)
        self._bind(controller.document)
        self._on_runs_state_changed(self.runs.state)

    def follow_loss_box(self, box: QWidget) -> None:
        """Hide the panel's Loss section while the network's heads carry the losses."""
        self.loss_box = box
        self.refresh()

    def _bind(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)
        self.refresh()

    def _on_document_settings_changed(self, section: str) -> None:
        if section == "task":
            self.refresh()

    def _on_controller_analysis_changed(self, _analysis) -> None:
        self.refresh()

    def _on_runs_state_changed(self, _state: str) -> None:
        self.combo.setEnabled(not self.runs.busy)

    def refresh(self) -> None:
        doc = self.controller.document
        self.combo.setCurrentIndex(max(0, self.combo.findData(doc.task)))
        heads = has_heads(doc.graph, self.controller.network_analysis)
        self.hint.setText(NEEDS[doc.task] + (" " + HEAD_LOSSES if heads else ""))
        if self.loss_box is not None:
            self.loss_box.setVisible(not heads)

    def _on_combo_activated(self, _index: int) -> None:
        task = self.combo.currentData()
        doc = self.controller.document
        if task == doc.task:
            return
        command = SetTask(task)
        offered = datasets_for(task)
        if doc.dataset.key not in offered and offered:
            key = next(iter(offered))
            command = Macro(command.text, [command, SetDatasetSettings(key, clean_params(key, {}))])
        if not self.controller.push(command):
            self.refresh()
