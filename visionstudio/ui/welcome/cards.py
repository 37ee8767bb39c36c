"""Template cards: a small drawing of each network, and the clickable card that shows it.

Used by the welcome page and by File › New, so both offer the same choice. Filling in
the previews and parameter counts reads the templates (a fraction of a second, never
torch); callers do it after the first paint.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from visionstudio.core.graph import analyze
from visionstudio.core.templates import TEMPLATES
from visionstudio.ui.canvas.layer_style import is_dark, kind_color, mix
from visionstudio.ui.shell.templates import TemplatesUnavailable, template_document

log = logging.getLogger("visionstudio")

PREVIEW_SIZE = QSize(240, 84)
BLANK_KEY = ""
BLANK_TITLE = "Blank project"
BLANK_DESCRIPTION = "An empty canvas: add an Input from the palette."
DEFAULT_CARD_COLUMNS = 3


def render_preview(document, size: QSize = PREVIEW_SIZE, dpr: float = 2.0,
                   palette: QPalette | None = None) -> QPixmap:
    """A small left-to-right drawing of a network: layers as boxes in their category
    colours, connections as lines (the canvas lays networks out top to bottom)."""
    pixmap = QPixmap(int(size.width() * dpr), int(size.height() * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    graph = document.graph
    points = {nid: graph.positions.get(nid, (0.0, 0.0)) for nid in graph.nodes}
    if not points:
        return pixmap
    # Drawn left to right (the canvas's depth, y, becomes x) unless a wide network of
    # parallel branches fills the card better as laid out; nodes keep their proportions.
    margin = 8.0
    w, h = size.width() - 2 * margin, size.height() - 2 * margin
    node = (196.0, 78.0)   # the canvas's node size (canvas/style.py)
    best = None
    for rotate in (True, False):
        pts = {k: ((p[1], p[0]) if rotate else p) for k, p in points.items()}
        nw, nh = (node[1], node[0]) if rotate else node
        xs, ys = [p[0] for p in pts.values()], [p[1] for p in pts.values()]
        span_x, span_y = max(xs) - min(xs) + nw, max(ys) - min(ys) + nh
        scale = min(w / span_x, h / span_y, 0.2)
        if best is None or scale > best[0] * 1.15:
            best = (scale, pts, nw, nh, min(xs), min(ys), span_x, span_y)
    scale, pts, nw, nh, min_x, min_y, span_x, span_y = best
    box_w, box_h = max(3.0, nw * scale * 0.8), max(3.0, nh * scale * 0.8)
    off_x = margin + (w - span_x * scale) / 2 + nw * scale / 2
    off_y = margin + (h - span_y * scale) / 2 + nh * scale / 2

    def at(nid: str) -> QPointF:
        x, y = pts[nid]
        return QPointF(off_x + (x - min_x) * scale, off_y + (y - min_y) * scale)

    dark = is_dark(palette) if palette is not None else False
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#9aa0a6") if not dark else QColor("#7a8088"), 1.4))
    for edge in graph.edges:
        if edge.src in points and edge.dst in points:
            painter.drawLine(at(edge.src), at(edge.dst))
    for nid, node in graph.nodes.items():
        color = kind_color(node.kind)
        painter.setBrush(color)
        painter.setPen(QPen(mix(color, QColor("black"), 0.25), 1))
        c = at(nid)
        radius = min(3.0, box_w / 3, box_h / 3)
        painter.drawRoundedRect(QRectF(c.x() - box_w / 2, c.y() - box_h / 2, box_w, box_h),
                                radius, radius)
    painter.end()
    return pixmap


def blank_preview(palette: QPalette, size: QSize = PREVIEW_SIZE, dpr: float = 2.0) -> QPixmap:
    """A dashed empty box with a plus: the blank project's card."""
    pixmap = QPixmap(int(size.width() * dpr), int(size.height() * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = palette.color(QPalette.ColorRole.PlaceholderText)
    pen = QPen(color, 1.5, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    box = QRectF(size.width() / 2 - 40, 12, 80, size.height() - 24)
    painter.drawRoundedRect(box, 6, 6)
    painter.setPen(QPen(color, 2))
    c = box.center()
    painter.drawLine(QPointF(c.x() - 9, c.y()), QPointF(c.x() + 9, c.y()))
    painter.drawLine(QPointF(c.x(), c.y() - 9), QPointF(c.x(), c.y() + 9))
    painter.end()
    return pixmap


class TemplateCard(QToolButton):
    """A clickable card: preview, name, description, parameter count."""

    def __init__(self, key: str, title: str, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"templateCard_{key or 'blank'}")
        self.setAccessibleName(f"{title} template")
        self.setToolTip(f"Open a new project from the {title} template" if key
                        else "Start an empty project")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(PREVIEW_SIZE.width() + 24)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        self.preview = QLabel(self)
        self.preview.setObjectName("templatePreview")
        self.preview.setFixedHeight(PREVIEW_SIZE.height())
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(f"<b>{title}</b>", self)
        self.title.setObjectName("templateTitle")
        self.description = QLabel(description, self)
        self.description.setWordWrap(True)
        self.description.setObjectName("templateDescription")
        self.params = QLabel("", self)
        self.params.setObjectName("templateParams")
        for label in (self.preview, self.title, self.description, self.params):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            layout.addWidget(label)
        layout.addStretch(1)
        self.setCheckable(False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.layout().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.layout().minimumSize()

    def set_details(self, params: int | None, ok: bool, pixmap: QPixmap | None) -> None:
        if params is not None:
            self.params.setText(f"{params:,} parameters" if ok else "has problems to fix")
        if pixmap is not None:
            self.preview.setPixmap(pixmap)


def make_cards(parent: QWidget) -> dict[str, TemplateCard]:
    """One card per template, then the blank project's, keyed by template key."""
    cards = {t.key: TemplateCard(t.key, t.title, t.description, parent) for t in TEMPLATES}
    cards[BLANK_KEY] = TemplateCard(BLANK_KEY, BLANK_TITLE, BLANK_DESCRIPTION, parent)
    return cards


def card_columns(width: int) -> int:
    """How many cards fit side by side in ``width`` (at most three)."""
    return max(1, min(DEFAULT_CARD_COLUMNS, int(width * 0.7) // (PREVIEW_SIZE.width() + 48)))


def lay_out_cards(grid: QGridLayout, cards: dict[str, TemplateCard], columns: int) -> None:
    for card in cards.values():
        grid.removeWidget(card)
    for i, card in enumerate(cards.values()):
        grid.addWidget(card, i // columns, i % columns)


def fill_card_details(cards: dict[str, TemplateCard], palette: QPalette) -> None:
    """Parameter counts and previews of every card, in ``palette``'s colours."""
    for key, card in cards.items():
        fill_card_detail(key, card, palette)


def fill_card_detail(key: str, card: TemplateCard, palette: QPalette) -> None:
    """One card's parameter count and preview: a ResNet template's file, analysis and
    drawing take tens of milliseconds, so the welcome page fills one card per turn."""
    if not key:
        card.set_details(None, True, blank_preview(palette))
        return
    try:
        doc = template_document(key)
    except TemplatesUnavailable as exc:
        log.warning("%s", exc)
        return
    analysis = analyze(doc.graph)
    card.set_details(analysis.total_params, analysis.ok, render_preview(doc, palette=palette))
