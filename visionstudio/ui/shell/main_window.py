"""The main window: assembles docks, menus, toolbar and status bar, and delegates.

Files go to :class:`FileManager`, autosave/recovery to :class:`AutosaveManager`,
edits to the canvas and the controller's undo stack. The window only wires them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QRectF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QUndoView, QWidget

from visionstudio.ui.canvas import GraphView
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.dialogs.recovery_dialog import ask_recover
from visionstudio.ui.forms import install_wheel_guard
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.inspector.summary_panel import SummaryPanel
from visionstudio.ui.shell import first_run as shell_extras
from visionstudio.ui.shell.actions import (
    CANVAS_ACTIONS,
    add_undo_actions,
    build_menus,
    build_toolbar,
    create_actions,
    fill_recent_menu,
)
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.docks import LaterDocks, add_dock, named
from visionstudio.ui.shell.files import FileManager
from visionstudio.ui.shell.recovery import (
    AUTOSAVE_INTERVAL_MS,
    AutosaveManager,
    pending_recoveries,
    prompt_disabled,
)
from visionstudio.ui.shell.settings import open_settings, read_bytes
from visionstudio.ui.shell.window_state import state_problem

log = logging.getLogger("visionstudio")

APP_TITLE = "VisionStudio"
STATE_VERSION = 1  # bump when the dock layout changes incompatibly
STATUS_TIMEOUT_MS = 6000
READABLE_ZOOM = 0.6  # below this node text is unreadable; tall networks scroll instead
# Later-feature docks, the first time they appear: (tabbed with, raised above it)
TAB_WITH = {"trainingPanel": ("history", True), **{key: ("summary", False) for key in (
    "metricsPlots", "featureMapView", "layerHealth", "dataPanel", "sweepPanel")}}
# Default dock sizes (issue #13: at 1280x800 the Training form and Feature maps open
# readable). Shares: the inspector's of the right column, the bottom tabs' of the height;
# the feature maps' first showing after a reset grows the bottom to TALL_BOTTOM.
PALETTE_WIDTH, RIGHT_WIDTH, INSPECTOR_SHARE = 220, 340, 0.36
BOTTOM_SHARE, MIN_BOTTOM, MAX_BOTTOM = 0.38, 200, 420
TALL_BOTTOM, TALL_SHARE = {"featureMapView": 420}, 0.55


class MainWindow(QMainWindow):
    initial_load_done = Signal()  # the first document is in place (app start, background load)

    def __init__(self, controller: DocumentController | None = None, *,
                 settings: QSettings | None = None, recovery_dir: Path | None = None,
                 autosave_interval_ms: int = AUTOSAVE_INTERVAL_MS, defer_panels: bool = False,
                 build_when_shown: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAccessibleName("VisionStudio main window")
        self.controller = controller or DocumentController()
        self.settings = open_settings(settings)  # checked before Qt parses it
        self.files = FileManager(self.controller, self.settings, self, self)
        self.autosave = AutosaveManager(self.controller, recovery_dir, autosave_interval_ms, self)
        self.ask_recover = ask_recover  # replaced by tests to answer the offer
        install_wheel_guard()  # no combo, spin box or slider changes by a stray wheel
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        # The right column runs the full height: the bottom tabs then never add their
        # width to the right column's (the minimum width was 1106 px with both in a row).
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_panels()
        self.actions_by_name = create_actions(self)
        add_undo_actions(self, self.controller, self.actions_by_name)
        self.menus = build_menus(self, self.actions_by_name)
        self.toolbar = build_toolbar(self, self.actions_by_name)
        self._connect_actions()
        self._populate_panels_menu()
        self._connect_status()
        self.extras = shell_extras.install(self)  # welcome page, theme, help dialogs, icons
        self._default_state = self.saveState(STATE_VERSION)
        self.controller.undo_stack.cleanChanged.connect(self._on_stack_clean_changed)
        self.controller.path_changed.connect(self._update_title)
        self.controller.document_replaced.connect(self._on_controller_document_replaced)
        self.summary.node_activated.connect(self.reveal_node)
        self.files.recent_changed.connect(self._refresh_recent_menu)
        self._refresh_recent_menu(self.files.recent())
        self._update_title()
        self._fit_to_screen()
        self._sized = self.restore_layout()
        self._framed = False
        self.close_guards: list = []  # integrations asked (confirm_close) before closing
        self._install_export()
        self._placed_fresh, self._later_areas, self._grow_on_show = False, {}, set()
        self.later = LaterDocks(self, deferred=build_when_shown)   # the app's start: deferred
        if not defer_panels:  # else the app adds them once the first document has loaded
            QTimer.singleShot(0, self.add_later_docks)

    # -- assembly ------------------------------------------------------------------
    def _build_panels(self) -> None:
        c = self.controller
        self.canvas = named(GraphView(c), "modelCanvas", "Canvas")
        self.setCentralWidget(self.canvas)
        self.palette = named(LayerPalette(c), "layerPalette", "Layers")
        self.inspector = named(InspectorPanel(c), "inspector", "Inspector")
        self.summary = SummaryPanel(c)
        self.history = named(QUndoView(c.undo_stack), "undoHistory", "Undo history")
        self.history.setEmptyLabel("Opened project")
        c.lock_changed.connect(lambda reason: self.history.setEnabled(not reason))  # jumps skip the lock
        add = add_dock
        Area = Qt.DockWidgetArea
        self.docks: dict[str, QDockWidget] = {
            "palette": add(self, self.palette, "Layers", "layerPalette", Area.LeftDockWidgetArea),
            "inspector": add(self, self.inspector, "Inspector", "inspector", Area.RightDockWidgetArea),
            "history": add(self, self.history, "History", "undoHistory", Area.RightDockWidgetArea),
            "summary": add(self, self.summary, "Model summary", "summaryPanel",
                           Area.BottomDockWidgetArea),
        }
        self.splitDockWidget(self.docks["inspector"], self.docks["history"], Qt.Orientation.Vertical)

    def _fit_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is None or screen.width() < 800:
            self.resize(1400, 900)
            return
        self.resize(min(1600, int(screen.width() * 0.9)), min(1000, int(screen.height() * 0.9)))

    def _default_dock_sizes(self) -> None:
        """Starting proportions (docks only take sizes once the window is laid out)."""
        h, Orient = self.height(), Qt.Orientation
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [PALETTE_WIDTH, RIGHT_WIDTH],
                         Orient.Horizontal)
        column = h - self.menuBar().sizeHint().height() - self.statusBar().sizeHint().height()
        below = self.docks.get("trainingPanel", self.docks["history"])
        self.resizeDocks([self.docks["inspector"], below],
                         [int(column * INSPECTOR_SHARE), int(column * (1 - INSPECTOR_SHARE))],
                         Orient.Vertical)
        bottom = min(MAX_BOTTOM, max(MIN_BOTTOM, int(h * BOTTOM_SHARE)))
        self.resizeDocks([self.docks["summary"]], [bottom], Orient.Vertical)
        self._grow_on_show = {key for key in TALL_BOTTOM if key in self.docks}

    def _on_dock_shown(self, key: str, visible: bool) -> None:
        """A tall panel's first showing after the default sizes: make it readable."""
        if not visible or key not in self._grow_on_show:
            return
        self._grow_on_show.discard(key)
        dock, height = self.docks[key], min(TALL_BOTTOM[key], int(self.height() * TALL_SHARE))
        if not dock.isFloating() and dock.height() < height:
            QTimer.singleShot(0, lambda: self.resizeDocks([dock], [height], Qt.Orientation.Vertical))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            self._default_dock_sizes()
        if not self._framed:
            self._framed = True
            QTimer.singleShot(0, self.frame_document)

    @property
    def later_docks_added(self) -> bool:
        """The training, metrics and feature-map docks are in the window."""
        return self.later.added

    def add_later_docks(self) -> None:
        """Panels of later features (training, plots, feature maps), added after the first
        paint: they import pyqtgraph and build many widgets (see docks.LaterDocks)."""
        self.later.add()

    def later_panel(self, key: str) -> QWidget | None:
        """The later panel ``key`` (e.g. "featureMapView"), built now if it still waits
        for its dock's first showing; None before its dock is in."""
        return self.later.panel(key)

    def finish_later_docks(self):
        """The last steps of adding the later docks (each ``yield`` lets input through)."""
        if self._placed_fresh:  # new panels must not squeeze the canvas
            self._default_dock_sizes()
        help_action = self.menus["help"].menuAction()  # Help stays the last menu
        self.menuBar().removeAction(help_action)
        self.menuBar().addAction(help_action)
        yield
        yield from self.extras.refresh_steps()  # icons, tooltips, plot colours of the new ones

    def _install_export(self) -> None:
        """File > Export… (Ctrl+E) and Import Metrics CSV; an Export button after Save."""
        from visionstudio.ui.export import integration as export_integration

        integration = self.export = export_integration.install(self)
        bar_actions = self.toolbar.actions()
        save = self.actions_by_name["save"]
        after = bar_actions[bar_actions.index(save) + 1] if save in bar_actions[:-1] else None
        self.toolbar.insertAction(after, integration.action)
        self.extras.refresh()

    def place_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        """A later dock: where the saved layout had it, else tabbed beside a related panel."""
        key = dock.objectName().removesuffix("Dock")
        self.menus["panels"].addAction(dock.toggleViewAction())
        self.docks[key] = dock
        self._later_areas[key] = area
        if key in TALL_BOTTOM:
            dock.visibilityChanged.connect(lambda on, key=key: self._on_dock_shown(key, on))
        if self.restoreDockWidget(dock):
            return
        self._place_fresh(dock, area)
        self._placed_fresh = True

    def _place_fresh(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        """The default place of a later panel: in ``area``, tabbed with TAB_WITH's panel."""
        dock.setFloating(False)
        self.addDockWidget(area, dock)
        beside, on_top = TAB_WITH.get(dock.objectName().removesuffix("Dock"), (None, False))
        other = self.docks.get(beside)
        if other is not None and not other.isFloating() and self.dockWidgetArea(other) == area:
            self.tabifyDockWidget(other, dock)
        dock.show()
        (dock if on_top or other is None else other).raise_()

    def _connect_actions(self) -> None:
        a, f = self.actions_by_name, self.files
        a["new"].triggered.connect(f.new)
        a["open"].triggered.connect(f.open)
        a["import_model"].triggered.connect(lambda _checked=False: self.extras.show_import_model())
        a["save"].triggered.connect(f.save)
        a["save_as"].triggered.connect(f.save_as)
        for name in ("close", "quit"):
            a[name].triggered.connect(self.close)
        a["reset_layout"].triggered.connect(self.reset_layout)
        a["clear_recent"].triggered.connect(f.clear_recent)
        a["about"].triggered.connect(lambda _checked=False: self.extras.show_about())
        for name, method in CANVAS_ACTIONS.items():
            slot = getattr(self.canvas, method)
            a[name].triggered.connect(lambda _checked=False, slot=slot: slot())

    def _populate_panels_menu(self) -> None:
        for dock in self.docks.values():
            self.menus["panels"].addAction(dock.toggleViewAction())
        toggle = self.toolbar.toggleViewAction()
        toggle.setObjectName("action_toggle_toolbar")
        self.menus["panels"].addSeparator()
        self.menus["panels"].addAction(toggle)

    def _connect_status(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        bar.setAccessibleName("Status bar")
        self.controller.refused.connect(self.show_status)
        self.files.status.connect(self.show_status)
        self.autosave.failed.connect(self.show_status)
        self.canvas.status_message.connect(self.show_status)
        self.palette.status_message.connect(self.show_status)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    # -- title / dirty mark -------------------------------------------------------------
    def _update_title(self, *_args) -> None:
        doc_name = self.controller.document.name
        name = self.files.display_name
        if self.controller.path is None and doc_name and doc_name != "Untitled":
            name = f"{name} ({doc_name})"
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}")
        self.setWindowModified(self.controller.is_dirty)

    def _on_stack_clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def _on_controller_document_replaced(self, document) -> None:
        self._update_title()
        QTimer.singleShot(0, self.frame_document)

    def reveal_node(self, node_id: str) -> None:
        """Scroll the canvas so a layer picked elsewhere (a summary row: always the network's)
        is in view, leaving an opened block for the network first."""
        if node_id not in self.controller.graph.nodes and self.controller.leave_definition(0):
            self.controller.set_selection([node_id])
        pos = self.controller.graph.positions.get(node_id)
        if pos is not None:
            self.canvas.ensureVisible(QRectF(pos[0] - 90, pos[1] - 50, 180, 100), 40, 40)

    def frame_document(self) -> None:
        """Fit the network in the canvas, but never below a readable zoom: a tall network
        then shows its top (the input) at READABLE_ZOOM."""
        canvas = self.canvas
        canvas.fit_to_view()
        if canvas.zoom < READABLE_ZOOM:
            rect = canvas.scene().itemsBoundingRect()
            canvas.set_zoom(READABLE_ZOOM)
            half_height = canvas.viewport().height() / READABLE_ZOOM / 2
            canvas.centerOn(rect.center().x(), rect.top() + half_height - 30)

    # -- recent files -----------------------------------------------------------------
    def _refresh_recent_menu(self, paths: list[str]) -> None:
        fill_recent_menu(self.menus["recent"], paths, self._open_recent,
                         self.actions_by_name["clear_recent"])

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.files.remove_recent(path)
            self.files.prompts.error(self, "Cannot open project",
                                     f"{path} no longer exists; it was removed from the recent files.")
            return
        self.files.open_path(path)

    # -- layout persistence -------------------------------------------------------------
    def restore_layout(self) -> bool:
        geometry = read_bytes(self.settings, "window/geometry")
        state = read_bytes(self.settings, "window/state",
                           check=lambda data: state_problem(data, STATE_VERSION))
        restored = False
        if geometry is not None:
            restored = self.restoreGeometry(geometry)
        if state is not None:
            restored = self.restoreState(state, STATE_VERSION) and restored
        return restored

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.sync()

    def reset_layout(self) -> None:
        """View › Reset Panels: the first-start layout, later panels tabbed as at first.
        The later panels leave first: the saved default does not know them, and laid out
        side by side for a moment they would widen the window to their summed minimums."""
        size = self.size()
        for key in self._later_areas:
            self.removeDockWidget(self.docks[key])
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        for key, area in self._later_areas.items():
            self._place_fresh(self.docks[key], area)
        self.toolbar.show()
        if not self.isMaximized() and not self.isFullScreen():
            self.resize(size)
        self._default_dock_sizes()

    # -- recovery ------------------------------------------------------------------------
    def offer_recovery(self, *, force: bool = False) -> bool:
        """Offer the newest recovery file a crashed session left; True if recovered.

        Never silent: the user answers a dialog (``self.ask_recover``). Skipped when
        VISIONSTUDIO_NO_RECOVERY_PROMPT is set, unless ``force``.
        """
        if prompt_disabled() and not force:
            return False
        for entry in pending_recoveries(self.autosave.directory):
            answer = self.ask_recover(entry.title, entry.saved_at, self)
            if answer == "later":
                return False
            if answer == "discard":
                entry.discard()
                continue
            try:
                doc = entry.load()
            except Exception as exc:  # noqa: BLE001 - any failure: say so, keep the file
                self.files.prompts.error(self, "Cannot recover", f"{entry.file}: {exc}")
                return False
            original = Path(entry.original) if entry.original else None
            self.controller.replace_document(doc, original)
            self.controller.undo_stack.resetClean()  # recovered work is unsaved work
            self._update_title()
            entry.discard()
            self.autosave.autosave_now()
            self.show_status(f"Recovered unsaved changes to {entry.title}")
            return True
        return False

    # -- closing ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # The document first (saving or discarding changes nothing), then the panels
        # (a training run may be stopped, background tasks are ended).
        if not self.files.maybe_save() or not all(guard() for guard in self.close_guards):
            event.ignore()
            return
        self.save_layout()
        self.autosave.stop()
        event.accept()

    # -- welcome page --------------------------------------------------------------------
    @property
    def welcome(self):
        return self.extras.welcome

    def show_welcome(self) -> None:
        self.extras.welcome.show()
