"""The panels the main window embeds: one static list, every panel always present.

The editing widgets (canvas, palette, inspector, summary) are built with the window.
The panels of later features (training, metrics, feature maps) need pyqtgraph, so each
one's entry names a loader that imports its class when the window adds it, after the
first paint; the app has imported those modules on a worker thread by then
(``PANEL_MODULES``), so that import finds them loaded. None of them imports torch.

In the app each panel waits in its dock until the dock first shows: the dock (its
place, its View menu entry, its saved state) is there from the start, the panel is
built then, one plot per event-loop turn where its class builds in steps (measured: the
metrics and feature-map plots took 0.2-1.2 s to build in one turn, most of it pyqtgraph's
plot items, 15-35 ms of CPU each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QWidget
from shiboken6 import isValid

from visionstudio.ui.shell.torch_loader import LOADING_MESSAGE, torch_loaded, when_torch_loaded

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
    needs_torch: bool = False   # shown for the first time, it waits for torch_loader


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


def _data() -> Loaded:
    from visionstudio.ui.data.panel import DataPanel

    return DataPanel, None


def _sweeps() -> Loaded:
    from visionstudio.ui.sweeps.integration import install
    from visionstudio.ui.sweeps.panel import SweepPanel

    return SweepPanel, install


def _layer_health() -> Loaded:
    from visionstudio.ui.training.health_panel import LayerHealthPanel, install

    return LayerHealthPanel, install


LATER_PANELS: tuple[LaterPanel, ...] = (
    LaterPanel("trainingPanel", "Training", Area.RightDockWidgetArea, _training),
    LaterPanel("metricsPlots", "Metrics", Area.BottomDockWidgetArea, _metrics),
    LaterPanel("featureMapView", "Feature maps", Area.BottomDockWidgetArea, _feature_maps,
               needs_torch=True),
    LaterPanel("layerHealth", "Layer health", Area.BottomDockWidgetArea, _layer_health),
    LaterPanel("dataPanel", "Data", Area.BottomDockWidgetArea, _data),
    LaterPanel("sweepPanel", "Sweeps", Area.BottomDockWidgetArea, _sweeps),
)

# The modules the loaders above import: none makes a widget, pixmap or icon when imported,
# so the app imports them on a worker thread first (with torch and pyqtgraph); adding the
# docks on the GUI thread then only builds widgets. A panel's new module belongs here.
PANEL_MODULES = ("visionstudio.ui.training.integration", "visionstudio.ui.training.panel",
                 "visionstudio.ui.plots.metrics", "visionstudio.ui.features",
                 "visionstudio.ui.features.integration", "visionstudio.ui.training.health_panel",
                 "visionstudio.ui.data.panel", "visionstudio.ui.sweeps.integration",
                 "visionstudio.ui.sweeps.panel")

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


class LaterDocks:
    """Adds the later panels' docks to a main window and builds a waiting panel when its
    dock first shows.

    ``deferred`` (the app): every dock and every integration is added on its own
    event-loop turn, and each panel waits in its dock until the dock first shows (measured: all of it in
    one turn froze the window 0.15-1 s). Else everything is added and built at once
    (lean tests). The window places each dock (``place_dock``), adds its View menu
    entry, and ends with ``finish_later_docks`` (sizes, menus, icons).
    """

    def __init__(self, window: QMainWindow, deferred: bool) -> None:
        self.window, self.deferred = window, deferred
        self.added = False
        self.unbuilt: dict[str, _Pending] = {}
        self._needs_torch: set[str] = set()
        self._steps: Iterator[None] | None = None

    def add(self) -> None:
        if self.added or self._steps is not None:
            return
        self._steps = self._add_steps()
        if not self.deferred:
            for _ in self._steps:
                pass
            return
        self._step()

    def _step(self) -> None:
        try:
            next(self._steps)
        except StopIteration:
            return
        QTimer.singleShot(0, self.window, self._step)  # dropped with the window

    def _add_steps(self) -> Iterator[None]:
        w = self.window
        for panel in LATER_PANELS:
            cls, installer = panel.load()
            if self.deferred:
                if panel.needs_torch:
                    self._needs_torch.add(panel.object_name)
                dock = add_dock(w, _placeholder(panel), panel.title, panel.object_name, None)
                self.unbuilt[panel.object_name] = _Pending(
                    cls, w, panel, dock, lambda key=panel.object_name: self.unbuilt.pop(key, None),
                    w.extras.refresh_steps)
                dock.visibilityChanged.connect(lambda on, key=panel.object_name: on and self._build_soon(key))
            else:
                widget = named(cls(w.controller), panel.object_name, panel.title)
                dock = add_dock(w, _shrinkable(widget, panel.object_name), panel.title,
                                panel.object_name, None)
            w.place_dock(dock, panel.area)
            self._build_soon(panel.object_name)   # the saved layout may have it open
            yield
            if installer is not None:
                integration = installer(w)
                if hasattr(integration, "confirm_close"):   # asked before the window closes
                    w.close_guards.append(integration.confirm_close)
                yield
        yield from w.finish_later_docks()
        self.added = True

    def panel(self, key: str) -> QWidget | None:
        """The later panel ``key``, built now if it still waits for its dock to show."""
        pending = self.unbuilt.get(key)
        if pending is None:
            return self.window.findChild(QWidget, key) if key in self.window.docks else None
        return pending.complete()   # the rest of its steps at once when it was being built

    def _build_soon(self, key: str) -> None:
        """Start building a waiting panel on the next turn if its dock is on screen then,
        one step per turn (a dock is shown for a moment while it is tabbed behind another;
        one behind another tab stays "visible", moved out of sight)."""
        def build() -> None:
            if not isValid(self.window):
                return   # closed while torch loaded
            dock, bar = self.window.docks.get(key), self.window.statusBar()
            if bar.currentMessage() == LOADING_MESSAGE:
                bar.clearMessage()
            if key in self.unbuilt and dock is not None and dock.isVisible() \
                    and not dock.visibleRegion().isEmpty():
                self.unbuilt[key].start()

        def check() -> None:
            if key in self._needs_torch and not torch_loaded():
                dock = self.window.docks.get(key)
                if dock is not None and not dock.visibleRegion().isEmpty():
                    # its tasks would import torch holding the GIL: load it first, saying so
                    when_torch_loaded(build, self.window.statusBar().showMessage)
                return
            build()

        if key in self.unbuilt:
            QTimer.singleShot(0, self.window, check)


def _placeholder(panel: LaterPanel) -> QWidget:
    """What a deferred panel's dock shows until the panel is built (a turn, or until torch
    has loaded for one that needs it)."""
    label = QLabel(f"Opening {panel.title.lower()}…")
    label.setObjectName(f"{panel.object_name}Pending")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class _Pending:
    """A panel waiting in its dock: ``complete`` builds it now, ``start`` one step per
    event-loop turn (a class with ``builds_in_steps``: constructed with ``staged=True``,
    then its ``build_steps``; measured: the metrics and feature-map panels took 0.2-0.65 s
    in one turn, 15-35 ms of CPU a step). It is built without a parent and put in its dock
    when complete, so nothing finds a half-built panel; ``placed`` is called then, and
    ``finish`` (the window's icons, tooltips and plot colours) ends the build, as steps
    of their own when staged."""

    def __init__(self, cls: type[QWidget], window: QMainWindow, panel: LaterPanel, dock: QDockWidget,
                 placed: Callable[[], None], finish: Callable[[], Iterator[None]]) -> None:
        self.cls, self.window, self.panel, self.dock = cls, window, panel, dock
        self.placed, self.finish = placed, finish
        self.widget: QWidget | None = None
        self._steps: Iterator[None] | None = None

    def complete(self) -> QWidget:
        if self._steps is None:
            self.widget = self._make(staged=False)
            self._steps = self._build_steps()
        for _ in self._steps:
            pass
        return self.widget

    def start(self) -> None:
        if self._steps is not None:
            return
        staged = getattr(self.cls, "builds_in_steps", False)
        self.widget = self._make(staged)
        self._steps = self._build_steps()
        self._step()

    def _make(self, staged: bool) -> QWidget:
        widget = self.cls(self.window.controller, staged=True) if staged else self.cls(self.window.controller)
        return named(widget, self.panel.object_name, self.panel.title)

    def _build_steps(self) -> Iterator[None]:
        for _ in getattr(self.widget, "build_steps", ()):
            yield
        yield   # the panel's last step ran in the turn before
        pending = self.dock.widget()
        self.dock.setWidget(_shrinkable(self.widget, self.panel.object_name))
        if pending is not None:
            pending.deleteLater()
        self.placed()
        yield
        yield from self.finish()

    def _step(self) -> None:
        if next(self._steps, StopIteration) is not StopIteration:
            QTimer.singleShot(0, self.window, self._step)   # dropped with the window
