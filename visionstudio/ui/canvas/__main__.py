"""python -m visionstudio.ui.canvas: the canvas alone on a demo network."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from visionstudio.ui.canvas.demo import demo_document
from visionstudio.ui.canvas.view import GraphView
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.launch import quit_demo_later


def install_demo_actions(view: GraphView) -> None:
    """Standard shortcuts for running the canvas alone (the main window has its own)."""
    for text, keys, slot in [
        ("Undo", QKeySequence.StandardKey.Undo, view.controller.undo),
        ("Redo", QKeySequence.StandardKey.Redo, view.controller.redo),
        ("Copy", QKeySequence.StandardKey.Copy, view.copy_selection),
        ("Cut", QKeySequence.StandardKey.Cut, view.cut_selection),
        ("Paste", QKeySequence.StandardKey.Paste, view.paste),
        ("Select all", QKeySequence.StandardKey.SelectAll, view.select_all),
        ("Duplicate", QKeySequence("Ctrl+D"), view.duplicate_selection),
        ("Zoom in", QKeySequence.StandardKey.ZoomIn, view.zoom_in),
        ("Zoom out", QKeySequence.StandardKey.ZoomOut, view.zoom_out),
        ("Fit", QKeySequence("F"), view.fit_to_view),
        ("Arrange", QKeySequence("Ctrl+L"), view.auto_layout),
    ]:
        action = QAction(text, view)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        view.addAction(action)


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    controller = DocumentController(demo_document())
    view = GraphView(controller)
    install_demo_actions(view)
    view.status_message.connect(lambda text: view.window().setWindowTitle(f"Canvas — {text}"))
    view.setWindowTitle("VisionStudio canvas")
    view.resize(1100, 800)
    view.show()
    view.fit_to_view()
    quit_demo_later()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
