"""StatusLine: the training panel's status text, which changes four times a second.

Not a QLabel: ``QLabel.setText`` calls ``updateGeometry`` on every change, and unless a
widget's size is fixed in both directions Qt then re-runs the parent's layout. In the
training panel each batch record re-laid out the panel and the window's splitter and
repainted their backgrounds under the label (~1 ms of the GUI thread a record, measured
while a run trained; on 2 cores each GUI millisecond costs the run about two, see
docs/training-in-the-app.md). This widget's height is fixed at two lines and a new text
only repaints its own rectangle; a text longer than two lines ends in an ellipsis, the
whole of it in the tooltip and for screen readers.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QTextLayout
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["StatusLine"]


class StatusLine(QWidget):
    """Word-wrapped text in at most ``lines`` lines; ``text`` / ``setText`` as a QLabel's."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, lines: int = 2) -> None:
        super().__init__(parent)
        self._text = ""
        self._lines = max(1, int(lines))
        self._shown: list[tuple[str, bool]] | None = None   # laid out for the current width
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit_height()
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name, on purpose
        text = str(text)
        if text == self._text:
            return
        self._text = text
        self._shown = None
        self.setAccessibleDescription(text)
        self.update()

    def lines(self) -> list[str]:
        """The lines as painted at the current width (the last one elided when cut)."""
        return [line for line, _cut in self._layout()]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(200, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(40, self.height())

    def _fit_height(self) -> None:
        margin = 2
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self._lines + margin)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_height()
            self._shown = None
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.oldSize().width() != event.size().width():
            self._shown = None
        super().resizeEvent(event)

    def _layout(self) -> list[tuple[str, bool]]:
        if self._shown is not None:
            return self._shown
        width = max(1, self.width())
        layout = QTextLayout(self._text, self.font())
        layout.beginLayout()
        got: list[tuple[int, int]] = []
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            got.append((line.textStart(), line.textLength()))
        layout.endLayout()
        shown = [(self._text[a:a + n].rstrip(), False) for a, n in got[:self._lines]]
        if len(got) > self._lines:
            start = got[self._lines - 1][0]
            rest = self._text[start:].replace("\n", " ")
            shown[-1] = (self.fontMetrics().elidedText(rest, Qt.TextElideMode.ElideRight, width), True)
        self._shown = shown
        self.setToolTip(self._text if any(cut for _line, cut in shown) else "")
        return shown

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        step = self.fontMetrics().lineSpacing()
        for i, (line, _cut) in enumerate(self._layout()):
            painter.drawText(QRect(0, i * step, self.width(), step),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)
        painter.end()
