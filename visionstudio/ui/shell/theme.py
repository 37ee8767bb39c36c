"""Light and dark look: View › Theme (System / Light / Dark), kept in QSettings.

*System* follows the desktop's colour scheme (``QStyleHints.colorScheme`` and its
``colorSchemeChanged`` signal) — a dark desktop gets the dark palette; *Light* and
*Dark* force one. The palettes are Fusion palettes (same look on every platform).
After a change the toolbar icons are redrawn in the new text colour, the welcome
page's previews are redrawn, and pyqtgraph follows: its default background/foreground
for new plots and every existing ``PlotWidget`` of the window (pyqtgraph is never
imported here: only restyled when something already loaded it). The canvas restyles
itself on the palette-change event.

Disabled controls stay legible (issue #13): the disabled text colours have at least
3:1 contrast with the window and base colours (WCAG's bar for graphics), disabled
icons are drawn in that colour (icons.py), and check boxes, Fusion's own and those
of item views (the run list), get a frame in a colour of that contrast: Fusion draws
them in a shade of the window colour, invisible on a dark base.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

from visionstudio.ui.shell.settings import read_str

THEME_KEY = "view/theme"
THEMES = ("system", "light", "dark")
FRAME_MIX = 0.65  # check box frames: this much text colour, the rest base
PLOT_COLORS = {"light": ("#ffffff", "#303030"), "dark": ("#1e1f22", "#d0d0d0")}

R = QPalette.ColorRole
G = QPalette.ColorGroup


def _palette(colors: dict, disabled: dict) -> QPalette:
    p = QPalette()
    for role, value in colors.items():
        p.setColor(role, QColor(value))
    for role, value in disabled.items():
        p.setColor(G.Disabled, role, QColor(value))
    return p


def dark_palette() -> QPalette:
    return _palette({
        R.Window: "#2b2d31", R.WindowText: "#e4e4e7", R.Base: "#1e1f22", R.AlternateBase: "#26282c",
        R.ToolTipBase: "#3a3d42", R.ToolTipText: "#f0f0f0", R.PlaceholderText: "#8b8f96",
        R.Text: "#e4e4e7", R.Button: "#34373c", R.ButtonText: "#e4e4e7", R.BrightText: "#ff6b6b",
        R.Light: "#45484e", R.Midlight: "#3a3d42", R.Mid: "#2a2c30", R.Dark: "#1a1b1e",
        R.Shadow: "#000000", R.Highlight: "#3d7fd9", R.HighlightedText: "#ffffff",
        R.Link: "#6aa7ff", R.LinkVisited: "#b18cff",
    }, {R.WindowText: "#8a8d94", R.Text: "#8a8d94", R.ButtonText: "#8a8d94",
        R.Highlight: "#3a3d42", R.HighlightedText: "#9a9da3"})


def light_palette() -> QPalette:
    return _palette({
        R.Window: "#f3f3f5", R.WindowText: "#1f1f23", R.Base: "#ffffff", R.AlternateBase: "#f5f6f8",
        R.ToolTipBase: "#ffffe8", R.ToolTipText: "#1f1f23", R.PlaceholderText: "#6b6f76",
        R.Text: "#1f1f23", R.Button: "#f0f0f2", R.ButtonText: "#1f1f23", R.BrightText: "#d00000",
        R.Light: "#ffffff", R.Midlight: "#e6e6e9", R.Mid: "#c4c4c8", R.Dark: "#a0a0a5",
        R.Shadow: "#6a6a6e", R.Highlight: "#2f6fce", R.HighlightedText: "#ffffff",
        R.Link: "#1a5fb4", R.LinkVisited: "#7a3fb8",
    }, {R.WindowText: "#7c7c82", R.Text: "#7c7c82", R.ButtonText: "#7c7c82",
        R.Highlight: "#d0d0d5", R.HighlightedText: "#6a6a70"})


def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours, 1 … 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def frame_color(palette: QPalette, enabled: bool) -> QColor:
    """A check box frame: the text colour a little over halfway to the base (enabled),
    the disabled text colour (disabled); both keep 3:1 on the base and the window."""
    group = G.Active if enabled else G.Disabled
    text, base = palette.color(group, R.Text), palette.color(group, R.Base)
    if not enabled:
        return text
    mix = FRAME_MIX
    return QColor.fromRgbF(text.redF() * mix + base.redF() * (1 - mix),
                           text.greenF() * mix + base.greenF() * (1 - mix),
                           text.blueF() * mix + base.blueF() * (1 - mix))


CHECKS = (QStyle.PrimitiveElement.PE_IndicatorCheckBox, QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck)


class ThemeStyle(QProxyStyle):
    """Fusion, with check boxes drawn in colours that read on either theme."""

    def name(self) -> str:
        """The base style's name ("fusion"): this is Fusion with two primitives redrawn."""
        return self.baseStyle().name()

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802 - Qt's name
        if element not in CHECKS:
            super().drawPrimitive(element, option, painter, widget)
            return
        S = QStyle.StateFlag
        enabled = bool(option.state & S.State_Enabled)
        pal = option.palette
        group = G.Active if enabled else G.Disabled
        rect = QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5)
        side = min(rect.width(), rect.height(), 15.0)
        box = QRectF(rect.center().x() - side / 2, rect.center().y() - side / 2, side, side)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(frame_color(pal, enabled), 1.2))
        painter.setBrush(pal.color(group, R.Base))
        painter.drawRoundedRect(box, 2.5, 2.5)
        mark = pal.color(group, R.Text)
        if option.state & S.State_On:
            painter.setPen(QPen(mark, 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                                Qt.PenJoinStyle.RoundJoin))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            x, y, w = box.left(), box.top(), box.width()
            tick = ((0.22, 0.52), (0.42, 0.72), (0.78, 0.3))
            painter.drawPolyline(QPolygonF([QPointF(x + w * a, y + w * b) for a, b in tick]))
        elif option.state & S.State_NoChange:
            painter.setPen(QPen(mark, 2.0))
            mid = box.center().y()
            painter.drawLine(QPointF(box.left() + 4, mid), QPointF(box.right() - 4, mid))
        painter.restore()


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


