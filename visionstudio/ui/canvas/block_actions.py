"""Blocks on GraphView: group, ungroup, detach, and opening a definition in place.

Group, Ungroup and Detach are core commands pushed through the controller (one undo
step each; a refusal says why in the status bar). Opening a block moves the
controller's scope one level in: the scene re-binds to the definition's graph, the
breadcrumb bar shows the way back, and each level keeps where the view was, so going
back shows the network as it was left. The menus' block entries are made here too.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMenu

from visionstudio.core.blocks.commands import Detach, GroupIntoBlock, Ungroup
from visionstudio.ui.canvas.block_item import BLOCK_KIND
from visionstudio.ui.canvas.breadcrumb import HEIGHT as CRUMB_HEIGHT
from visionstudio.ui.canvas.breadcrumb import BreadcrumbBar
from visionstudio.ui.canvas.layer_menu import spec_action
from visionstudio.ui.shell.actions import CANVAS_ACTIONS
from visionstudio.ui.shell.push import push_or_reason


class BlockActionsMixin:
    """Block gestures for GraphView (state: breadcrumb, _view_states, _shown_scope)."""

    def _init_blocks(self) -> None:
        self.breadcrumb = BreadcrumbBar(self)
        self._view_states: dict[tuple, tuple[float, QPointF]] = {}  # scope -> (zoom, centre)
        self._shown_scope: tuple = tuple(self.controller.scope)
        self.controller.scope_changed.connect(self._on_controller_scope_changed)
        self.controller.document_replaced.connect(self._on_controller_document_replaced_blocks)

    # -- which block ----------------------------------------------------------------
    def _instance(self, node_id: str | None = None) -> str | None:
        """``node_id``, else the one selected layer, when it is a block instance."""
        if node_id is None:
            selection = self.controller.selection
            node_id = selection[-1] if len(selection) == 1 else None
        node = self.controller.graph.nodes.get(node_id) if node_id else None
        return node.id if node is not None and node.kind == BLOCK_KIND else None

    def _push_block(self, command) -> bool:
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
        return reason is None

    # -- group, ungroup, detach -------------------------------------------------------
    def group_into_block(self) -> str | None:
        """Edit › Group into Block (Ctrl+G): the selection becomes one instance of a new
        definition, selected; None (and the reason in the status bar) when refused."""
        ids = self.controller.selection
        if not ids:
            self.status_message.emit("Select the layers to group into a block")
            return None
        command = GroupIntoBlock(ids)
        if not self._push_block(command):
            return None
        self.controller.set_selection([command.instance_id])
        return command.instance_id

    def ungroup_block(self, node_id: str | None = None) -> bool:
        """Edit › Ungroup Block (Ctrl+Shift+G): the instance's layers in its place."""
        instance = self._instance(node_id)
        if instance is None:
            self.status_message.emit("Select one block to ungroup")
            return False
        before = set(self.controller.graph.nodes)
        if not self._push_block(Ungroup(instance)):
            return False
        self.controller.set_selection([nid for nid in self.controller.graph.nodes if nid not in before])
        return True  # the inlined layers are the selection: they can be moved or grouped again

    def detach_block(self, node_id: str | None = None) -> bool:
        """The instance gets its own copy of the definition (edits then change it alone)."""
        instance = self._instance(node_id)
        if instance is None:
            self.status_message.emit("Select one block to make unique")
            return False
        if not self._push_block(Detach(instance)):
            return False
        self.status_message.emit(f"{self.controller.graph.nodes[instance].name} now has its own block")
        return True

    # -- opening and leaving ----------------------------------------------------------
    def open_block(self, node_id: str | None = None) -> bool:
        """Double-click or Open Block: the instance's definition on the canvas."""
        instance = self._instance(node_id)
        if instance is None:
            self.status_message.emit("Select one block to open")
            return False
        key = str(self.controller.graph.nodes[instance].params.get("block", ""))
        if not self.controller.open_definition(key, instance):
            self.status_message.emit(f"The block {key!r} is not in this project")
            return False
        return True

    def leave_block(self) -> bool:
        """Back one level (Esc on the canvas, Alt+Up, or a crumb of the bar)."""
        return self.controller.leave_definition()

    def open_block_at(self, view_pos) -> bool:
        node = self._node_at(view_pos)
        return node is not None and node.kind == BLOCK_KIND and self.open_block(node.node_id)

    def _on_controller_scope_changed(self, scope) -> None:
        old, new = self._shown_scope, tuple(scope)
        self._view_states[old] = (self.zoom, self.mapToScene(self.viewport().rect().center()))
        self._shown_scope = new
        self.setViewportMargins(0, CRUMB_HEIGHT if new else 0, 0, 0)
        self.place_breadcrumb()
        self.breadcrumb.refresh()
        if len(new) > len(old):
            title = self.breadcrumb.current.text().removeprefix("<b>").removesuffix("</b>")
            self.status_message.emit(f"Editing {title}: every instance changes. Esc goes back")
        state = self._view_states.get(new)
        if state is None:
            self.fit_to_view()
        else:
            self.set_zoom(state[0])
            self.centerOn(state[1])

    def _on_controller_document_replaced_blocks(self, _document) -> None:
        self._view_states.clear()

    def place_breadcrumb(self) -> None:
        self.breadcrumb.setGeometry(0, 0, self.width(), CRUMB_HEIGHT)


# -- menu entries ------------------------------------------------------------------------
def add_group_entry(view, menu: QMenu) -> None:
    """"Group N Layers into Block" for the selection (layer and canvas menus)."""
    count = len(view.controller.selection)
    action = spec_action("group_block", menu, getattr(view, CANVAS_ACTIONS["group_block"]))
    if count > 1:
        action.setText(f"&Group {count} Layers into Block")
    action.setEnabled(count > 0)
    menu.addAction(action)


def add_block_entries(view, menu: QMenu, node_id: str) -> None:
    """On an instance: Open Block (the double-click's action, in bold), Ungroup, Detach."""
    node = view.controller.graph.nodes[node_id]
    if node.kind != BLOCK_KIND:
        return
    opener = spec_action("open_block", menu, lambda: view.open_block(node_id))
    font = QFont(opener.font())
    font.setBold(True)
    opener.setFont(font)
    menu.addAction(opener)
    menu.addAction(spec_action("ungroup_block", menu, lambda: view.ungroup_block(node_id)))
    menu.addAction(spec_action("detach_block", menu, lambda: view.detach_block(node_id)))
