"""Graphics items of the canvas: a node per layer and its ports (edges: edge_item.py).

Items hold only what they draw (texts, colours) plus the id of the model object
they stand for; the scene refreshes them from model events and the analysis. A layer
with a problem says it on its body (the problem line, in place of its parameters);
the full text and the hint are in its tooltip.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from visionstudio.core.graph.editing import NODE_HEIGHT, NODE_WIDTH
from visionstudio.ui.canvas.health_badge import NodeHealth, paint_health
from visionstudio.ui.canvas.layer_style import ERROR_COLOR, WARNING_COLOR, kind_color, mix
from visionstudio.ui.canvas.style import PORT_RADIUS, CanvasStyle, style_of
from visionstudio.ui.canvas.transfer_badge import multiplier_text, paint_lock

if TYPE_CHECKING:   # edge_item imports this module
    from visionstudio.ui.canvas.edge_item import EdgeItem

# Looked up once: a PySide6 enum member costs microseconds per access, and a large
# network makes hundreds of thousands of items and position changes.
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_NODE_FLAGS = (QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
               | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
_CROSS_CURSOR = Qt.CursorShape.CrossCursor
PROBLEM_INK = 0.4  # how far the problem line's red/amber leans to the text colour


class PortItem(QGraphicsItem):
    """The input (top) or output (bottom) connector of a node."""

    def __init__(self, node: NodeItem, is_output: bool) -> None:
        super().__init__(node)
        self.node = node
        self.is_output = is_output
        self.hovered = False
        self.state: str | None = None  # "ok" / "bad" while a connection is dragged over it
        self.span = 0.0  # width between the first and last edge into a merge
        self.index: int | None = None       # the input port number, on a block's own ports
        self.connected: bool | None = None  # a block port: fed or not (else the node's count says)
        self.setAcceptHoverEvents(True)
        self.setPos(0.0, NODE_HEIGHT / 2 if is_output else -NODE_HEIGHT / 2)
        self.setZValue(2)
        self.setCursor(_CROSS_CURSOR)
        self.setToolTip("Drag to an input to connect" if is_output
                        else "Drop a connection here")

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        r = PORT_RADIUS + 5
        return QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        r = PORT_RADIUS + 4  # a forgiving hit area
        path.addRoundedRect(QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r), r, r)
        return path

    def set_span(self, span: float) -> None:
        if span != self.span:
            self.prepareGeometryChange()
            self.span = span
        self.update()

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = False
        self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        style = style_of(self)
        color = self.node.color
        if self.state == "ok":
            color = style.selection
        elif self.state == "bad":
            color = ERROR_COLOR
        r = PORT_RADIUS + (2 if (self.hovered or self.state) else 0)
        fed = bool(self.node.connected_inputs) if self.connected is None else self.connected
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(style.node_fill, 2))
        painter.setBrush(color if (self.is_output or fed or self.state) else style.node_fill)
        if not self.is_output and not fed and not self.state:
            painter.setPen(QPen(color, 2))
        painter.drawRoundedRect(QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r), r, r)


class NodeItem(QGraphicsItem):
    """One layer: name and kind, key parameters, output shape and parameter count."""

    def __init__(self, node_id: str, kind: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.kind = kind
        self.name = ""
        self.kind_title = kind
        self.summary = ""
        self.description = ""
        self.category = ""
        self.shape_text = "?"
        self.params_text = ""
        self.diagnostics: list[tuple[str, str, str]] = []  # (message, severity, hint)
        self.problem_text = ""  # the first problem, without the layer's name: the problem line
        self._problem_elided: tuple[object, str] | None = None  # (font, text) of the last paint
        self.connected_inputs = 0
        self.is_source = False
        self.color: QColor = kind_color(kind)
        self.name_indent = 0.0  # room before the name (a block's glyph)
        self.frozen = False       # graph.transfer: a lock badge, weights do not train
        self.lr_multiplier = 1.0
        self.health: NodeHealth | None = None   # layer health while training (health_badge.py)
        self.edges: set[EdgeItem] = set()
        self.setFlags(_NODE_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.output_port = PortItem(self, True)
        self.input_port = PortItem(self, False)

    # -- content ---------------------------------------------------------------------
    def set_content(self, *, name: str, kind_title: str, summary: str, description: str,
                    is_source: bool, category: str = "") -> None:
        self.name, self.kind_title, self.summary = name, kind_title, summary
        self.category = category
        self.description = description
        self.is_source = is_source
        self.input_port.setVisible(not is_source)
        self._refresh_tooltip()
        self.update()

    def set_info(self, shape_text: str, params_text: str, diagnostics: list[tuple[str, str, str]]) -> None:
        self.shape_text, self.params_text = shape_text, params_text
        self.diagnostics = diagnostics
        problem = self._first_problem()
        if problem != self.problem_text:
            self.problem_text = problem
            self._problem_elided = None
        self._refresh_tooltip()
        self.update()

    def set_transfer(self, frozen: bool, lr_multiplier: float) -> None:
        if (frozen, lr_multiplier) != (self.frozen, self.lr_multiplier):
            self.frozen, self.lr_multiplier = frozen, lr_multiplier
            self._refresh_tooltip()
            self.update()

    def set_health(self, health: NodeHealth | None) -> None:
        if health != self.health:
            self.health = health
            self._refresh_tooltip()
            self.update()

    def _first_problem(self) -> str:
        """The problem the line shows: the first error, else the first warning; the
        layer's name, already on the node, left off."""
        if not self.diagnostics:
            return ""
        message = next((m for m, sev, _ in self.diagnostics if sev == "error"), self.diagnostics[0][0])
        prefix = f"{self.name}: "
        return message[len(prefix):] if message.startswith(prefix) else message

    def _refresh_tooltip(self) -> None:
        lines = [f"<b>{html.escape(self.name)}</b> — {html.escape(self.kind_title)}"]
        if self.description:
            lines.append(html.escape(self.description))
        if self.summary and self.diagnostics:  # the problem line covers it on the node
            lines.append(html.escape(self.summary))
        lines.append(f"Output: {html.escape(self.shape_text)}")
        if self.frozen or self.lr_multiplier != 1.0:
            lines.append("Frozen: its weights do not train" if self.frozen
                         else f"Learning rate ×{self.lr_multiplier:g}")
        for message, severity, hint in self.diagnostics:
            color = ERROR_COLOR.name() if severity == "error" else WARNING_COLOR.name()
            lines.append(f"<span style='color:{color}'>⚠ {html.escape(message)}</span>")
            if hint:
                lines.append(f"<i>To fix: {html.escape(hint)}</i>")
        if self.health is not None and self.health.words:
            words = html.escape(self.health.words)
            lines.append(f"<span style='color:{WARNING_COLOR.name()}'>{words}</span>")
        self.setToolTip("<br>".join(lines))

    @property
    def has_error(self) -> bool:
        return any(sev == "error" for _, sev, _ in self.diagnostics)

    def problem_line(self, style: CanvasStyle, width: float) -> str:
        """The problem text elided to ``width``, laid out once per text and font (not per paint)."""
        key = (style.body_font.key(), width)
        if self._problem_elided is None or self._problem_elided[0] != key:
            text = QFontMetricsF(style.body_font).elidedText(
                f"⚠ {self.problem_text}", Qt.TextElideMode.ElideRight, width)
            self._problem_elided = (key, text)
        return self._problem_elided[1]

    # -- geometry --------------------------------------------------------------------
    def body_rect(self) -> QRectF:
        return QRectF(-NODE_WIDTH / 2, -NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.body_rect().adjusted(-4, -4, 12, 12)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body_rect(), 8, 8)
        return path

    def output_anchor(self) -> QPointF:
        return self.scenePos() + QPointF(0, NODE_HEIGHT / 2)

    def input_anchor(self, offset: float = 0.0) -> QPointF:
        return self.scenePos() + QPointF(offset, -NODE_HEIGHT / 2)

    def itemChange(self, change, value):  # noqa: N802 - Qt's name
        if change == _POSITION_CHANGED:
            # The scene re-routes this layer's edges and the skips whose lane it enters or leaves.
            moved = getattr(self.scene(), "node_item_moved", None)
            if moved is not None:
                moved(self)
            else:
                for edge in self.edges:
                    edge.update_path()
        return super().itemChange(change, value)

    # -- painting --------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        style = style_of(self)
        rect = self.body_rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self._paint_body(painter, style, rect)
        self._paint_text(painter, style, rect)
        if self.diagnostics:
            self._paint_badge(painter, style, rect)
        if self.frozen:
            paint_lock(painter, style, rect)
        if self.health is not None:
            paint_health(painter, style, rect, self.health)

    def _paint_body(self, painter: QPainter, style: CanvasStyle, rect: QRectF) -> None:
        """Shadow, body, category stripe and tint, and the border (selection, error)."""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.shadow)
        painter.drawRoundedRect(rect.translated(0, 3), 8, 8)
        body = QPainterPath()
        body.addRoundedRect(rect, 8, 8)
        painter.setBrush(style.node_fill)
        painter.drawPath(body)
        painter.save()
        painter.setClipPath(body)
        painter.fillRect(QRectF(rect.left(), rect.top(), 6, rect.height()), self.color)
        tint = QColor(self.color)
        tint.setAlpha(38 if style.dark else 26)
        painter.fillRect(QRectF(rect.left() + 6, rect.top(), rect.width() - 6, 26), tint)
        painter.restore()
        if self.isSelected():
            pen = QPen(style.selection, 2.2)
        elif self.has_error:
            pen = QPen(ERROR_COLOR, 1.6)
        else:
            pen = QPen(style.node_border, 1.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 8, 8)

    def _paint_text(self, painter: QPainter, style: CanvasStyle, rect: QRectF) -> None:
        """Three lines: name and kind; key parameters, or the problem when there is one;
        output shape and parameter count."""
        left_aligned = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right_aligned = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        elide = Qt.TextElideMode.ElideRight
        left = rect.left() + 14
        width = rect.width() - 24
        painter.setFont(style.small_font)
        kind_w = QFontMetricsF(style.small_font).horizontalAdvance(self.kind_title) + 2
        painter.setPen(style.muted)
        line1 = QRectF(left, rect.top() + 4, width, 20)
        painter.drawText(line1, right_aligned, self.kind_title)
        painter.setFont(style.title_font)
        painter.setPen(style.text)
        name_rect = QRectF(left + self.name_indent, line1.top(),
                           max(20.0, width - kind_w - 8 - self.name_indent), 20)
        name = QFontMetricsF(style.title_font).elidedText(self.name, elide, name_rect.width())
        painter.drawText(name_rect, left_aligned, name)
        painter.setFont(style.body_font)
        line2 = QRectF(left, rect.top() + 29, width, 20)
        if self.problem_text:
            # blended towards the text colour: at least 4.5:1 on the body, light or dark
            painter.setPen(mix(ERROR_COLOR if self.has_error else WARNING_COLOR, style.text, PROBLEM_INK))
            painter.drawText(line2, left_aligned, self.problem_line(style, width))
        elif self.health is not None and self.health.words:
            painter.setPen(mix(WARNING_COLOR, style.text, PROBLEM_INK))
            words = self.health.words.removeprefix(f"{self.name}: ")
            words = QFontMetricsF(style.body_font).elidedText(words, elide, width)
            painter.drawText(line2, left_aligned, words)
        else:
            summary = self.summary or self.category
            painter.setPen(style.text if self.summary else style.muted)
            summary = QFontMetricsF(style.body_font).elidedText(summary, elide, width)
            painter.drawText(line2, left_aligned, summary)
        painter.setFont(style.small_font)
        line3 = QRectF(left, rect.bottom() - 24, width, 18)
        painter.setPen(ERROR_COLOR if self.shape_text == "?" and self.has_error else style.muted)
        painter.drawText(line3, left_aligned, f"→ {self.shape_text}")
        painter.setPen(style.muted)
        mark = multiplier_text(self.lr_multiplier) if not self.frozen else ""
        painter.drawText(line3, right_aligned, f"{mark} · {self.params_text}" if mark else self.params_text)

    def _paint_badge(self, painter: QPainter, style: CanvasStyle, rect: QRectF) -> None:
        """The "!" in the top right corner: red for an error, amber for a warning."""
        center = QPointF(rect.right() - 1, rect.top() + 1)
        painter.setPen(QPen(style.node_fill, 2))
        painter.setBrush(ERROR_COLOR if self.has_error else WARNING_COLOR)
        painter.drawEllipse(center, 9, 9)
        painter.setPen(QColor("white"))
        painter.setFont(style.title_font)
        painter.drawText(QRectF(center.x() - 9, center.y() - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "!")
