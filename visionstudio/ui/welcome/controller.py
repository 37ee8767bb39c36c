"""The welcome page: templates as cards, recent projects, one click to a training run.

It covers the window's panels (an overlay below the toolbar, above the status bar) so
the dock layout underneath is never touched; choosing anything hides it and shows the
editor. The cards' parameter counts and previews are filled in after the first paint
(reading the five templates takes a fraction of a second and never imports torch).

The page's widget lives in :mod:`visionstudio.ui.welcome.page`, the cards and network
previews in :mod:`visionstudio.ui.welcome.cards`; this module places the page and acts on
what the user picks.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut

from visionstudio.core.templates import DEFAULT_TEMPLATE, TEMPLATES
from visionstudio.ui.shell.settings import read_bool
from visionstudio.ui.welcome.page import WelcomePage

SHOW_KEY = "welcome/showAtStart"


def show_at_start(settings) -> bool:
    return read_bool(settings, SHOW_KEY, True)


class WelcomeController(QObject):
    """Puts the page over the main window's panels and acts on what the user picks."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.chosen = False   # the user picked a project here (the first-load must not replace it)
        self._train_pending = False
        self.page = WelcomePage(window)
        self.page.hide()
        self.page.show_check.setChecked(show_at_start(window.settings))
        p = self.page
        p.template_chosen.connect(self.open_template)
        p.recent_chosen.connect(self.open_recent)
        p.open_requested.connect(self.open_file)
        p.train_classic_requested.connect(self.train_classic)
        p.editor_requested.connect(self.hide)
        p.pretrained.may_start = lambda _name: self.window.files.maybe_save()
        p.pretrained.imported.connect(self.open_imported)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), p)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.hide)
        p.show_at_start_changed.connect(self.set_show_at_start)
        window.files.recent_changed.connect(p.set_recent)
        p.set_recent(window.files.recent())
        window.installEventFilter(self)
        self.update_train_tooltip()

    # -- placement ----------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest,
                                                    QEvent.Type.Show):
            QTimer.singleShot(0, self.window, self.place)  # dropped with the window
        return False

    def place(self) -> None:
        w = self.window
        top = w.menuBar().geometry().bottom() + 1 if w.menuBar().isVisible() else 0
        toolbar = w.toolbar
        if toolbar.isVisible() and not toolbar.isFloating():
            g = toolbar.geometry()
            if g.top() <= top + 2:
                top = max(top, g.bottom() + 1)
        bottom = w.height()
        status = w.statusBar()
        if status.isVisible():
            bottom = status.geometry().top()
        self.page.setGeometry(QRect(0, top, w.width(), max(0, bottom - top)))
        self.page.raise_()

    @property
    def visible(self) -> bool:
        return not self.page.isHidden()

    def show(self) -> None:
        self.update_train_tooltip()
        self.place()
        self.page.show()
        self.page.raise_()
        self.page.train_button.setFocus()
        self._sync_action()

    def hide(self) -> None:
        self.page.hide()
        self.window.canvas.setFocus()
        self._sync_action()

    def _sync_action(self) -> None:
        action = self.window.actions_by_name.get("welcome")
        if action is not None and action.isChecked() != self.visible:
            action.setChecked(self.visible)

    def set_show_at_start(self, on: bool) -> None:
        self.window.settings.setValue(SHOW_KEY, bool(on))
        if self.page.show_check.isChecked() != on:
            self.page.show_check.setChecked(on)
        action = self.window.actions_by_name.get("welcome_at_start")
        if action is not None and action.isChecked() != on:
            action.setChecked(on)

    # -- choices --------------------------------------------------------------------------
    def _is_untouched_template(self, key: str) -> bool:
        """The open document is template ``key`` exactly as loaded (the app's start-up
        document): opening it again would only rebuild every panel."""
        c = self.window.controller
        titles = {t.key: t.title for t in TEMPLATES}
        return (bool(key) and c.path is None and not c.is_dirty and c.undo_stack.count() == 0
                and bool(c.graph.nodes) and c.document.name == titles.get(key))

    def open_template(self, key: str) -> bool:
        if self._is_untouched_template(key):
            self.chosen = True
            self.hide()
            return True
        if self.window.files.new_from_template(key):
            self.chosen = True
            self.hide()
            return True
        return False

    def open_imported(self, result) -> None:
        """A pretrained network, imported: saved as a project with its weights (the user
        picks where; unsaved work was asked about before the download) and opened."""
        if not self.window.files.open_imported(result):
            return
        self.chosen = True
        self.hide()
        self.window.show_status(f"Opened {result.document.name}: " + " ".join(result.notes[-1:]))

    def open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.window.files.remove_recent(path)
            self.window.files.prompts.error(
                self.window, "Cannot open project",
                f"{path} no longer exists; it was removed from the recent files.")
            return
        if self.window.files.open_path(path):
            self.chosen = True
            self.hide()

    def open_file(self) -> None:
        if self.window.files.open():
            self.chosen = True
            self.hide()

    def train_action(self) -> QAction | None:
        return self.window.findChild(QAction, "action_train")

    def update_train_tooltip(self) -> None:
        self.page.train_button.setToolTip(
            "Open the Classic CNN template with the built-in shapes dataset and start training")

    def train_classic(self) -> bool:
        """Open the classic CNN and start training; True when the Train action was
        triggered, or will be as soon as the training panel has loaded (app start)."""
        if not self.open_template(DEFAULT_TEMPLATE):
            return False
        action = self.train_action()
        if action is None:   # the app start has not added the training panel yet
            self._train_pending = True
            self.window.show_status("Opened the Classic CNN; training starts as soon as the "
                                    "training panel has loaded…")
            return True
        return self._trigger(action)

    def _trigger(self, action: QAction) -> bool:
        if not action.isEnabled():
            self.window.show_status("Opened the Classic CNN; training cannot start right now")
            return False
        action.trigger()
        metrics = self.window.docks.get("metricsPlots")
        if metrics is not None and metrics.isVisible():
            metrics.raise_()   # the curves, not the summary, for a run started from here
            want = int(self.window.height() * 0.42)
            if not metrics.isFloating() and metrics.height() < want:   # room for four plots
                self.window.resizeDocks([metrics], [want], Qt.Orientation.Vertical)
        return True

    def on_actions_changed(self) -> None:
        """Later features added their actions: tooltips, and a training run the user
        asked for before the training panel existed."""
        self.update_train_tooltip()
        action = self.train_action()
        if self._train_pending and action is not None:
            self._train_pending = False
            self._trigger(action)
