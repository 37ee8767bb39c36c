"""How layer kinds look everywhere in the UI: category colours and icons.

Icons are SVG files in ``resources/icons/layers/<icon>.svg``; a kind whose file is
missing gets a painted rounded square in its category colour, so a new layer spec
shows up in the palette without any artwork.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap

from visionstudio.core.layers import LAYERS
from visionstudio.core.resources import resource_path

CATEGORY_COLORS: dict[str, str] = {
    "Input": "#5C6BC0",
    "Convolution": "#1E88E5",
    "Pooling": "#00ACC1",
    "Normalization": "#43A047",
    "Activation": "#FB8C00",
    "Regularization": "#8E24AA",
    "Reshape": "#6D4C41",
    "Dense": "#D81B60",
    "Merge": "#00897B",
    "Blocks": "#7E57C2",
}
_FALLBACK = "#78909C"

ERROR_COLOR = QColor("#E53935")
WARNING_COLOR = QColor("#F9A825")


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, _FALLBACK))


def kind_color(kind: str) -> QColor:
    if kind not in LAYERS:
        return QColor(_FALLBACK)
    return category_color(LAYERS.get(kind).category)


def icon_path(icon: str) -> Path | None:
    """The SVG of a layer icon, from a checkout or an installed wheel."""
    return resource_path("icons", "layers", f"{icon}.svg")


@cache
def layer_icon(kind: str) -> QIcon:
    """The palette/inspector icon of a layer kind."""
    spec = LAYERS.get(kind) if kind in LAYERS else None
    path = icon_path(spec.icon) if spec is not None and spec.icon else None
    if path is not None:
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    return _painted_icon(kind_color(kind), (spec.title[:1] if spec else "?"))


def _painted_icon(color: QColor, letter: str) -> QIcon:
    pix = QPixmap(48, 48)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(QRectF(4, 4, 40, 40), 8, 8)
    p.setPen(QColor("white"))
    font = p.font()
    font.setBold(True)
    font.setPixelSize(24)
    p.setFont(font)
    p.drawText(QRectF(4, 4, 40, 40), Qt.AlignmentFlag.AlignCenter, letter)
    p.end()
    return QIcon(pix)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` blended towards ``b`` by ``t`` (0 = a, 1 = b)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )
