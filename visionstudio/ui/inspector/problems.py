"""The selected layer's problems in the inspector: what is wrong, what to change, and a
button per quick fix.

The fixes are core/graph/fixes.py's answer for the current analysis; the buttons are
made again after every analysis, so a button never holds a fix for a graph that has
since changed. A click pushes the fix through the controller: one undo step.
"""

from __future__ import annotations

import html
import textwrap

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from visionstudio.core.graph import GraphAnalysis
from visionstudio.core.graph.fixes import QuickFix, quick_fixes
from visionstudio.ui.canvas.layer_style import ERROR_COLOR, WARNING_COLOR
from visionstudio.ui.canvas.node_fixes import dataset_classes

BUTTON_LINE = 34  # characters per line of a fix button: a push button does not wrap by itself


class ProblemsBox(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.fixes: list[QuickFix] = []
        self.buttons: list[QPushButton] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.label = QLabel(self)
        self.label.setObjectName("diagnostics")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        lay.addWidget(self.label)
        self._buttons_box = QVBoxLayout()
        self._buttons_box.setSpacing(4)
        lay.addLayout(self._buttons_box)
        self.hide()

    def show_for(self, analysis: GraphAnalysis, node_id: str | None) -> None:
        """The problems and fixes of ``node_id`` in ``analysis`` (hidden when it has none)."""
        info = analysis.nodes.get(node_id) if node_id else None
        diagnostics = info.diagnostics if info is not None else []
        lines = []
        for d in diagnostics:
            color = ERROR_COLOR if d.severity == "error" else WARNING_COLOR
            lines.append(f"<p style='color:{color.name()}; margin:0 0 2px 0'>⚠ {html.escape(d.message)}</p>")
            if d.hint:
                lines.append(f"<p style='margin:0 0 6px 12px'><b>To fix:</b> {html.escape(d.hint)}</p>")
        self.label.setText("".join(lines))
        self.label.setVisible(bool(lines))
        graph = self.controller.graph
        fixes = []
        if node_id is not None and node_id in graph.nodes:
            classes = dataset_classes(self.controller.document)
            fixes = quick_fixes(graph, analysis, node_id, num_classes=classes)
        self._set_fixes(fixes)
        self.setVisible(bool(lines) or bool(fixes))

    def _set_fixes(self, fixes: list[QuickFix]) -> None:
        for button in self.buttons:
            self._buttons_box.removeWidget(button)
            button.deleteLater()
        self.fixes = fixes
        self.buttons = []
        for fix in fixes:
            text = "\n".join(textwrap.wrap(f"Fix: {fix.title}", BUTTON_LINE))
            button = QPushButton(text.replace("&", "&&"), self)
            button.setObjectName("quickFix")
            button.setToolTip(f"{fix.title}. Edit › Undo (Ctrl+Z) takes it back.")
            button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, command=fix.command: self.controller.push(command))
            self._buttons_box.addWidget(button)
            self.buttons.append(button)
