"""LayerPalette: every layer kind, grouped by category, searchable, draggable.

Drag a kind onto the canvas (mime ``application/x-visionstudio-layer``, payload the
layer key), or double-click it / press Enter to append it after the selected layer.
Right-click a kind for the same "Add to Network" and its help.
Run ``python -m visionstudio.ui.canvas.palette`` to try it alone.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.graph.editing import added_ids, append_after
from visionstudio.core.layers import LAYERS, palette_groups
from visionstudio.ui.canvas import LAYER_MIME
from visionstudio.ui.canvas.layer_help import LayerHelpDialog, show_layer_help
from visionstudio.ui.canvas.layer_menu import ContextMenu
from visionstudio.ui.canvas.layer_style import layer_icon
from visionstudio.ui.shell.push import push_or_reason

KEY_ROLE = Qt.ItemDataRole.UserRole


class _LayerTree(QTreeWidget):
    """A tree whose leaf items drag out as layer keys."""

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt's name
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt's name
        keys = [i.data(0, KEY_ROLE) for i in items if i.data(0, KEY_ROLE)]
        mime = QMimeData()
        if keys:
            mime.setData(LAYER_MIME, keys[0].encode("utf-8"))
            mime.setText(LAYERS.get(keys[0]).title)
        return mime

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802 - Qt's name
        return Qt.DropAction.CopyAction


class LayerPalette(QWidget):
    status_message = Signal(str)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self.setAccessibleName("Layer palette")
        self.controller = controller
        self.search = QLineEdit(self)
        self.search.setObjectName("layerSearch")
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search layers")
        self.search.setToolTip("Filter layers by name or description")
        self.tree = _LayerTree(self)
        self.tree.setObjectName("layerList")
        self.tree.setAccessibleName("Layer kinds")
        self.tree.setAccessibleDescription(
            "Drag a layer onto the canvas, or press Enter to append it after the selected layer")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        self.tree.setIconSize(QSize(20, 20))
        self.tree.setUniformRowHeights(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setExpandsOnDoubleClick(False)
        self.empty_label = QLabel("No layer matches", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setEnabled(False)
        self.empty_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu_requested)

    def _populate(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        for category, keys in palette_groups():
            group = QTreeWidgetItem(self.tree, [category])
            group.setFont(0, bold)
            group.setSizeHint(0, QSize(0, 26))
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{category} layers")
            for key in keys:
                spec = LAYERS.get(key)
                item = QTreeWidgetItem(group, [spec.title])
                item.setData(0, KEY_ROLE, key)
                item.setIcon(0, layer_icon(key))
                item.setSizeHint(0, QSize(0, 26))
                item.setToolTip(0, f"<b>{spec.title}</b><br>{spec.description}")
                item.setStatusTip(0, spec.description)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                self._items[key] = item
            group.setExpanded(True)

    # -- queries -------------------------------------------------------------------------
    def item_for(self, key: str) -> QTreeWidgetItem:
        return self._items[key]

    def visible_keys(self) -> list[str]:
        return [k for k, item in self._items.items() if not item.isHidden()]

    def mime_for(self, key: str) -> QMimeData:
        """What dragging ``key`` carries (the same the tree builds on a drag)."""
        return self.tree.mimeData([self._items[key]])

    # -- search --------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        self.search.setText(text)

    def _on_search_text_changed(self, text: str) -> None:
        words = text.lower().split()
        shown = 0
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            any_visible = False
            for j in range(group.childCount()):
                item = group.child(j)
                spec = LAYERS.get(item.data(0, KEY_ROLE))
                hay = f"{spec.title} {spec.key} {spec.category} {spec.description}".lower()
                visible = all(w in hay for w in words)
                item.setHidden(not visible)
                any_visible |= visible
                shown += visible
            group.setHidden(not any_visible)
            if any_visible and words:
                group.setExpanded(True)
        self.empty_label.setVisible(shown == 0)
        if words and shown:
            first = next(self._items[k] for k in self.visible_keys())
            self.tree.setCurrentItem(first)

    def _on_search_return_pressed(self) -> None:
        item = self.tree.currentItem()
        if item is not None and not item.isHidden() and item.data(0, KEY_ROLE):
            self.append(item.data(0, KEY_ROLE))

    # -- context menu ----------------------------------------------------------------------
    def menu_for(self, key: str) -> QMenu:
        """Add to Network (what a double-click does) and Help on the kind."""
        spec = LAYERS.get(key)
        menu = ContextMenu(self)
        menu.setObjectName("paletteContextMenu")
        add = menu.addAction(layer_icon(key), "&Add to Network")
        add.setObjectName("context_add_to_network")
        add.setStatusTip(f"Add a {spec.title} after the selected layer (as a double-click does)")
        add.triggered.connect(lambda: self.append(key))
        menu.setDefaultAction(add)
        menu.addSeparator()
        help_action = menu.addAction("&Help")
        help_action.setObjectName("context_layer_help")
        help_action.setStatusTip(f"What a {spec.title} does and its parameters")
        help_action.triggered.connect(lambda: self.show_help(key))
        return menu

    def show_help(self, key: str) -> LayerHelpDialog:
        return show_layer_help(key, self)

    def _on_tree_context_menu_requested(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        key = item.data(0, KEY_ROLE) if item is not None else None
        if not key:
            return
        self.tree.setCurrentItem(item)
        self.menu_for(key).show_at(self.tree.viewport().mapToGlobal(pos))

    # -- appending -----------------------------------------------------------------------
    def _on_tree_item_activated(self, item: QTreeWidgetItem, column: int) -> None:
        key = item.data(0, KEY_ROLE)
        if key:
            self.append(key)
        else:
            item.setExpanded(not item.isExpanded())

    def append(self, key: str) -> str | None:
        """Add ``key`` after the selected layer (wired, placed below it, between it and
        the next one in a chain: the core's rule); returns the new id."""
        selection = self.controller.selection
        after = selection[-1] if len(selection) == 1 else None
        command = append_after(self.controller.graph, key, after)
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
            return None
        new_id = added_ids(command)[0]
        self.controller.set_selection([new_id])
        return new_id


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from visionstudio.ui.shell.controller import DocumentController

    app = QApplication.instance() or QApplication(argv or sys.argv)
    palette = LayerPalette(DocumentController())
    palette.setWindowTitle("VisionStudio layer palette")
    palette.resize(260, 640)
    palette.show()
    from visionstudio.ui.shell.launch import quit_demo_later
    quit_demo_later()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
