"""The palette's Blocks section: the built-in blocks, then the user's library folder.

Each item carries a block reference (block_drop.py: ``builtin:<key>`` or
``library:<file name>``) under BLOCK_ROLE; it drags out under BLOCK_MIME, and a
double-click or Enter adds an instance after the selected layer (the definition and
the ones it uses join the project when missing: one undo step). A library file that
cannot be used stays listed, greyed, with its problem as the tooltip. Its context menu:
Add, Help, Open the library folder and, for the library's own files, Delete.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import QMenu, QMessageBox, QTreeWidgetItem

from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS
from visionstudio.ui.canvas.block_drop import BlockSource, builtin_source, library_source
from visionstudio.ui.canvas.block_help import show_block_help
from visionstudio.ui.canvas.block_library import blocks_dir, import_file, scan
from visionstudio.ui.canvas.block_save import library_events
from visionstudio.ui.canvas.layer_menu import ContextMenu
from visionstudio.ui.canvas.layer_style import layer_icon

BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1    # the block reference of an item
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2   # the words the search looks in
SECTION = "Blocks"
LIBRARY_GROUP = "My blocks"


def confirm_delete(parent, title: str, path: Path) -> bool:
    answer = QMessageBox.question(
        parent, "Delete from Library",
        f"Delete the block “{title}” from your library? Its file {path.name} is removed; "
        "projects that use the block keep their own copy.")
    return answer == QMessageBox.StandardButton.Yes


class BlockSection:
    """The items of the Blocks group in ``palette.tree`` and what they do."""

    def __init__(self, palette) -> None:
        self.palette = palette
        self.folder: Path | None = None        # None: the user's library folder
        self.sources: dict[str, BlockSource] = {}
        self.items: dict[str, QTreeWidgetItem] = {}
        tree = palette.tree
        bold = QFont(palette.font())
        bold.setBold(True)
        self.group = self._group(tree, SECTION, bold)
        self.group.setData(0, Qt.ItemDataRole.AccessibleTextRole, "Blocks: reusable groups of layers")
        for key in BUILTIN_BLOCKS:
            self._add_item(self.group, builtin_source(key))
        self.library_group = self._group(self.group, LIBRARY_GROUP, bold)
        self.library_group.setToolTip(0, "Blocks saved in your library folder. Drop a .vsblock file "
                                         "here to add it.")
        self.group.setExpanded(True)
        self.reload()

    @staticmethod
    def _group(parent, text: str, font: QFont) -> QTreeWidgetItem:
        group = QTreeWidgetItem(parent, [text])
        group.setFont(0, font)
        group.setSizeHint(0, QSize(0, 26))
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        return group

    def _add_item(self, parent: QTreeWidgetItem, source: BlockSource) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [source.title])
        item.setData(0, BLOCK_ROLE, source.ref)
        item.setData(0, SEARCH_ROLE, f"{source.title} {source.key} block {source.description}".lower())
        item.setIcon(0, layer_icon("block"))
        item.setSizeHint(0, QSize(0, 26))
        if source.problem:
            item.setToolTip(0, f"<b>{html.escape(source.title)}</b><br>This block cannot be used: "
                               f"{html.escape(source.problem)}")
            item.setStatusTip(0, source.problem)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)  # not draggable
            item.setForeground(0, self.palette.palette().placeholderText())
        else:
            item.setToolTip(0, f"<b>{html.escape(source.title)}</b><br>{html.escape(source.description)}")
            item.setStatusTip(0, source.description)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                          | Qt.ItemFlag.ItemIsDragEnabled)
        self.sources[source.ref] = source
        self.items[source.ref] = item
        return item

    def reload(self) -> None:
        """Read the library folder again (after a save, an import or a delete)."""
        for ref in [r for r, s in self.sources.items() if s.path is not None]:
            self.sources.pop(ref)
            item = self.items.pop(ref)
            self.library_group.removeChild(item)
        for entry in scan(self.folder):
            self._add_item(self.library_group, library_source(entry))
        empty = not self.library_group.childCount()
        self.library_group.setText(0, f"{LIBRARY_GROUP} (none yet)" if empty else LIBRARY_GROUP)
        self.library_group.setExpanded(True)
        self.palette.refilter()

    def library_folder(self) -> Path:
        return self.folder or blocks_dir()

    # -- the context menu ----------------------------------------------------------------
    def menu_for(self, ref: str) -> QMenu:
        source = self.sources[ref]
        menu = ContextMenu(self.palette)
        menu.setObjectName("blockContextMenu")
        add = menu.addAction(layer_icon("block"), "&Add to Network")
        add.setObjectName("context_add_block")
        add.setStatusTip(f"Add a {source.title} after the selected layer (as a double-click does)")
        add.setEnabled(not source.problem)
        add.triggered.connect(lambda: self.palette.add_block(ref))
        menu.setDefaultAction(add)
        menu.addSeparator()
        help_action = menu.addAction("&Help")
        help_action.setObjectName("context_block_help")
        help_action.setStatusTip(f"What the {source.title} block does and what each instance sets")
        help_action.triggered.connect(lambda: self.show_help(ref))
        folder = menu.addAction("&Open Library Folder")
        folder.setObjectName("context_open_block_folder")
        folder.setStatusTip("Show the folder of your saved blocks in the file manager")
        folder.triggered.connect(self.open_folder)
        if source.path is not None:
            delete = menu.addAction("&Delete from Library…")
            delete.setObjectName("context_delete_block")
            delete.setStatusTip(f"Remove {source.path.name} from your block library")
            delete.triggered.connect(lambda: self.delete(ref))
        return menu

    def show_help(self, ref: str):
        return show_block_help(self.sources[ref], self.palette)

    def open_folder(self) -> bool:
        folder = self.library_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.palette.status_message.emit(f"The library folder {folder} cannot be made: "
                                             f"{exc.strerror or exc}")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def delete(self, ref: str) -> bool:
        source = self.sources.get(ref)
        if source is None or source.path is None:
            return False
        if not confirm_delete(self.palette, source.title, source.path):
            return False
        try:
            source.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.palette.status_message.emit(f"{source.path.name} could not be deleted: "
                                             f"{exc.strerror or exc}")
            return False
        library_events().changed.emit()
        return True

    # -- importing files ----------------------------------------------------------------------
    def import_files(self, paths: list[Path]) -> list[Path]:
        """Copy dropped ``.vsblock`` files into the library; the problem of each one that
        cannot be used goes to the status bar. The copies made."""
        made, problems = [], []
        for path in paths:
            try:
                entry, target = import_file(path, self.folder)
            except OSError as exc:
                problems.append(f"{path.name} could not be copied into your library: {exc.strerror or exc}")
                continue
            if target is None:
                problems.append(entry.problem)
            else:
                made.append(target)
        if made:
            library_events().changed.emit()
        if problems:
            self.palette.status_message.emit(" ".join(problems))
        return made
