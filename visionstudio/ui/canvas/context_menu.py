"""Right-click menus of the canvas: on a layer, on a connection, on empty canvas.

Each ``menu_for_*`` builds the menu and returns it without showing it (tests trigger
its actions directly); :func:`open_context_menu` picks the menu for what is under the
pointer and shows it. Every entry that edits ends in one core command pushed through
the controller (undoable); where a new layer goes is core/graph/editing.py's rule.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGraphicsItem, QInputDialog, QMenu

from visionstudio.core.commands import Command, CommandError, Macro
from visionstudio.core.graph import Connect, Disconnect, Edge, RenameNode
from visionstudio.core.graph.editing import ROW_SPACING, add_layer, added_ids, append_after, insert_on_edge
from visionstudio.core.layers import LAYERS, LayerSpec
from visionstudio.ui.canvas.block_actions import add_block_entries, add_group_entry
from visionstudio.ui.canvas.clipboard import FRAGMENT_MIME
from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.canvas.items import NodeItem
from visionstudio.ui.canvas.layer_menu import ContextMenu, SearchableKindMenu, kind_menu, spec_action
from visionstudio.ui.canvas.node_fixes import add_fix_entries
from visionstudio.ui.canvas.transfer_actions import add_transfer_entries
from visionstudio.ui.shell.actions import CANVAS_ACTIONS
from visionstudio.ui.shell.push import push_or_reason


def _takes_input(spec: LayerSpec) -> bool:
    return not spec.is_source


def push_edit(view, command: Command, *, select_added: bool = True) -> bool:
    """Push ``command``; a refusal goes to the status bar. The layers it adds become the
    selection, as after a drop from the palette."""
    reason = push_or_reason(view.controller, command)
    if reason:
        view.status_message.emit(reason)
        return False
    new = added_ids(command) if select_added else []
    if new:
        view.controller.set_selection(new)
    return True


def _canvas_slot(view, name: str):
    """The view's method behind the window's action ``name`` (Paste, Fit, ...)."""
    return getattr(view, CANVAS_ACTIONS[name])


# -- what is under the pointer --------------------------------------------------------
def node_at(view, scene_pos: QPointF) -> str | None:
    for item in view.graph_scene.items(scene_pos):
        while isinstance(item, QGraphicsItem) and not isinstance(item, NodeItem):
            item = item.parentItem()
        if isinstance(item, NodeItem):
            return item.node_id
    return None


def menu_at(view, scene_pos: QPointF) -> QMenu:
    """The node menu on a layer, the connection menu on an edge, else the canvas menu."""
    node_id = node_at(view, scene_pos)
    if node_id is not None:
        return menu_for_node(view, node_id)
    edge_item = view.graph_scene.edge_near(scene_pos, radius=9.0)
    if edge_item is not None:
        return menu_for_edge(view, edge_item.edge)
    return menu_for_canvas(view, scene_pos)


def open_context_menu(view, scene_pos: QPointF, screen_pos: QPoint) -> QMenu:
    menu = menu_at(view, scene_pos)
    menu.show_at(screen_pos)
    return menu


# -- a layer ------------------------------------------------------------------------------
def menu_for_node(view, node_id: str) -> QMenu:
    """Rename, insert before/after, disconnect, select up/downstream, quick fixes,
    duplicate, delete. A right-click on a layer outside the selection selects it first;
    on one inside it, Duplicate and Delete act on the whole selection."""
    controller = view.controller
    if node_id not in controller.selection:
        controller.set_selection([node_id])
    graph = controller.graph
    node = graph.nodes[node_id]
    menu = ContextMenu(view)
    menu.setObjectName("nodeContextMenu")
    menu.setToolTipsVisible(True)
    if node.kind == "block":  # Open Block, Ungroup, Detach first: what a block is for
        add_block_entries(view, menu, node_id)
        menu.addSeparator()
    rename = menu.addAction("&Rename…")
    rename.setObjectName("context_rename")
    rename.setStatusTip(f"Give {node.name} another name")
    rename.triggered.connect(lambda: rename_layer(view, node_id))
    menu.addSeparator()
    menu.addMenu(_insert_before_menu(view, menu, node_id))
    after = kind_menu("Insert &After", menu, lambda kind: insert_after(view, node_id, kind),
                      allowed=_takes_input)
    after.setObjectName("menu_insert_after")
    after.setStatusTip(f"A new layer fed by {node.name}, between it and the next one")
    menu.addMenu(after)
    edges = graph.inputs_of(node_id) + graph.outputs_of(node_id)
    disconnect = menu.addAction("Dis&connect")
    disconnect.setObjectName("context_disconnect")
    disconnect.setStatusTip(f"Remove every connection into and out of {node.name}")
    disconnect.setEnabled(bool(edges))
    disconnect.triggered.connect(lambda: disconnect_layer(view, node_id))
    menu.addSeparator()
    up = menu.addAction("Select U&pstream")
    up.setObjectName("context_select_upstream")
    up.setStatusTip(f"Select {node.name} and every layer that feeds it")
    up.triggered.connect(lambda: select_reachable(view, node_id, upstream=True))
    down = menu.addAction("Select Do&wnstream")
    down.setObjectName("context_select_downstream")
    down.setStatusTip(f"Select {node.name} and every layer it feeds")
    down.triggered.connect(lambda: select_reachable(view, node_id, upstream=False))
    menu.addSeparator()
    add_fix_entries(view, menu, node_id)
    menu.addSeparator()
    add_transfer_entries(view, menu, node_id)
    menu.addSeparator()
    add_group_entry(view, menu)
    count = len(controller.selection)
    duplicate = spec_action("duplicate", menu, _canvas_slot(view, "duplicate"))
    delete = spec_action("delete", menu, _canvas_slot(view, "delete"))
    if count > 1:
        duplicate.setText(f"D&uplicate {count} Layers")
        delete.setText(f"&Delete {count} Layers")
    menu.addAction(duplicate)
    menu.addAction(delete)
    return menu


def _insert_before_menu(view, parent: QMenu, node_id: str) -> QMenu:
    graph = view.controller.graph
    node = graph.nodes[node_id]
    spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
    inputs = graph.inputs_of(node_id)
    # Without an input any kind may feed it (an Input too); on a connection only a
    # layer that takes an input fits.
    allowed = (lambda s: True) if not inputs else _takes_input
    menu = kind_menu("Insert &Before", parent, lambda kind: insert_before(view, node_id, kind),
                     allowed=allowed)
    menu.setObjectName("menu_insert_before")
    if spec is not None and spec.is_source:
        menu.setEnabled(False)
        menu.menuAction().setToolTip(f"{node.name} is where the network starts: nothing goes before it")
    elif len(inputs) > 1:
        menu.setEnabled(False)
        menu.menuAction().setToolTip(
            f"{node.name} has {len(inputs)} inputs: right-click one of its connections to insert there")
    else:
        menu.menuAction().setToolTip(f"A new layer feeding {node.name}")
    return menu


def rename_layer(view, node_id: str) -> bool:
    node = view.controller.graph.nodes.get(node_id)
    if node is None:
        return False
    text, ok = QInputDialog.getText(view, "Rename Layer", f"New name for {node.name}:", text=node.name)
    if not ok or not text.strip() or text.strip() == node.name:
        return False
    return push_edit(view, RenameNode(node_id, text))


def insert_after(view, node_id: str, kind: str) -> bool:
    """Wired after the layer; in the middle of a chain, between it and the next."""
    return push_edit(view, append_after(view.controller.graph, kind, node_id))


def insert_before(view, node_id: str, kind: str) -> bool:
    """Into the layer's one input connection; a layer without an input gets the new one
    a row above it, feeding it."""
    graph = view.controller.graph
    inputs = graph.inputs_of(node_id)
    try:
        if len(inputs) == 1:
            command: Command = insert_on_edge(graph, kind, inputs[0])
        elif not inputs:
            x, y = graph.positions.get(node_id, (0.0, 0.0))
            add = add_layer(graph, kind, (x, y - ROW_SPACING))
            command = Macro(f"Insert {LAYERS.get(kind).title} before {graph.nodes[node_id].name}",
                            [add, Connect(add.node_id, node_id, 0)])
        else:
            view.status_message.emit(f"{graph.nodes[node_id].name} has several inputs: "
                                     "right-click one of its connections to insert there")
            return False
    except CommandError as exc:
        view.status_message.emit(str(exc))
        return False
    return push_edit(view, command)


def disconnect_layer(view, node_id: str) -> bool:
    graph = view.controller.graph
    edges = graph.inputs_of(node_id) + graph.outputs_of(node_id)
    if not edges:
        return False
    steps: list[Command] = [Disconnect(e) for e in edges]
    command = steps[0] if len(steps) == 1 else Macro(f"Disconnect {graph.nodes[node_id].name}", steps)
    return push_edit(view, command)


def select_reachable(view, node_id: str, *, upstream: bool) -> list[str]:
    graph = view.controller.graph
    reached = graph.reachable_from(node_id, upstream=upstream)
    ids = [nid for nid in graph.nodes if nid in reached]
    view.controller.set_selection(ids)
    return ids


# -- a connection ---------------------------------------------------------------------------
def menu_for_edge(view, edge: Edge) -> QMenu:
    """Insert a layer into the connection, or delete it. The connection is selected, so
    the Delete key does the same."""
    scene = view.graph_scene
    view.controller.set_selection([])
    item: EdgeItem | None = scene.edge_item(edge)
    if item is not None:
        scene.clearSelection()
        item.setSelected(True)
    graph = view.controller.graph
    names = f"{graph.nodes[edge.src].name} → {graph.nodes[edge.dst].name}"
    menu = ContextMenu(view)
    menu.setObjectName("edgeContextMenu")
    menu.setToolTipsVisible(True)
    insert = kind_menu("&Insert Layer", menu, lambda kind: insert_into(view, edge, kind),
                       allowed=_takes_input)
    insert.setObjectName("menu_insert_layer")
    insert.menuAction().setToolTip(f"A new layer between {names}")
    menu.addMenu(insert)
    menu.addSeparator()
    delete = spec_action("delete", menu, lambda: delete_connection(view, edge))
    delete.setText("&Delete Connection")
    delete.setStatusTip(f"Remove the connection {names}")
    menu.addAction(delete)
    return menu


def insert_into(view, edge: Edge, kind: str) -> bool:
    try:
        command = insert_on_edge(view.controller.graph, kind, edge)
    except CommandError as exc:
        view.status_message.emit(str(exc))
        return False
    return push_edit(view, command)


def delete_connection(view, edge: Edge) -> bool:
    return push_edit(view, Disconnect(edge))


# -- empty canvas -------------------------------------------------------------------------------
def clipboard_has_layers() -> bool:
    mime = QGuiApplication.clipboard().mimeData()
    return mime is not None and mime.hasFormat(FRAGMENT_MIME)


def menu_for_canvas(view, scene_pos: QPointF) -> QMenu:
    """Paste, Add Layer ▸ (with search; the layer lands where you clicked), Select All,
    Auto Layout, Fit to Window."""
    menu = ContextMenu(view)
    menu.setObjectName("canvasContextMenu")
    menu.setToolTipsVisible(True)
    paste = spec_action("paste", menu, _canvas_slot(view, "paste"))
    paste.setEnabled(clipboard_has_layers())
    if not paste.isEnabled():
        paste.setToolTip("The clipboard holds no layers: copy some first")
    menu.addAction(paste)
    point = (round(scene_pos.x(), 1), round(scene_pos.y(), 1))
    add = SearchableKindMenu("Add &Layer", menu, lambda kind: add_layer_at(view, kind, point))
    add.setObjectName("menu_add_layer")
    add.menuAction().setToolTip("A new layer where you clicked")
    menu.addMenu(add)
    if view.controller.selection:  # the layers still selected can be grouped from here too
        add_group_entry(view, menu)
    menu.addSeparator()
    menu.addAction(spec_action("select_all", menu, _canvas_slot(view, "select_all")))
    menu.addSeparator()
    menu.addAction(spec_action("auto_layout", menu, _canvas_slot(view, "auto_layout")))
    menu.addAction(spec_action("fit", menu, _canvas_slot(view, "fit")))
    return menu


def add_layer_at(view, kind: str, point: tuple[float, float]) -> bool:
    """At the click point, or beside it when a layer is already there."""
    return push_edit(view, add_layer(view.controller.graph, kind, point))
