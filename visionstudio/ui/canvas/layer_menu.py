"""Menus of layer kinds: the "Insert After ▸", "Insert Layer ▸" and "Add Layer ▸" lists.

One list, grouped under the palette's category headings, so a kind is found where the
palette shows it. "Add Layer ▸" has a search field on top: typing hides the kinds that
do not match (the palette's rule: every word in the title, key, category or
description) and Enter takes the first kind still shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLineEdit, QMenu, QWidget, QWidgetAction

from visionstudio.core.layers import LAYERS, LayerSpec, palette_groups
from visionstudio.ui.canvas.layer_style import layer_icon
from visionstudio.ui.shell.actions import SPECS

KIND_ROLE = "layer_kind"   # the dynamic property holding an action's layer key


class ContextMenu(QMenu):
    """A right-click menu: shown once where it was asked for, then deleted."""

    def show_at(self, screen_pos: QPoint) -> None:
        self.exec(screen_pos)
        self.deleteLater()


def spec_action(name: str, parent: QObject, slot: Callable[[], object]) -> QAction:
    """A menu entry with the text and shortcut of the window's action ``name``, so the
    menu shows the same words and keys as the Edit and View menus."""
    spec = next(s for s in SPECS if s.name == name)
    action = QAction(spec.text, parent)
    action.setObjectName(f"context_{name}")
    action.setStatusTip(spec.tip)
    action.setToolTip(spec.tip)
    for key in spec.keys:
        standard = isinstance(key, QKeySequence.StandardKey)
        seqs = QKeySequence.keyBindings(key) if standard else [QKeySequence(key)]
        if seqs and not seqs[0].isEmpty():
            action.setShortcut(seqs[0])
            action.setShortcutVisibleInContextMenu(True)
            break
    action.triggered.connect(lambda _checked=False: slot())
    return action


def matches(spec: LayerSpec, text: str) -> bool:
    """The palette's search rule: every word somewhere in what the kind is called."""
    hay = f"{spec.title} {spec.key} {spec.category} {spec.description}".lower()
    return all(w in hay for w in text.lower().split())


def kind_menu(title: str, parent: QWidget, on_kind: Callable[[str], object], *,
              allowed: Callable[[LayerSpec], bool] = lambda spec: True) -> QMenu:
    """A menu of every layer kind ``allowed`` keeps, one submenu per category (the
    library outgrew one screen-high list); choosing one calls ``on_kind(key)``."""
    menu = QMenu(title, parent)
    _fill(menu, on_kind, allowed, grouped=True)
    return menu


def _fill(menu: QMenu, on_kind: Callable[[str], object], allowed: Callable[[LayerSpec], bool], *,
          grouped: bool = False) -> None:
    for category, keys in palette_groups():
        specs = [LAYERS.get(k) for k in keys if allowed(LAYERS.get(k))]
        if not specs:
            continue
        target = menu
        if grouped:
            target = menu.addMenu(layer_icon(specs[0].key), category)
            target.setObjectName(f"category_{category}")
            target.setToolTipsVisible(True)
        else:
            menu.addSection(category)
        for spec in specs:
            action = target.addAction(layer_icon(spec.key), spec.title)
            action.setObjectName(f"kind_{spec.key}")
            action.setProperty(KIND_ROLE, spec.key)
            action.setStatusTip(spec.description)
            action.setToolTip(spec.description)
            action.triggered.connect(lambda _checked=False, key=spec.key: on_kind(key))
    menu.setToolTipsVisible(True)


def kind_actions(menu: QMenu) -> list[QAction]:
    """The entries of a :func:`kind_menu` that stand for a layer kind (in its category
    submenus too)."""
    found = []
    for action in menu.actions():
        if action.property(KIND_ROLE):
            found.append(action)
        elif action.menu() is not None:
            found.extend(kind_actions(action.menu()))
    return found


def kind_action(menu: QMenu, key: str) -> QAction:
    return next(a for a in kind_actions(menu) if a.property(KIND_ROLE) == key)


class _SearchKeys(QObject):
    """Up/Down in the search field go to the list; Escape closes the menu (the field
    would otherwise keep them)."""

    def __init__(self, menu: QMenu, field: QLineEdit) -> None:
        super().__init__(field)
        self._menu, self._field = menu, field

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.KeyPress:
            return False
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            shown = [a for a in kind_actions(self._menu) if a.isVisible()]
            if shown:
                self._menu.setActiveAction(shown[0] if event.key() == Qt.Key.Key_Down else shown[-1])
                self._menu.setFocus()
            return True
        if event.key() == Qt.Key.Key_Escape:
            self._menu.close()
            return True
        return False


class SearchableKindMenu(QMenu):
    """:func:`kind_menu` with a search field (``search``) on top that filters it as you
    type; Enter adds the first kind still shown."""

    def __init__(self, title: str, parent: QWidget, on_kind: Callable[[str], object], *,
                 allowed: Callable[[LayerSpec], bool] = lambda spec: True) -> None:
        super().__init__(title, parent)
        _fill(self, on_kind, allowed)
        self.search = _search_field(self)

    def shown_kinds(self) -> list[str]:
        return [a.property(KIND_ROLE) for a in kind_actions(self) if a.isVisible()]


def _search_field(menu: QMenu) -> QLineEdit:
    field = QLineEdit(menu)
    field.setObjectName("layerMenuSearch")
    field.setPlaceholderText("Search layers…")
    field.setAccessibleName("Search layers")
    field.setClearButtonEnabled(True)
    field.setMinimumWidth(200)
    holder = QWidgetAction(menu)
    holder.setDefaultWidget(field)
    first = menu.actions()[0] if menu.actions() else None
    menu.insertAction(first, holder)
    menu.insertSeparator(first)
    field.installEventFilter(_SearchKeys(menu, field))

    def refilter(text: str) -> None:
        for action in menu.actions():
            if action.property(KIND_ROLE):
                action.setVisible(matches(LAYERS.get(action.property(KIND_ROLE)), text))
        _hide_empty_sections(menu)

    def take_first() -> None:
        shown = [a for a in kind_actions(menu) if a.isVisible()]
        if shown:
            menu.close()
            shown[0].trigger()

    field.textChanged.connect(refilter)
    field.returnPressed.connect(take_first)
    # A submenu gives its first entry the focus when it opens; the field should have it.
    menu.aboutToShow.connect(lambda: QTimer.singleShot(0, field.setFocus))
    return field


def _hide_empty_sections(menu: QMenu) -> None:
    """A category heading shows only while one of its kinds does."""
    heading: QAction | None = None
    any_shown = False
    for action in menu.actions():
        if action.isSeparator() and action.text():
            if heading is not None:
                heading.setVisible(any_shown)
            heading, any_shown = action, False
        elif action.property(KIND_ROLE):
            any_shown |= action.isVisible()
    if heading is not None:
        heading.setVisible(any_shown)
