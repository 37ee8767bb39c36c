"""The training panel's "Starts from imported weights: P.weights.safetensors" line: a
fresh run of a project that names initial weights (an import) starts from them, which
the user should see before pressing Train (core.training.initial_weights)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


def initial_text(name: str | None) -> str:
    return f"Starts from imported weights: {name}" if name else ""


class InitialWeightsLabel(QLabel):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("initialWeights")
        self.setAccessibleName("Initial weights")
        self.setToolTip("A new run starts from these weights; layers changed since the import "
                        "start fresh. Continue starts from the run's checkpoint.")
        self.setWordWrap(True)
        self.controller = controller
        controller.document_replaced.connect(self._on_document_replaced)   # a method: dropped with the label
        self.refresh()

    def _on_document_replaced(self, _doc) -> None:
        self.refresh()

    def refresh(self) -> None:
        name = getattr(self.controller.document, "initial_weights", None)
        self.setText(initial_text(name))
        self.setVisible(bool(name))
