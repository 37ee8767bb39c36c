"""The breadcrumb bar above the canvas while a block definition is open on it.

"Network › Basic block › SE": every crumb but the last goes back to its level; the last
says where the edits go and how many instances they change. The bar lives in the
view's top margin (it covers no layer) and is hidden at the network level.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from visionstudio.ui.canvas.layer_style import mix

HEIGHT = 32  # px: the view's top margin while the bar shows


def definition_title(graph, key: str) -> str:
    library = graph.blocks
    if key not in library:
        return key
    definition = library.get(key)
    return definition.title or key


class BreadcrumbBar(QFrame):
    """The crumbs of the controller's scope; a click on one leaves to its level."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("blockBreadcrumb")
        self.setAccessibleName("Where you are editing")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 2, 8, 2)
        self._layout.setSpacing(2)
        self.crumbs: list[QToolButton] = []  # one per level above the current one
        self.current = QLabel(self)
        self.current.setObjectName("blockBreadcrumbCurrent")
        self.note = QLabel(self)
        self.note.setObjectName("blockBreadcrumbNote")
        self.hide()

    def _colours(self) -> None:
        """Crumbs in the link colour (they act), the note muted but readable (it explains)."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = mix(text, palette.color(QPalette.ColorRole.Window), 0.35)
        self.note.setStyleSheet(f"color: {muted.name()}")
        link = palette.color(QPalette.ColorRole.Link).name()
        for crumb in self.crumbs:
            crumb.setStyleSheet(f"QToolButton {{ color: {link}; }} "
                                "QToolButton:hover { text-decoration: underline; }")

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light/dark switched while a block is open
            self._colours()

    def refresh(self) -> None:
        """Rebuild the crumbs from the controller's scope; show the bar only inside."""
        controller = self.view.controller
        scope = controller.scope
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget()
            if widget is not None and widget not in (self.current, self.note):
                widget.deleteLater()
        self.crumbs = []
        if not scope:
            self.hide()
            return
        network = controller.document.graph
        names = ["Network"] + [definition_title(network, level.key) for level in scope]
        for depth, name in enumerate(names[:-1]):
            crumb = QToolButton(self)
            crumb.setObjectName(f"blockCrumb{depth}")
            crumb.setText(name)
            crumb.setAutoRaise(True)
            crumb.setCursor(Qt.CursorShape.PointingHandCursor)
            crumb.setToolTip(f"Back to {name} (Esc goes up one level)")
            crumb.clicked.connect(lambda _checked=False, depth=depth: controller.leave_definition(depth))
            self._layout.addWidget(crumb)
            separator = QLabel("›", self)
            separator.setContentsMargins(4, 0, 4, 0)
            self._layout.addWidget(separator)
            self.crumbs.append(crumb)
        self.current.setText(f"<b>{names[-1]}</b>")
        self._layout.addWidget(self.current)
        self._layout.addSpacing(16)
        self.note.setText(self._note(network, scope[-1].key))
        self._layout.addWidget(self.note)
        self._layout.addStretch(1)
        self._colours()
        self.show()
        self.raise_()

    @staticmethod
    def _note(network, key: str) -> str:
        count = len(network.blocks.instances_of(network, key))
        if count == 0:
            return "Editing the block definition"
        if count == 1:
            return "Edits here change its one instance"
        return f"Edits here change all {count} instances"

    def crumb_texts(self) -> list[str]:
        current = self.current.text().removeprefix("<b>").removesuffix("</b>")
        return [c.text() for c in self.crumbs] + [current]
