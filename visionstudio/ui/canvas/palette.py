"""LayerPalette: every layer kind, grouped by category, and the blocks; searchable, draggable.

Drag a kind onto the canvas (mime ``application/x-visionstudio-layer``, payload the
layer key), or double-click it / press Enter to append it after the selected layer.
Right-click a kind for the same "Add to Network" and its help. The Blocks section
(block_palette.py) does the same for blocks; ``.vsblock`` files dropped on the palette
join the user's block library.
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
from visionstudio.ui.canvas.block_drop import BLOCK_MIME, add_block, block_files, block_mime
from visionstudio.ui.canvas.block_palette import BLOCK_ROLE, SEARCH_ROLE, BlockSection
from visionstudio.ui.canvas.block_save import library_events
from visionstudio.ui.canvas.drop import LAYER_MIME
from visionstudio.ui.canvas.layer_help import LayerHelpDialog, show_layer_help
from visionstudio.ui.canvas.layer_menu import ContextMenu
from visionstudio.ui.canvas.layer_style import layer_icon
from visionstudio.ui.shell.push import push_or_reason

KEY_ROLE = Qt.ItemDataRole.UserRole


class _LayerTree(QTreeWidget):
    """A tree whose leaf items drag out as layer keys or block references."""

    blocks: BlockSection | None = None

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt's name
        return [LAYER_MIME, BLOCK_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt's name
        refs = [i.data(0, BLOCK_ROLE) for i in items if i.data(0, BLOCK_ROLE)]
        if refs and self.blocks is not None:
            return block_mime(self.blocks.sources[refs[0]])
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
        self.search.setPlaceholderText("Search layers and blocks…")
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
        self.blocks = self.tree.blocks = BlockSection(self)
        self.setAcceptDrops(True)    # .vsblock files from the file manager (the tree only drags)
        library_events().changed.connect(self._on_library_changed)
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
                item.setData(0, SEARCH_ROLE, f"{spec.title} {spec.key} {spec.category} "
                                             f"{spec.description}".lower())
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

    def visible_blocks(self) -> list[str]:
        return [ref for ref, item in self.blocks.items.items() if not _hidden(item)]

    def mime_for(self, key: str) -> QMimeData:
        """What dragging ``key`` carries (the same the tree builds on a drag)."""
        return self.tree.mimeData([self._items[key]])

    # -- search --------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        self.search.setText(text)

    def _on_search_text_changed(self, text: str) -> None:
        words = text.lower().split()
        shown = sum(_filter(self.tree.topLevelItem(i), words) for i in range(self.tree.topLevelItemCount()))
        self.empty_label.setVisible(shown == 0)
        if words and shown:
            visible = [self._items[k] for k in self.visible_keys()]
            visible += [self.blocks.items[r] for r in self.visible_blocks()]
            self.tree.setCurrentItem(visible[0])

    def refilter(self) -> None:
        self._on_search_text_changed(self.search.text())

    def _on_search_return_pressed(self) -> None:
        item = self.tree.currentItem()
        if item is not None and not item.isHidden():
            self._on_tree_item_activated(item, 0)

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
        ref = item.data(0, BLOCK_ROLE) if item is not None else None
        if not key and not ref:
            return
        self.tree.setCurrentItem(item)
        menu = self.menu_for(key) if key else self.blocks.menu_for(ref)
        menu.show_at(self.tree.viewport().mapToGlobal(pos))

    # -- appending -----------------------------------------------------------------------
    def _on_tree_item_activated(self, item: QTreeWidgetItem, column: int) -> None:
        key, ref = item.data(0, KEY_ROLE), item.data(0, BLOCK_ROLE)
        if key:
            self.append(key)
        elif ref:
            self.add_block(ref)
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

    def add_block(self, ref: str) -> str | None:
        """Add palette block ``ref`` after the selected layer, as ``append`` adds a layer."""
        source = self.blocks.sources.get(ref)
        selection = self.controller.selection
        after = selection[-1] if len(selection) == 1 else None
        new_id, reason = add_block(self.controller, source, after=after)
        if reason:
            self.status_message.emit(reason)
        return new_id

    # -- the block library ------------------------------------------------------------------
    def _on_library_changed(self) -> None:
        self.blocks.reload()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if block_files(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = block_files(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.blocks.import_files(paths)


def _hidden(item: QTreeWidgetItem) -> bool:
    while item is not None:
        if item.isHidden():
            return True
        item = item.parent()
    return False


def _filter(item: QTreeWidgetItem, words: list[str]) -> int:
    """Hide what does not match every word (a group with nothing shown, too); the count shown."""
    if item.childCount() == 0 and item.data(0, SEARCH_ROLE) is None:
        item.setHidden(bool(words))          # an empty group ("My blocks (none yet)")
        return 0
    if item.data(0, SEARCH_ROLE) is not None:
        visible = all(w in item.data(0, SEARCH_ROLE) for w in words)
        item.setHidden(not visible)
        return int(visible)
    shown = sum(_filter(item.child(j), words) for j in range(item.childCount()))
    item.setHidden(shown == 0 and bool(words))
    if shown and words:
        item.setExpanded(True)
    return shown


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
