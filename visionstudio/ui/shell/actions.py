"""The window's QActions (with standard shortcuts), menus and toolbar.

Actions are declared once in :data:`SPECS`; ``create_actions`` makes them and
``build_menus``/``build_toolbar`` lay them out. What an action *does* is connected by
the main window, which delegates to the file manager, the undo stack or the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar, QWidget

SK = QKeySequence.StandardKey
SP = QStyle.StandardPixmap


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    tip: str
    keys: tuple = ()            # StandardKey values and/or "Ctrl+..." strings
    icon: str = ""              # freedesktop theme name
    fallback: SP | None = None  # style icon when the theme has none


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("new", "&New…", "Start a new project from a template or a blank canvas",
               (SK.New,), "document-new", SP.SP_FileIcon),
    ActionSpec("open", "&Open…", "Open a project file", (SK.Open,), "document-open",
               SP.SP_DialogOpenButton),
    ActionSpec("import_model", "&Import Model…",
               "Bring in a torchvision architecture or a model file (.onnx, .keras, .h5, .py) "
               "as a new project"),
    ActionSpec("save", "&Save", "Save the project", (SK.Save,), "document-save",
               SP.SP_DialogSaveButton),
    ActionSpec("save_as", "Save &As…", "Save the project under a new name",
               (SK.SaveAs, "Ctrl+Shift+S"), "document-save-as"),
    ActionSpec("close", "&Close Window", "Close the window", (SK.Close,), "window-close"),
    ActionSpec("quit", "&Quit", "Quit VisionStudio", (SK.Quit, "Ctrl+Q"), "application-exit"),
    ActionSpec("cut", "Cu&t", "Cut the selected layers", (SK.Cut,), "edit-cut"),
    ActionSpec("copy", "&Copy", "Copy the selected layers", (SK.Copy,), "edit-copy"),
    ActionSpec("paste", "&Paste", "Paste layers", (SK.Paste,), "edit-paste"),
    ActionSpec("duplicate", "D&uplicate", "Duplicate the selected layers", ("Ctrl+D",)),
    ActionSpec("delete", "&Delete", "Delete the selected layers and their connections",
               (SK.Delete, "Backspace"), "edit-delete"),
    ActionSpec("select_all", "Select &All", "Select every layer", (SK.SelectAll,),
               "edit-select-all"),
    ActionSpec("find", "&Find Layer…", "Find a layer by name or kind and show it", (SK.Find, "Ctrl+F"),
               "edit-find"),
    ActionSpec("group_block", "&Group into Block", "Make the selected layers one reusable block",
               ("Ctrl+G",)),
    ActionSpec("ungroup_block", "U&ngroup Block", "Put the selected block's layers back in its place",
               ("Ctrl+Shift+G",)),
    ActionSpec("detach_block", "Detac&h Block (Make Unique)",
               "Give the selected block its own copy of the definition, to edit it alone"),
    ActionSpec("open_block", "&Open Block", "Edit the selected block's definition (every instance changes)",
               ("Ctrl+Return",)),
    ActionSpec("leave_block", "&Leave Block", "Back to the network (or the block around this one)",
               ("Alt+Up",)),
    ActionSpec("zoom_in", "Zoom &In", "Zoom in on the canvas", (SK.ZoomIn, "Ctrl+="), "zoom-in"),
    ActionSpec("zoom_out", "Zoom &Out", "Zoom out of the canvas", (SK.ZoomOut,), "zoom-out"),
    ActionSpec("fit", "&Fit to Window", "Show the whole network", ("Ctrl+0",), "zoom-fit-best"),
    ActionSpec("auto_layout", "Auto &Layout", "Arrange the layers neatly (undoable)",
               ("Ctrl+Shift+L",), "view-grid"),
    ActionSpec("reset_layout", "&Reset Panels", "Put every panel back where it started"),
    ActionSpec("clear_recent", "&Clear Menu", "Forget the recently opened files"),
    ActionSpec("about", "&About VisionStudio", "Version and licence"),
)

CANVAS_ACTIONS = {
    "cut": "cut_selection", "copy": "copy_selection", "paste": "paste",
    "duplicate": "duplicate_selection", "delete": "delete_selection", "select_all": "select_all",
    "zoom_in": "zoom_in", "zoom_out": "zoom_out", "fit": "fit_to_view", "auto_layout": "auto_layout",
    "find": "show_find", "group_block": "group_into_block", "ungroup_block": "ungroup_block",
    "detach_block": "detach_block", "open_block": "open_block", "leave_block": "leave_block",
}


def _shortcuts(keys: tuple) -> list[QKeySequence]:
    out: list[QKeySequence] = []
    for k in keys:
        seqs = QKeySequence.keyBindings(k) if isinstance(k, SK) else [QKeySequence(k)]
        for s in seqs:
            if not s.isEmpty() and s not in out:
                out.append(s)
    return out


def create_actions(window: QWidget) -> dict[str, QAction]:
    style = window.style()
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        action = QAction(spec.text, window)
        action.setObjectName(f"action_{spec.name}")
        action.setToolTip(spec.tip)
        action.setStatusTip(spec.tip)
        if spec.icon:
            fallback = style.standardIcon(spec.fallback) if spec.fallback is not None else QIcon()
            action.setIcon(QIcon.fromTheme(spec.icon, fallback))
        shortcuts = _shortcuts(spec.keys)
        if shortcuts:
            action.setShortcuts(shortcuts)
            action.setToolTip(f"{spec.tip} ({shortcuts[0].toString(QKeySequence.SequenceFormat.NativeText)})")
        actions[spec.name] = action
    return actions


class _StepText(QObject):
    """Names an Undo/Redo action after its step; a child of the action, so it goes with it."""

    def __init__(self, action: QAction, prefix: str) -> None:
        super().__init__(action)
        self._action, self._prefix = action, prefix

    def show(self, text: str) -> None:
        self._action.setText(f"{self._prefix} {text}".rstrip())


def add_undo_actions(window: QWidget, controller, actions: dict[str, QAction]) -> None:
    """Undo/Redo through the controller (which checks the training lock), named after the
    step they would take ("Undo Add Conv2d") as the QUndoStack's own actions are."""
    stack = controller.undo_stack
    undo = QAction("&Undo", window)
    undo.setObjectName("action_undo")
    undo.setStatusTip("Undo the last edit (the History panel lists every step)")
    undo.setShortcuts(_shortcuts((SK.Undo,)))
    undo.setIcon(QIcon.fromTheme("edit-undo", window.style().standardIcon(SP.SP_ArrowBack)))
    undo.triggered.connect(controller.undo)
    redo = QAction("&Redo", window)
    redo.setObjectName("action_redo")
    redo.setStatusTip("Redo the edit you last undid")
    redo.setShortcuts(_shortcuts((SK.Redo, "Ctrl+Shift+Z", "Ctrl+Y")))
    redo.setIcon(QIcon.fromTheme("edit-redo", window.style().standardIcon(SP.SP_ArrowForward)))
    redo.triggered.connect(controller.redo)

    # Fed from the signals' own arguments: the stack may be half destroyed at shutdown.
    stack.canUndoChanged.connect(undo.setEnabled)
    stack.canRedoChanged.connect(redo.setEnabled)
    stack.undoTextChanged.connect(_StepText(undo, "&Undo").show)  # alone when a step merges
    stack.redoTextChanged.connect(_StepText(redo, "&Redo").show)
    undo.setEnabled(stack.canUndo())
    redo.setEnabled(stack.canRedo())
    actions["undo"], actions["redo"] = undo, redo


