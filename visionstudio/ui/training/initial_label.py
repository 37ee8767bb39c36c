"""The training panel's "Starts from imported weights: P.weights.safetensors" line: a
fresh run of a project that names initial weights (an import) starts from them, which
the user should see before pressing Train (core.training.initial_weights). Its *Start
from scratch* button stops using them in one undoable step (the file stays on disk)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from visionstudio.core.project.commands import SetInitialWeights


def initial_text(name: str | None) -> str:
    return f"Starts from imported weights: {name}" if name else ""


class InitialWeightsLabel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("initialWeights")
        self.label = QLabel(self)
        self.label.setAccessibleName("Initial weights")
        self.label.setToolTip("A new run starts from these weights; layers changed since the import "
                              "start fresh. Continue starts from the run's checkpoint.")
        self.label.setWordWrap(True)
        self.scratch = QPushButton("Start from scratch", self)
        self.scratch.setObjectName("startFromScratch")
        self.scratch.setAccessibleName("Start from scratch")
        self.scratch.setToolTip("New runs start from a fresh initialisation instead of these weights "
                                "(the file is kept; Undo brings them back)")
        self.scratch.clicked.connect(self._on_scratch)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.scratch)
        self.controller = controller
        self._doc = None
        controller.document_replaced.connect(self._on_document_replaced)   # a method: dropped with the label
        self._bind(controller.document)

    def text(self) -> str:
        return self.label.text()

    def _bind(self, doc) -> None:
        if self._doc is not None:
            self._doc.settings_changed.disconnect(self._on_settings_changed)
        self._doc = doc
        doc.settings_changed.connect(self._on_settings_changed)   # held weakly (core.events)
        self.refresh()

    def _on_document_replaced(self, doc) -> None:
        self._bind(doc)

    def _on_settings_changed(self, section: str) -> None:
        if section == "initial_weights":
            self.refresh()

    def _on_scratch(self) -> None:
        self.controller.push(SetInitialWeights(None))   # refused (with the reason) while training

    def refresh(self) -> None:
        name = getattr(self.controller.document, "initial_weights", None)
        self.label.setText(initial_text(name))
        self.setVisible(bool(name))
