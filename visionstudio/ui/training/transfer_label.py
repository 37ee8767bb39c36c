"""The training panel's "N trainable · M frozen parameters" line: what a run will train,
from the network's analysis and its frozen layers (graph.transfer), kept current as
layers are frozen, unfrozen or edited."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from visionstudio.core.graph.transfer import parameter_split


def split_text(trainable: int, frozen: int) -> str:
    return f"{trainable:,} trainable · {frozen:,} frozen parameters"


class TransferCountLabel(QLabel):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("parameterSplit")
        self.setAccessibleName("Trainable and frozen parameters")
        self.setToolTip("Freeze layers from their right-click menu or the inspector's Trainable switch")
        self.controller = controller
        self._graph = None
        controller.analysis_changed.connect(lambda _analysis: self.refresh())
        controller.document_replaced.connect(lambda _doc: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        graph = self.controller.document.graph
        if graph is not self._graph:
            if self._graph is not None:
                self._graph.transfer.changed.disconnect(self._on_transfer_changed)
            graph.transfer.changed.connect(self._on_transfer_changed)
            self._graph = graph
        self.setText(split_text(*parameter_split(graph, self.controller.network_analysis)))

    def _on_transfer_changed(self, _node_ids) -> None:
        QTimer.singleShot(0, self, self.refresh)   # after the command: the analysis is current then
