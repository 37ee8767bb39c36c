"""The canvas item of a block instance: a layer-sized card that stands for a whole block.

It is a NodeItem (selection, moves, problem line, shape and parameter count work the
same) with its own look — a second card behind it, a double border and a block glyph
— the definition's title where a layer shows its kind, the exposed values where a layer
shows its key parameters, and one input port per block input, in port order, so each
connection lands on the port it feeds.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from visionstudio.core.graph.editing import NODE_HEIGHT, NODE_WIDTH
from visionstudio.ui.canvas.items import NodeItem, PortItem
from visionstudio.ui.canvas.layer_style import ERROR_COLOR, mix
from visionstudio.ui.canvas.style import CanvasStyle, style_of

BLOCK_KIND = "block"
PORT_SPACING = 44.0   # px between two input ports of a block
CARD_OFFSET = 5.0     # px: the card drawn behind the instance


def block_summary(definition, node) -> str:
    """The instance's exposed values ("channels 64 · stride 2"), else the block's size."""
    names = dict.fromkeys(p.name for p in definition.exposed)  # one name may set several inner values
    values = [f"{name} {node.params[name]}" for name in names if name in node.params]
    if values:
        return " · ".join(values)
    layers = sum(1 for n in definition.graph.nodes.values()
                 if n.kind not in ("block_input", "block_output"))
    return f"{layers} layer{'s' if layers != 1 else ''}"


def block_content(graph, node) -> dict:
    """What an instance shows of its definition (``BlockItem.set_block``'s arguments); an
    unknown definition shows its key (the analysis puts the problem on the node)."""
    key = str(node.params.get("block", ""))
    library = graph.blocks
    if key not in library:
        return {"key": key, "title": key or "Block", "name": node.name, "input_names": ["input"],
                "summary": "", "description": f"the block {key!r} is not in this project"}
    definition = library.get(key)
    names = [definition.graph.nodes[i].name for i in definition.input_ids()]
    description = definition.description or f"The block {definition.title or key}"
    return {"key": key, "title": definition.title or key, "name": node.name, "input_names": names,
            "summary": block_summary(definition, node),
            "description": f"{description} (double-click to open it)"}


class BlockItem(NodeItem):
    """One block instance on the canvas."""

    def __init__(self, node_id: str) -> None:
        super().__init__(node_id, BLOCK_KIND)
        self.key = ""                  # the definition's key
        self.input_ports: list[PortItem] = [self.input_port]
        self.input_port.index = 0
        self.name_indent = 18.0  # the glyph goes before the name

    # -- ports -------------------------------------------------------------------------
    def set_block(self, *, key: str, title: str, name: str, summary: str, description: str,
                  input_names: list[str]) -> None:
        """The definition's part of the content: title, ports (one per block input)."""
        self.key = key
        self.set_ports(input_names)
        self.set_content(name=name, kind_title=title, summary=summary, description=description,
                         is_source=False, category="Blocks")

    def set_ports(self, input_names: list[str]) -> None:
        count = max(1, len(input_names))
        while len(self.input_ports) > count:
            port = self.input_ports.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        while len(self.input_ports) < count:
            port = PortItem(self, False)
            port.index = len(self.input_ports)
            self.input_ports.append(port)
        for index, port in enumerate(self.input_ports):
            port.setPos(self.port_offset(index), -NODE_HEIGHT / 2)
            name = input_names[index] if index < len(input_names) else "input"
            port.setToolTip(f"Input {index + 1} of the block ({name}): drop a connection here")

    def port_offset(self, index: int) -> float:
        n = len(self.input_ports)
        spacing = min(PORT_SPACING, (NODE_WIDTH - 40) / max(1, n - 1))
        return (index - (n - 1) / 2) * spacing

    def port_for(self, index: int) -> PortItem:
        return self.input_ports[min(max(0, index), len(self.input_ports) - 1)]

    def spread_inputs(self, incoming) -> None:
        """Each connection lands on the port it feeds (not side by side like a merge's)."""
        taken = set()
        for edge in incoming:
            edge.dst_offset = self.port_offset(min(edge.edge.port, len(self.input_ports) - 1))
            edge.update_path()
            taken.add(edge.edge.port)
        self.connected_inputs = len(incoming)
        for port in self.input_ports:
            port.connected = port.index in taken
            port.update()

    # -- painting ----------------------------------------------------------------------
    def _paint_body(self, painter: QPainter, style: CanvasStyle, rect: QRectF) -> None:
        """A card behind the body (a stack: many layers in one), then the layer's body
        with a second, inner border."""
        card = rect.translated(CARD_OFFSET, CARD_OFFSET)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.shadow)
        painter.drawRoundedRect(card.translated(0, 3), 8, 8)
        painter.setPen(QPen(style.node_border, 1.0))
        painter.setBrush(style.node_fill)
        painter.drawRoundedRect(card, 8, 8)
        super()._paint_body(painter, style, rect)
        inner = QColor(self.color)
        inner.setAlpha(150)
        painter.setPen(QPen(ERROR_COLOR if self.has_error and not self.isSelected() else inner, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 6, 6)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        super().paint(painter, option, widget)
        self._paint_glyph(painter, style_of(self), self.body_rect())

    def _paint_glyph(self, painter: QPainter, style: CanvasStyle, rect: QRectF) -> None:
        """Two stacked squares left of the name: the block mark, also at small zoom."""
        x, y = rect.left() + 14, rect.top() + 9
        ink = mix(self.color, style.text, 0.3) if style.dark else self.color  # visible on a dark body
        painter.setPen(QPen(ink, 1.4))
        painter.setBrush(style.node_fill)
        painter.drawRoundedRect(QRectF(x + 3, y + 3, 9, 9), 2, 2)
        painter.setBrush(ink)
        painter.drawRoundedRect(QRectF(x, y, 9, 9), 2, 2)
