"""The panels the main window embeds: one static list, every panel always present.

The editing widgets (canvas, palette, inspector, summary) are built with the window.
The panels of later features (training, metrics, feature maps) load torch and
pyqtgraph, so each one's entry names a loader that imports its class when the window
adds it, after the first paint; the app has imported those modules on a worker thread
by then (``PANEL_MODULES``), so that import finds them loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

Area = Qt.DockWidgetArea
# (the panel's class, an installer called with the window once the dock exists or None).
# What the installer returns may have confirm_close() -> bool, asked before the window closes.
Loaded = tuple[type[QWidget], Callable[[QMainWindow], object] | None]


@dataclass(frozen=True)
class LaterPanel:
    object_name: str   # the widget's objectName; its dock is "<object_name>Dock"
    title: str
    area: Area
    load: Callable[[], Loaded]


def _training() -> Loaded:
    from visionstudio.ui.training.integration import install
    from visionstudio.ui.training.panel import TrainingPanel

    return TrainingPanel, install


def _metrics() -> Loaded:
    from visionstudio.ui.plots.metrics import MetricsPlots

    return MetricsPlots, None


def _feature_maps() -> Loaded:
    from visionstudio.ui.features import FeatureMapView
    from visionstudio.ui.features.integration import install

    return FeatureMapView, install


LATER_PANELS: tuple[LaterPanel, ...] = (
    LaterPanel("trainingPanel", "Training", Area.RightDockWidgetArea, _training),
    LaterPanel("metricsPlots", "Metrics", Area.BottomDockWidgetArea, _metrics),
    LaterPanel("featureMapView", "Feature maps", Area.BottomDockWidgetArea, _feature_maps),
)

# The modules the loaders above import: none makes a widget, pixmap or icon when imported,
# so the app imports them on a worker thread first (with torch and pyqtgraph); adding the
# docks on the GUI thread then only builds widgets. A panel's new module belongs here.
PANEL_MODULES = ("visionstudio.ui.training.integration", "visionstudio.ui.training.panel",
                 "visionstudio.ui.plots.metrics", "visionstudio.ui.features",
                 "visionstudio.ui.features.integration")

MAX_MIN_SIZE = (560, 240)  # a dock wants at most this much room before it scrolls


def named(widget: QWidget, object_name: str, title: str) -> QWidget:
    """``widget`` with its objectName and accessible name set unless it chose its own."""
    if not widget.objectName():
        widget.setObjectName(object_name)
    if not widget.accessibleName():
        widget.setAccessibleName(title)
    return widget


def _shrinkable(widget: QWidget, object_name: str) -> QWidget:
    """``widget``, inside a scroll area when its minimum size would squeeze the canvas."""
    hint = widget.minimumSizeHint()
    if hint.width() <= MAX_MIN_SIZE[0] and hint.height() <= MAX_MIN_SIZE[1]:
        return widget
    area = QScrollArea()
    area.setObjectName(f"{object_name}Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def add_dock(window: QMainWindow, widget: QWidget, title: str, object_name: str,
             area: Area | None) -> QDockWidget:
    """A dock for ``widget``; placed in ``area`` (None: the caller places it, e.g. with
    QMainWindow.restoreDockWidget first)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(f"{object_name}Dock")
    dock.setAccessibleName(f"{title} panel")
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    dock.setWidget(widget)
    if area is not None:
        window.addDockWidget(area, dock)
    dock.toggleViewAction().setObjectName(f"action_toggle_{object_name}")
    dock.toggleViewAction().setStatusTip(f"Show or hide the {title.lower()} panel")
    return dock


def later_docks(window: QMainWindow, controller,
                place: Callable[[QDockWidget, Area], None]) -> list[tuple[QDockWidget, object]]:
    """(dock, installed integration or None) for each later-feature panel;
    ``place(dock, area)`` puts each dock in the window before its integration installs."""
    out = []
    for panel in LATER_PANELS:
        cls, installer = panel.load()
        widget = named(cls(controller), panel.object_name, panel.title)
        dock = add_dock(window, _shrinkable(widget, panel.object_name), panel.title,
                        panel.object_name, None)
        place(dock, panel.area)
        out.append((dock, installer(window) if installer is not None else None))
    return out
