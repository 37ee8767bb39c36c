"""Toolbar and menu icons: SVG files in ``resources/icons/actions/<name>.svg``.

The drawings use ``currentColor`` for their strokes; :func:`action_icon` renders them
in the palette's text colour (so they read on light and dark themes) at several pixel
sizes up to 4x the toolbar size, which keeps them crisp at 200 % scaling, and their
disabled look in the palette's disabled text colour (Qt's generated one blends the
drawing into the background: on the dark theme it all but vanished, issue #13).
:func:`apply_action_icons` gives every action of a window whose objectName is
``action_<name>`` the icon ``<name>.svg`` when that file exists — the window's own
actions and those later features add (train, pause, stop, export…). Call it again after
a theme change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from visionstudio.core.resources import resource_dir

SIZES = (16, 20, 24, 32, 40, 48, 64, 96)


@lru_cache(maxsize=1)
def icons_dir() -> Path | None:
    return resource_dir("icons", "actions")


def icon_file(name: str) -> Path | None:
    folder = icons_dir()
    path = folder / f"{name}.svg" if folder is not None else None
    return path if path is not None and path.is_file() else None


def _render(data: str, color: str, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(data.replace("currentColor", color).encode("utf-8")))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@lru_cache(maxsize=256)
def _icon(path: str, color: str, disabled: str) -> QIcon:
    data = Path(path).read_text(encoding="utf-8")
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(_render(data, color, size))
        icon.addPixmap(_render(data, disabled, size), QIcon.Mode.Disabled)
    return icon


def text_color(group: QPalette.ColorGroup = QPalette.ColorGroup.Active) -> str:
    palette = QGuiApplication.palette()
    return palette.color(group, QPalette.ColorRole.WindowText).name()


def action_icon(name: str) -> QIcon | None:
    """The icon ``<name>.svg`` in the current text colour (disabled: the disabled text
    colour), or None when there is no file."""
    path = icon_file(name)
    return None if path is None else _icon(str(path), text_color(),
                                           text_color(QPalette.ColorGroup.Disabled))


def apply_action_icons(window) -> int:
    """Icons for every ``action_<name>`` of ``window`` that has an SVG; returns how many."""
    count = 0
    for action in window.findChildren(QAction):
        name = action.objectName()
        if not name.startswith("action_"):
            continue
        icon = action_icon(name.removeprefix("action_"))
        if icon is not None:
            action.setIcon(icon)
            count += 1
    return count


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application icon (SVG + PNGs of every size), empty when not installed."""
    from visionstudio.core.resources import app_icon_paths

    icon = QIcon()
    for path in app_icon_paths():
        icon.addFile(str(path))
    return icon
