"""The lock badge of a frozen layer (its weights do not train), drawn on the node's top
left corner, and the "lr ×10" mark of a layer with a learning-rate multiplier.

Where the badge goes is one function (``lock_rect``) so the tests find it on the node.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from visionstudio.ui.canvas.style import CanvasStyle

LOCK_COLOR = QColor("#3d6fb6")  # a calm blue: frozen is a choice, not a problem


def lock_rect(body: QRectF) -> QRectF:
    """The badge's circle over the body's top-left corner, inside the item's bounds."""
    return QRectF(body.left() - 4, body.top() - 4, 16, 16)


def multiplier_text(multiplier: float) -> str:
    return f"lr ×{multiplier:g}" if multiplier != 1.0 else ""


def paint_lock(painter: QPainter, style: CanvasStyle, body: QRectF) -> None:
    """A filled circle with a white padlock: a shackle arc over a small body."""
    circle = lock_rect(body)
    painter.save()
    painter.setPen(QPen(style.node_fill, 2))
    painter.setBrush(LOCK_COLOR)
    painter.drawEllipse(circle)
    c = circle.center()
    white = QColor("white")
    painter.setPen(QPen(white, 1.6))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(QRectF(c.x() - 2.8, c.y() - 5.4, 5.6, 6.0), 0, 180 * 16)
    painter.drawLine(QPointF(c.x() - 2.8, c.y() - 2.4), QPointF(c.x() - 2.8, c.y() - 0.6))
    painter.drawLine(QPointF(c.x() + 2.8, c.y() - 2.4), QPointF(c.x() + 2.8, c.y() - 0.6))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(white)
    painter.drawRoundedRect(QRectF(c.x() - 4.0, c.y() - 0.8, 8.0, 5.8), 1.4, 1.4)
    painter.restore()
