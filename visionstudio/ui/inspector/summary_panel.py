"""Model summary: one row per layer (name, kind, output shape, parameters, FLOPs) and totals.

The numbers are the controller's shape analysis, the same as ``visionstudio summary``
prints, with the memory estimate for training at the project's batch size (it says so
when that does not fit in this machine's memory: Train will refuse). Clicking a row
selects that layer on the canvas; selecting on the canvas highlights the row.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core import memory as core_memory
from visionstudio.core.graph import GraphAnalysis
from visionstudio.core.layers import fmt_shape
from visionstudio.core.summary import NetworkSummary, human_count, summarize
from visionstudio.ui.shell.controller import DocumentController

COLUMNS = ("Layer", "Kind", "Output shape", "Parameters", "FLOPs")
NODE_ROLE = Qt.ItemDataRole.UserRole


def totals_text(summary: NetworkSummary) -> str:
    t = summary.totals
    parts = [f"{len(summary.rows)} layers", f"{t.params:,} parameters ({t.weight_mb:.2f} MB)",
             *([f"{t.trainable_params:,} trainable · {t.frozen_params:,} frozen"] if t.frozen_params else []),
             f"{human_count(t.flops)} FLOPs per image",
             f"input {fmt_shape(summary.input_shape)} → output {fmt_shape(summary.output_shape)}"]
    errors = sum(1 for d in summary.diagnostics if d["severity"] == "error")
    if errors:
        parts.append(f"{errors} problem{'s' if errors != 1 else ''}")
    return "Total: " + " · ".join(parts)


def memory_text(summary: NetworkSummary) -> tuple[str, str, bool]:
    """(line, tooltip, fits) for the training memory estimate; ('', '', True) without one."""
    m = summary.memory
    if m is None:
        return "", "", True
    tip = m.breakdown() + " (float32; mixed precision lowers the activations)"
    problem = core_memory.memory_problem(m, core_memory.host_available())
    if problem:
        return f"⚠ Training {problem}", tip, False
    return m.describe(), tip, True


class SummaryPanel(QWidget):
    node_activated = Signal(str)  # the user picked this layer's row (click or keyboard)

    def __init__(self, controller: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryPanel")
        self.setAccessibleName("Model summary")
        self.controller = controller
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("summaryTable")
        self.table.setAccessibleName("Layers of the model")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrows move between cells
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the kind and its details
        header.setDefaultSectionSize(120)
        header.resizeSection(0, 140)
        self.totals = QLabel(self)
        self.totals.setObjectName("summaryTotals")
        self.totals.setAccessibleName("Model totals")
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals.setWordWrap(True)   # a long line must not set the window's minimum width
        self.memory = QLabel(self)
        self.memory.setObjectName("summaryMemory")
        self.memory.setAccessibleName("Memory needed for training")
        self.memory.setWordWrap(True)
        self.memory.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        layout.addWidget(self.memory)
        self._syncing = False
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        controller.analysis_changed.connect(self._on_controller_analysis_changed)
        controller.selection_changed.connect(self._on_controller_selection_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        self._bind_document(controller.document)
        self.refresh()

    def _bind_document(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)
        doc.graph.transfer.changed.connect(self._on_transfer_changed)

    def _on_transfer_changed(self, _node_ids) -> None:
        # the trainable / frozen counts, once the command that changed them has finished:
        # Group into Block moves the options before the network is analysed again
        QTimer.singleShot(0, self, self.refresh)

    def _on_controller_document_replaced(self, doc) -> None:
        self._bind_document(doc)
        self.refresh()

    def _on_document_settings_changed(self, section: str) -> None:
        if section == "training":    # the batch size and the optimizer move the estimate
            self.refresh()

    # -- model -> view -----------------------------------------------------------
    def refresh(self) -> None:
        c = self.controller
        self.summary = summarize(c.document.graph, c.document.name, analysis=c.network_analysis,
                                 training=c.document.training)
        self._syncing = True
        try:
            self.table.setRowCount(len(self.summary.rows))
            for r, row in enumerate(self.summary.rows):
                kind = row.title + (f" ({row.details})" if row.details else "")
                values = (row.name, kind, fmt_shape(row.output_shape), f"{row.params:,}",
                          human_count(row.flops))
                for col, text in enumerate(values):
                    item = QTableWidgetItem(text)
                    item.setData(NODE_ROLE, row.id)
                    if col >= 3:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if col == 4:
                        item.setToolTip(f"{row.flops:,} FLOPs per image")
                    if row.problems:
                        item.setForeground(Qt.GlobalColor.red)
                        item.setToolTip("\n".join(row.problems))
                    self.table.setItem(r, col, item)
            self.totals.setText(totals_text(self.summary))
            line, tip, fits = memory_text(self.summary)
            self.memory.setText(line)
            self.memory.setToolTip(tip)
            self.memory.setStyleSheet("" if fits else "color:#e8a33c; font-weight:bold")
        finally:
            self._syncing = False
        self._on_controller_selection_changed(c.selection)

    def node_ids(self) -> list[str]:
        return [self.table.item(r, 0).data(NODE_ROLE) for r in range(self.table.rowCount())]

    def _on_controller_analysis_changed(self, analysis: GraphAnalysis) -> None:
        self.refresh()

    def _on_controller_selection_changed(self, node_ids: list[str]) -> None:
        wanted = set(node_ids)
        self._syncing = True
        try:
            model = self.table.selectionModel()
            self.table.clearSelection()
            first = None
            for r, nid in enumerate(self.node_ids()):
                if nid in wanted:
                    model.select(self.table.model().index(r, 0),
                                 QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
                    first = r if first is None else first
            if first is not None:  # a layer found or stepped to on the canvas shows here too
                self.table.scrollTo(self.table.model().index(first, 0))
        finally:
            self._syncing = False

    # -- view -> controller ---------------------------------------------------------
    def _on_table_selection_changed(self) -> None:
        if self._syncing:
            return
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        ids = self.node_ids()
        self.controller.set_selection([ids[r] for r in rows])
        current = self.table.currentRow()
        if rows and 0 <= current < len(ids):
            self.node_activated.emit(ids[current])
