"""The Layer health panel and the canvas overlay, both fed by the run controller's
``health`` signal (LayerHealthRecords, core/training/layer_health.py).

The panel is a table, one row per layer: the latest activation mean/std, dead share,
gradient norm and update ratio, and two sparklines (dead share and gradient norm over
the run) drawn with QPainter into small pixmaps, so a record costs one table update and
nothing is redrawn between records. The findings are listed above it in words.

The overlay puts the same record on the canvas: each node named in it gets a heat tint
and badge (ui/canvas/health_badge.py); a new run starts with clean nodes.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from visionstudio.ui.canvas.health_badge import NodeHealth
from visionstudio.ui.training.run_controller import runs_for

HISTORY = 60                        # sparkline points per layer
SPARK = QSize(90, 20)
COLUMNS = ("Layer", "Mean", "Std", "Dead", "Dead over time", "Gradient norm", "Gradient over time",
           "Update / weight")
TINT_FROM = 0.2                     # a ReLU layer is tinted from this dead share on


def node_health(record: Any) -> dict[str, NodeHealth]:
    """What each node of ``record`` shows: the finding's badge and words, or only a tint."""
    words: dict[str, str] = {}
    for layer, text in record.findings:   # a dead layer's finding before its gradient's
        if "never fire" not in words.get(layer, ""):
            words[layer] = text
    out: dict[str, NodeHealth] = {}
    for h in record.layers:
        text = words.get(h.layer, "")
        dead = h.dead or 0.0
        if text and "never fire" in text:
            out[h.layer] = NodeHealth(f"{dead:.0%} dead", text, dead, True)
        elif text:
            kind = next((k for k in ("vanishing", "exploding") if k in text), "none")
            out[h.layer] = NodeHealth(f"∇ {kind}", text, 0.0, False)
        elif dead >= TINT_FROM:
            out[h.layer] = NodeHealth("", "", dead, False)
    if record.nonfinite_layer:
        out[record.nonfinite_layer] = NodeHealth("NaN", words.get(record.nonfinite_layer, ""), 1.0, True)
    return out


def scope_prefixes(network: Any, path: Any) -> list[str]:
    """The record labels' prefixes of the layers an opened block shows: the path of
    instance names it was opened from ("block1."), or, opened from the library, every
    instance of its definition."""
    prefixes, graph = [""], network
    for level in path:
        node = graph.nodes.get(level.instance) if level.instance is not None else None
        names = ([node.name] if node is not None else
                 [n.name for n in graph.nodes.values()
                  if n.kind == "block" and n.params.get("block") == level.key])
        prefixes = [p + name + "." for p in prefixes for name in names]
        if level.key not in network.blocks:
            return []
        graph = network.blocks.get(level.key).graph
    return prefixes


def _worst(found: list[NodeHealth]) -> NodeHealth:
    """Of one layer's health in several instances, the one to show: a finding first."""
    return max(found, key=lambda h: (h.severe, bool(h.badge), h.heat))


