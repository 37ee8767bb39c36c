"""First-run experience and look, installed into the main window by ``install(window)``:

- the welcome page (View › Welcome Page, View › Show Welcome Page at Start),
- View › Theme (System / Light / Dark) with :class:`~.theme.ThemeManager`,
- Help › Keyboard Shortcuts and Help › About VisionStudio (the versions dialog),
- SVG toolbar icons and tooltips that name each action's shortcut.

``refresh(window)`` runs again after later features add their actions (train, export…).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QDockWidget, QMenu, QToolBar, QToolButton

from visionstudio.ui.shell.icons import app_icon, apply_action_icons
from visionstudio.ui.shell.theme import ThemeManager
from visionstudio.ui.welcome.controller import WelcomeController

NATIVE = QKeySequence.SequenceFormat.NativeText


def _action(window, name: str, text: str, tip: str, keys: str = "", checkable: bool = False) -> QAction:
    action = QAction(text, window)
    action.setObjectName(f"action_{name}")
    action.setStatusTip(tip)
    action.setToolTip(tip)
    action.setCheckable(checkable)
    if keys:
        action.setShortcut(QKeySequence(keys))
    window.actions_by_name[name] = action
    return action


def polish_tooltips(window) -> None:
    """Every action gets a status tip and a tooltip that ends with its shortcut."""
    for action in window.findChildren(QAction):
        if not action.text() or action.isSeparator():
            continue
        keys = [s.toString(NATIVE) for s in action.shortcuts() if not s.isEmpty()]
        base = action.property("vsBaseTip")
        if not base:
            plain = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            base = action.toolTip() or plain
            for key in keys:  # "Save the project (Ctrl+S)" -> "Save the project"
                if base.endswith(f" ({key})"):
                    base = base[: -len(key) - 3]
            if base == plain.rstrip("…") or base == plain:
                base = action.statusTip() or base
            action.setProperty("vsBaseTip", base)
        if not action.statusTip():
            action.setStatusTip(base)
        action.setToolTip(f"{base} ({keys[0]})" if keys else base)


def polish_chrome_tooltips(window) -> None:
    """Tooltips for Qt's own buttons: each dock's float/close buttons, the toolbar's
    overflow button."""
    for dock in window.findChildren(QDockWidget):
        title = dock.windowTitle().lower() or "this"
        for button in dock.findChildren(QAbstractButton):
            name = button.objectName()
            if name == "qt_dockwidget_closebutton":
                button.setToolTip(f"Close the {title} panel (View › Panels shows it again)")
            elif name == "qt_dockwidget_floatbutton":
                button.setToolTip(f"Float the {title} panel in its own window, or dock it back")
    for bar in window.findChildren(QToolBar):
        for button in bar.findChildren(QToolButton, "qt_toolbar_ext_button"):
            button.setToolTip("More toolbar buttons")


class ShellExtras:
    def __init__(self, window) -> None:
        self.window = window
        w = window
        a = w.actions_by_name
        if not app_icon().isNull():
            w.setWindowIcon(app_icon())
        self.welcome = WelcomeController(w)
        # View menu
        view: QMenu = w.menus["view"]
        view.addSeparator()
        theme_menu = QMenu("&Theme", view)
        theme_menu.setObjectName("menu_theme")
        group = QActionGroup(w)
        group.setExclusive(True)
        self.theme = ThemeManager(w.settings, w)
        for mode, label, tip in (
                ("system", "&System", "Follow the desktop's light or dark colour scheme"),
                ("light", "&Light", "Always use the light theme"),
                ("dark", "&Dark", "Always use the dark theme")):
            act = _action(w, f"theme_{mode}", label, tip, checkable=True)
            act.setChecked(self.theme.mode == mode)
            act.triggered.connect(lambda _checked=False, m=mode: self.theme.set_mode(m))
            group.addAction(act)
            theme_menu.addAction(act)
        view.addMenu(theme_menu)
        w.menus["theme"] = theme_menu
        view.addSeparator()
        welcome = _action(w, "welcome", "&Welcome Page", "Show the welcome page: templates, "
                          "recent projects, one-click training", checkable=True)
        welcome.triggered.connect(lambda on: self.welcome.show() if on else self.welcome.hide())
        at_start = _action(w, "welcome_at_start", "Show Welcome Page at &Start",
                           "Open on the welcome page when VisionStudio starts without a project",
                           checkable=True)
        at_start.setChecked(self.welcome.page.show_check.isChecked())
        at_start.toggled.connect(self.welcome.set_show_at_start)
        view.addAction(welcome)
        view.addAction(at_start)
        # Help menu
        help_menu: QMenu = w.menus["help"]
        shortcuts = _action(w, "shortcuts", "&Keyboard Shortcuts", "Every keyboard shortcut, "
                            "searchable", "Ctrl+/")
        shortcuts.triggered.connect(self.show_shortcuts)
        help_menu.insertAction(a["about"], shortcuts)
        help_menu.insertSeparator(a["about"])
        self.theme.changed.connect(self._on_theme_changed)
        self.theme.apply()
        self.refresh()

    def _on_theme_changed(self, _dark: bool) -> None:
        apply_action_icons(self.window)
        if hasattr(self, "welcome"):
            self.welcome.page.restyle()

    def refresh(self) -> None:
        """After later features added actions and panels: icons, tooltips, plot colours."""
        for _ in self.refresh_steps():
            pass

    def refresh_steps(self):
        """``refresh`` in steps; the caller may let input through at each ``yield``."""
        apply_action_icons(self.window)
        yield
        polish_tooltips(self.window)
        polish_chrome_tooltips(self.window)
        self.welcome.on_actions_changed()
        from visionstudio.ui.shell.theme import style_plots

        style_plots(self.window, self.theme.dark)

    def show_shortcuts(self):
        from visionstudio.ui.dialogs.shortcuts import ShortcutsDialog

        dialog = ShortcutsDialog(self.window)
        dialog.open()
        return dialog

    def show_about(self):
        from visionstudio.ui.dialogs.about import AboutDialog

        dialog = AboutDialog(self.window)
        dialog.open()
        return dialog

    def show_import_model(self):
        from visionstudio.ui.dialogs.import_model import open_import_dialog

        return open_import_dialog(self.window)


def install(window) -> ShellExtras:
    return ShellExtras(window)
