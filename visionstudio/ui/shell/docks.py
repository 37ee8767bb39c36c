"""Which widgets the main window embeds, and how a missing one is reported.

The editing widgets (canvas, palette, inspector) are required: when one cannot be
imported the window shows a visible notice naming the module and the error instead
of the widget (never a silent stub). Panels of later features (training, metrics,
feature maps) get a dock only when their module exists.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QWidget

log = logging.getLogger("visionstudio")
Area = Qt.DockWidgetArea


@dataclass(frozen=True)
class PanelSpec:
    module: str
    cls: str
    object_name: str   # the widget's objectName; its dock is "<object_name>Dock"
    title: str
    area: Area = Area.BottomDockWidgetArea
    # "module:function" called with the window once the dock exists (actions, menus);
    # what it returns may have confirm_close() -> bool, asked before the window closes.
    installer: str = ""


CANVAS = PanelSpec("visionstudio.ui.canvas", "GraphView", "modelCanvas", "Canvas")
PALETTE = PanelSpec("visionstudio.ui.canvas.palette", "LayerPalette", "layerPalette", "Layers",
                    Area.LeftDockWidgetArea)
INSPECTOR = PanelSpec("visionstudio.ui.inspector", "InspectorPanel", "inspector", "Inspector",
                      Area.RightDockWidgetArea)
# Later issues fill these in; until their module lands there is no dock at all.
OPTIONAL_PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("visionstudio.ui.training", "TrainingPanel", "trainingPanel", "Training",
              Area.RightDockWidgetArea, "visionstudio.ui.training.integration:install"),
    PanelSpec("visionstudio.ui.plots", "MetricsPlots", "metricsPlots", "Metrics"),
    PanelSpec("visionstudio.ui.features", "FeatureMapView", "featureMapView", "Feature maps",
              Area.BottomDockWidgetArea, "visionstudio.ui.features.integration:install"),
)


MAX_MIN_SIZE = (560, 240)  # a dock wants at most this much room before it scrolls


def _shrinkable(widget: QWidget, spec: PanelSpec) -> QWidget:
    """``widget``, inside a scroll area when its minimum size would squeeze the canvas."""
    hint = widget.minimumSizeHint()
    if hint.width() <= MAX_MIN_SIZE[0] and hint.height() <= MAX_MIN_SIZE[1]:
        return widget
    area = QScrollArea()
    area.setObjectName(f"{spec.object_name}Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


class MissingWidget(ImportError):
    """A panel's module or class is not installed; the message says which."""


def widget_class(spec: PanelSpec) -> type[QWidget]:
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name and spec.module.startswith(exc.name):
            raise MissingWidget(f"{spec.module} is not installed") from exc
        raise  # a bug inside the module: let it surface loudly
    cls = getattr(module, spec.cls, None)
    if cls is None:
        raise MissingWidget(f"{spec.module} has no {spec.cls}")
    return cls


def make_widget(spec: PanelSpec, controller) -> QWidget:
    """The panel widget, or a visible notice when it is missing (also logged)."""
    try:
        widget = widget_class(spec)(controller)
    except MissingWidget as exc:
        log.error("%s unavailable: %s", spec.title, exc)
        widget = QLabel(f"The {spec.title.lower()} is unavailable: {exc}.")
        widget.setObjectName(f"{spec.object_name}Missing")
        widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
        widget.setWordWrap(True)
        widget.setStyleSheet("color: #b00020; padding: 12px;")
        return widget
    if not widget.objectName():
        widget.setObjectName(spec.object_name)
    if not widget.accessibleName():
        widget.setAccessibleName(spec.title)
    return widget


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


def optional_docks(window: QMainWindow, controller,
                   place) -> list[tuple[QDockWidget, object]]:
    """(dock, installed integration or None) for each later-feature panel that exists;
    ``place(dock, area)`` puts each dock in the window before its integration installs."""
    out = []
    for spec in OPTIONAL_PANELS:
        try:
            cls = widget_class(spec)
        except MissingWidget:
            continue
        widget = cls(controller)
        if not widget.objectName():
            widget.setObjectName(spec.object_name)
        dock = add_dock(window, _shrinkable(widget, spec), spec.title, spec.object_name, None)
        place(dock, spec.area)
        integration = None
        if spec.installer:
            module, _, func = spec.installer.partition(":")
            integration = getattr(importlib.import_module(module), func)(window)
        out.append((dock, integration))
    return out