class HealthOverlay(QObject):
    """Badges on the canvas of ``window`` from its run controller's health records; an
    opened block shows its layers' health (the worst over its instances)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.last: Any = None
        runs = runs_for(window.controller)
        runs.health.connect(self.show_record)
        runs.fit_started.connect(lambda _record: self.clear())
        runs.store_reset.connect(self.clear)
        window.controller.scope_changed.connect(self._on_scope_changed)

    def _items(self) -> dict[str, Any]:
        scene = self.window.canvas.scene()
        return {item.name: item for item in scene.node_items()} if scene is not None else {}

    def _scoped(self, health: dict[str, NodeHealth]) -> dict[str, NodeHealth]:
        controller = self.window.controller
        if not controller.scope:
            return health
        prefixes = scope_prefixes(controller.document.graph, controller.scope)
        found: dict[str, list[NodeHealth]] = {}
        for label, value in health.items():
            for prefix in prefixes:
                rest = label[len(prefix):] if label.startswith(prefix) else ""
                if rest and "." not in rest:
                    found.setdefault(rest, []).append(value)
        return {name: _worst(values) for name, values in found.items()}

    def show_record(self, record: Any) -> None:
        self.last = record
        health = self._scoped(node_health(record))
        for name, item in self._items().items():
            if record.layers:
                item.set_health(health.get(name))
            elif name in health:   # a NaN record without numbers: the other nodes stay as shown
                item.set_health(health[name])

    def _on_scope_changed(self, _path) -> None:
        if self.last is not None:
            self.show_record(self.last)

    def clear(self) -> None:
        self.last = None
        for item in self._items().values():
            item.set_health(None)


def install(window) -> HealthOverlay:
    overlay = getattr(window, "_health_overlay", None)
    if overlay is None:
        overlay = HealthOverlay(window)
        window._health_overlay = overlay
    return overlay


def sparkline(values: list[float], color: QColor, log: bool = False) -> QPixmap:
    pixmap = QPixmap(SPARK)
    pixmap.fill(Qt.GlobalColor.transparent)
    points = [math.log10(v) if log else v for v in values if v is not None and (v > 0 or not log)]
    points = [v for v in points if math.isfinite(v)]
    if len(points) >= 2:
        lo, hi = min(points), max(points)
        span = hi - lo or 1.0
        w, h = SPARK.width() - 2, SPARK.height() - 4
        line = QPolygonF([QPointF(1 + i * w / (len(points) - 1), 2 + h - (v - lo) / span * h)
                          for i, v in enumerate(points)])
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 1.4))
        painter.drawPolyline(line)
        painter.end()
    return pixmap


def _number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:.0%}" if percent else f"{value:.3g}"


class LayerHealthPanel(QWidget):
    """The table of layers, with sparklines; empty until a run with layer health trains."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerHealth")
        self.setAccessibleName("Layer health")
        self.runs = runs_for(controller)
        self.history: dict[str, tuple[deque, deque]] = {}
        self.findings = QLabel("Layer health appears here while a network trains "
                               "(Training settings › layer health).")
        self.findings.setWordWrap(True)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("layerHealthTable")
        self.table.setAccessibleName("Health of each layer")
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrows move between cells
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setIconSize(SPARK)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.findings)
        layout.addWidget(self.table, 1)
        self.runs.health.connect(self.show_record)
        self.runs.fit_started.connect(lambda _record: self.clear())

    def clear(self) -> None:
        self.history.clear()
        self.table.setRowCount(0)

    def show_record(self, record: Any) -> None:
        if record.findings:
            self.findings.setText("\n".join(text for _layer, text in record.findings))
        elif record.layers:
            self.findings.setText(f"No problems found (step {record.step}).")
        if not record.layers or record.nonfinite_layer:
            return
        # with the columns sized to their contents, every setItem re-measured its whole
        # column (16 ms a record for seven layers, on the GUI thread while training): fill
        # with fixed columns, then size them once
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setUpdatesEnabled(False)
        try:
            self.table.setRowCount(len(record.layers))
            accent = self.palette().highlight().color()
            for row, h in enumerate(record.layers):
                dead, grads = self.history.setdefault(h.layer, (deque(maxlen=HISTORY), deque(maxlen=HISTORY)))
                dead.append(h.dead)
                grads.append(h.grad_norm)
                cells = (h.layer, _number(h.mean), _number(h.std), _number(h.dead, True), None,
                         _number(h.grad_norm), None, _number(h.update_ratio))
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text or "")
                    if col == 4 and h.dead is not None:
                        item.setData(Qt.ItemDataRole.DecorationRole, sparkline(list(dead), QColor("#c0392b")))
                    elif col == 6 and h.grad_norm is not None:
                        item.setData(Qt.ItemDataRole.DecorationRole, sparkline(list(grads), accent, log=True))
                    self.table.setItem(row, col, item)
        finally:
            self.table.setUpdatesEnabled(True)
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