def build_menus(window: QMainWindow, actions: dict[str, QAction]) -> dict[str, QMenu]:
    bar = window.menuBar()
    menus: dict[str, QMenu] = {}

    def menu(key: str, title: str, names: list[str | None]) -> QMenu:
        m = bar.addMenu(title)
        m.setObjectName(f"menu_{key}")
        for n in names:
            if n is None:
                m.addSeparator()
            else:
                m.addAction(actions[n])
        menus[key] = m
        return m

    file_menu = menu("file", "&File", ["new", "open"])
    recent = QMenu("Open &Recent", file_menu)
    recent.setObjectName("menu_recent")
    file_menu.addMenu(recent)
    menus["recent"] = recent
    for n in ("import_model", None, "save", "save_as", None, "close", "quit"):
        file_menu.addSeparator() if n is None else file_menu.addAction(actions[n])
    menu("edit", "&Edit", ["undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete",
                           None, "select_all", "find", None, "group_block", "ungroup_block",
                           "detach_block", "open_block", "leave_block"])
    view = menu("view", "&View", ["zoom_in", "zoom_out", "fit", None, "auto_layout", None])
    panels = QMenu("&Panels", view)
    panels.setObjectName("menu_panels")
    view.addMenu(panels)
    view.addAction(actions["reset_layout"])
    menus["panels"] = panels
    menu("help", "&Help", ["about"])
    return menus


def build_toolbar(window: QMainWindow, actions: dict[str, QAction]) -> QToolBar:
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("mainToolbar")
    bar.setAccessibleName("Main toolbar")
    for n in ("new", "open", "save", None, "undo", "redo", None, "zoom_in", "zoom_out", "fit",
              "auto_layout"):
        bar.addSeparator() if n is None else bar.addAction(actions[n])
    window.addToolBar(bar)
    return bar


def fill_recent_menu(menu: QMenu, paths: list[str], open_path, clear: QAction) -> None:
    from pathlib import Path

    menu.clear()
    for i, path in enumerate(paths):
        label = f"&{i + 1} {Path(path).name}" if i < 9 else Path(path).name
        action = menu.addAction(label)
        action.setToolTip(path)
        action.setStatusTip(path)
        action.setData(path)
        action.triggered.connect(lambda checked=False, p=path: open_path(p))
    if paths:
        menu.addSeparator()
    menu.addAction(clear)
    clear.setEnabled(bool(paths))
    menu.setEnabled(True)