KEEP_BACKGROUND = {"activationGrid"}  # image views that stay dark on purpose


def style_plots(root, dark: bool) -> int:
    """pyqtgraph's defaults and every plot view under ``root`` (PlotWidget,
    GraphicsLayoutWidget: background, axes, titles); returns how many were restyled.
    Nothing happens when pyqtgraph has not been imported yet. A view named in
    KEEP_BACKGROUND, or with the Qt property ``vsKeepBackground``, keeps its colours."""
    pg = sys.modules.get("pyqtgraph")
    if pg is None:
        return 0
    bg, fg = PLOT_COLORS["dark" if dark else "light"]
    pg.setConfigOptions(background=bg, foreground=fg)
    count = 0
    for widget in root.findChildren(pg.GraphicsView) if root is not None else []:
        if widget.objectName() in KEEP_BACKGROUND or widget.property("vsKeepBackground"):
            continue
        widget.setBackground(bg)
        count += 1
        scene = widget.scene()
        for item in scene.items() if scene is not None else []:
            if isinstance(item, pg.AxisItem):
                item.setPen(fg)
                item.setTextPen(fg)
            elif isinstance(item, pg.PlotItem) and item.titleLabel is not None and item.titleLabel.text:
                item.setTitle(item.titleLabel.text, color=fg)
    return count


class ThemeManager(QObject):
    """Applies and remembers the theme; ``changed(dark)`` after every application."""

    changed = Signal(bool)

    def __init__(self, settings, window=None) -> None:
        super().__init__(window)
        self.settings = settings
        self.window = window
        self._fusion = False
        self.mode = read_str(settings, THEME_KEY, "system", choices=THEMES)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_changed)

    @property
    def dark(self) -> bool:
        return self.mode == "dark" or (self.mode == "system" and system_is_dark())

    def set_mode(self, mode: str) -> None:
        if mode not in THEMES:
            raise ValueError(f"unknown theme {mode!r}; one of {', '.join(THEMES)}")
        self.mode = mode
        self.settings.setValue(THEME_KEY, mode)
        self.apply()

    def _on_system_changed(self, _scheme) -> None:
        if self.mode == "system":
            self.apply()

    def apply(self) -> None:
        app = QApplication.instance()
        if app is None:
            return
        dark = self.dark
        if self.mode == "system" and not dark and not self._fusion:
            pass  # the platform's own light look is untouched until a theme is picked
        else:
            if not self._fusion:
                fusion = QStyleFactory.create("Fusion")
                if fusion is not None:
                    app.setStyle(ThemeStyle(fusion))
                self._fusion = True
            app.setPalette(dark_palette() if dark else light_palette())
        style_plots(self.window, dark)
        self.changed.emit(dark)
