"""Layer health on a node while it trains: a heat tint (how many of its ReLU units are
dead) and a small badge in the bottom-left corner ("87% dead", "NaN", "∇ vanishing"),
from the latest LayerHealthRecord; the finding in words goes on the node's problem line
when it has no problem of its own, and into its tooltip.

Where the badge goes is one function (``health_rect``) so the tests find it on the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen

from visionstudio.ui.canvas.layer_style import ERROR_COLOR, WARNING_COLOR
from visionstudio.ui.canvas.style import CanvasStyle

HEAT_ALPHA = 70         # the tint's alpha at a fully dead layer


@dataclass(frozen=True)
class NodeHealth:
    badge: str = ""     # the short mark, "" for none
    words: str = ""     # the finding as a sentence, "" when the layer is healthy
    heat: float = 0.0   # 0..1: how strongly the body is tinted
    severe: bool = False  # red (NaN, dead) rather than amber


def health_rect(body: QRectF, style: CanvasStyle, text: str) -> QRectF:
    """The badge's pill over the body's bottom-left corner, inside the item's bounds."""
    width = QFontMetricsF(style.small_font).horizontalAdvance(text) + 10
    return QRectF(body.left() - 4, body.bottom() - 8, width, 14)


def paint_health(painter: QPainter, style: CanvasStyle, body: QRectF, health: NodeHealth) -> None:
    color = ERROR_COLOR if health.severe else WARNING_COLOR
    painter.save()
    if health.heat > 0:
        path = QPainterPath()
        path.addRoundedRect(body, 8, 8)
        tint = QColor(color)
        tint.setAlpha(int(HEAT_ALPHA * min(1.0, health.heat)))
        painter.fillPath(path, tint)
    if health.badge:
        pill = health_rect(body, style, health.badge)
        painter.setPen(QPen(style.node_fill, 1.5))
        painter.setBrush(color)
        painter.drawRoundedRect(pill, 7, 7)
        painter.setPen(QColor("white"))
        painter.setFont(style.small_font)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, health.badge)
    painter.restore()
