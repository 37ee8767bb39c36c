"""Canvas colours and metrics, derived from the application's QPalette (dark or light)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem

from visionstudio.ui.canvas.layer_style import is_dark, mix

PORT_RADIUS = 6.0
# A layer's size and spacing are the core's (core.graph.editing), which places layers.


@dataclass
class CanvasStyle:
    dark: bool
    background: QColor
    grid: QColor
    node_fill: QColor
    node_border: QColor
    text: QColor
    muted: QColor
    selection: QColor
    edge: QColor
    label_fill: QColor
    shadow: QColor
    title_font: QFont
    body_font: QFont
    small_font: QFont
    _label_sizes: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False, compare=False)

    def label_size(self, text: str) -> tuple[float, float]:
        """Width and height of an edge label's pill in ``small_font``. Cached by text:
        a large network has thousands of edges but only a few distinct shapes."""
        size = self._label_sizes.get(text)
        if size is None:
            if len(self._label_sizes) > 4096:
                self._label_sizes.clear()
            fm = QFontMetricsF(self.small_font)
            size = self._label_sizes[text] = (fm.horizontalAdvance(text) + 12, fm.height() + 4)
        return size

    @classmethod
    def from_palette(cls, palette: QPalette | None = None) -> CanvasStyle:
        if palette is None:
            palette = QApplication.palette()
        dark = is_dark(palette)
        window = palette.color(QPalette.ColorRole.Window)
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if dark:
            background = mix(window, QColor("black"), 0.25)
            node_fill = mix(window, QColor("white"), 0.07)
        else:
            background = mix(window, QColor("white"), 0.35)
            node_fill = base
        grid = mix(background, text, 0.16)
        muted = mix(text, node_fill, 0.42)
        node_border = mix(node_fill, text, 0.22)
        edge = mix(background, text, 0.48)
        label_fill = mix(background, text, 0.07)
        shadow = QColor(0, 0, 0, 110 if dark else 40)
        base_font = QApplication.font()
        title_font = QFont(base_font)
        title_font.setPointSizeF(max(9.0, base_font.pointSizeF()))
        title_font.setBold(True)
        body_font = QFont(base_font)
        body_font.setPointSizeF(max(8.5, base_font.pointSizeF() - 0.5))
        small_font = QFont(base_font)
        small_font.setPointSizeF(max(7.5, base_font.pointSizeF() - 1.5))
        return cls(dark, background, grid, node_fill, node_border, text, muted, highlight,
                   edge, label_fill, shadow, title_font, body_font, small_font)


def style_of(item: QGraphicsItem) -> CanvasStyle:
    """The style of the scene ``item`` is in; the application palette's while it is in none."""
    style = getattr(item.scene(), "style", None)
    return style if isinstance(style, CanvasStyle) else CanvasStyle.from_palette()
