"""python -m visionstudio.ui.inspector: the inspector alone on a demo network."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from visionstudio.ui.canvas.demo import demo_document
from visionstudio.ui.inspector.panel import InspectorPanel
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.launch import quit_demo_later


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    controller = DocumentController(demo_document())
    conv = next(n.id for n in controller.graph.nodes.values() if n.kind == "conv2d")
    controller.set_selection([conv])
    panel = InspectorPanel(controller)
    panel.setWindowTitle("VisionStudio inspector")
    panel.resize(320, 620)
    panel.show()
    quit_demo_later()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
