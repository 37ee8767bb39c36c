"""The inspector's transfer-learning row for the selected layer: a *Trainable* switch
(untick to freeze its weights) and its learning-rate multiplier. Both push core commands
(undoable) and show what ``graph.transfer`` says, whoever changed it (the canvas menu,
undo). Hidden inside an opened block definition: the options belong to the network's
layers and block instances.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from visionstudio.core.graph.transfer import MAX_LR_MULTIPLIER, MIN_LR_MULTIPLIER
from visionstudio.core.graph.transfer_commands import SetLrMultiplier, SetTrainable
from visionstudio.ui.shell.push import push_or_reason


class TransferBox(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transferBox")
        self.controller = controller
        self._node_id: str | None = None
        self._graph = None
        line = QHBoxLayout(self)
        line.setContentsMargins(0, 0, 0, 0)
        self.trainable = QCheckBox("Trainable", self)
        self.trainable.setObjectName("trainableSwitch")
        self.trainable.setAccessibleName("Trainable")
        self.trainable.setToolTip("Untick to freeze this layer: its weights stay as they are while "
                                  "training (fine-tuning a pretrained network)")
        self.trainable.clicked.connect(self._on_trainable_clicked)
        line.addWidget(self.trainable)
        line.addStretch(1)
        label = QLabel("lr ×", self)
        line.addWidget(label)
        self.multiplier = QDoubleSpinBox(self)
        self.multiplier.setObjectName("lrMultiplier")
        self.multiplier.setAccessibleName("Learning-rate multiplier")
        self.multiplier.setToolTip("The learning rate of this layer's weights is multiplied by this "
                                   "(e.g. 10 for a new head); the schedule scales it with the rest")
        self.multiplier.setRange(MIN_LR_MULTIPLIER, MAX_LR_MULTIPLIER)
        self.multiplier.setDecimals(4)
        self.multiplier.setKeyboardTracking(False)
        label.setBuddy(self.multiplier)
        self.multiplier.editingFinished.connect(self._on_multiplier_edited)
        controller.selection_changed.connect(self._on_selection_changed)
        controller.document_replaced.connect(lambda _doc: self._on_selection_changed(controller.selection))
        controller.scope_changed.connect(lambda _scope: self._on_selection_changed(controller.selection))
        self._on_selection_changed(controller.selection)

    def _bind(self) -> None:
        graph = self.controller.document.graph
        if graph is not self._graph:
            if self._graph is not None:
                self._graph.transfer.changed.disconnect(self._on_transfer_changed)
            graph.transfer.changed.connect(self._on_transfer_changed)
            self._graph = graph

    def _on_selection_changed(self, ids: list[str]) -> None:
        self._bind()
        in_network = self.controller.graph is self.controller.document.graph
        self._node_id = ids[0] if len(ids) == 1 and in_network and ids[0] in self._graph.nodes else None
        self.setVisible(self._node_id is not None)
        self.refresh()

    def _on_transfer_changed(self, node_ids: list[str]) -> None:
        if self._node_id in node_ids:
            self.refresh()

    def refresh(self) -> None:
        if self._node_id is None:
            return
        options = self._graph.transfer
        self.trainable.setChecked(options.trainable(self._node_id))
        self.multiplier.blockSignals(True)
        self.multiplier.setValue(options.multiplier(self._node_id))
        self.multiplier.blockSignals(False)

    def _on_trainable_clicked(self, checked: bool) -> None:
        if self._node_id is not None:
            push_or_reason(self.controller, SetTrainable([self._node_id], checked))
        self.refresh()  # a refused edit: the switch shows the graph again

    def _on_multiplier_edited(self) -> None:
        if self._node_id is None:
            return
        value = self.multiplier.value()
        if value != self._graph.transfer.multiplier(self._node_id):
            push_or_reason(self.controller, SetLrMultiplier([self._node_id], value))
        self.refresh()
