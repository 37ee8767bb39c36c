"""GraphScene: the items of one GraphModel, kept in step with the model's events.

The scene owns item bookkeeping only (node id -> NodeItem, Edge -> EdgeItem). Texts
come from the model and the controller's shared analysis; selection is mirrored to
and from ``controller.selection``; a finished drag becomes one MoveNodes command; a
right-click opens the menu of what is under it (context_menu.py builds it).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainter, QPolygonF
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneContextMenuEvent

from visionstudio.core.graph import Edge, GraphAnalysis, GraphModel, MoveNodes, Node
from visionstudio.core.layers import LAYERS, fmt_shape
from visionstudio.ui.canvas.block_item import BLOCK_KIND, BlockItem, block_content
from visionstudio.ui.canvas.context_menu import open_context_menu
from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.canvas.head_badge import HeadChecks, show_head_tag
from visionstudio.ui.canvas.items import NodeItem
from visionstudio.ui.canvas.routing import RouteIndex
from visionstudio.ui.canvas.style import CanvasStyle

_EXTENT = 20000.0


def format_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} M".replace(".0 ", " ")
    if n >= 10_000:
        return f"{n / 1000:.1f} k".replace(".0 ", " ")
    return f"{n:,}"


class GraphScene(QGraphicsScene):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.style = CanvasStyle.from_palette()
        self.setSceneRect(QRectF(-_EXTENT, -_EXTENT, 2 * _EXTENT, 2 * _EXTENT))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._graph: GraphModel | None = None
        self._syncing = False
        # Layers and long edges by grid cell: routing asks it instead of scanning the scene.
        self.route_index = RouteIndex()
        self._bulk = False  # while bind() fills the scene: route each edge once, at the end
        self.heads = HeadChecks(controller, self)
        self.selectionChanged.connect(self._on_scene_selection_changed)
        controller.analysis_changed.connect(self._on_controller_analysis_changed)
        controller.selection_changed.connect(self._on_controller_selection_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        controller.scope_changed.connect(self._on_controller_scope_changed)
        self.bind(controller.graph)

    # -- binding ----------------------------------------------------------------------
    @property
    def graph(self) -> GraphModel:
        assert self._graph is not None
        return self._graph

    def bind(self, graph: GraphModel) -> None:
        if self._graph is not None:
            for event, handler in self._subscribed:
                event.disconnect(handler)
        self._syncing = True
        try:
            for item in list(self._edges.values()):
                item.detach()
                self.removeItem(item)
            for item in list(self._nodes.values()):
                self.removeItem(item)
            self._edges.clear()
            self._nodes.clear()
            self.route_index = RouteIndex()
        finally:
            self._syncing = False
        self._graph = graph
        self._subscribed = self._subscriptions(graph)  # what to disconnect from at the next bind
        for event, handler in self._subscribed:
            event.connect(handler)
        # Edges are routed once, after every layer is placed; adding them one by one
        # re-spread every input of their target (quadratic in a merge's fan-in).
        self._bulk = True
        try:
            for node in graph.nodes.values():
                self._on_graph_node_added(node)
            for edge in graph.edges:
                self._on_graph_edge_added(edge)
            self.apply_analysis(self.controller.analysis)  # labels first: routing lays them out
        finally:
            self._bulk = False
        for item in self._nodes.values():
            if item.edges:
                self._spread_inputs(item)

    def _subscriptions(self, graph: GraphModel):
        return [
            (graph.node_added, self._on_graph_node_added),
            (graph.node_removed, self._on_graph_node_removed),
            (graph.edge_added, self._on_graph_edge_added),
            (graph.edge_removed, self._on_graph_edge_removed),
            (graph.params_changed, self._on_graph_params_changed),
            (graph.node_renamed, self._on_graph_node_renamed),
            (graph.node_moved, self._on_graph_node_moved),
            (graph.blocks.changed, self._on_blocks_changed),
            (graph.transfer.changed, self._on_transfer_changed),
        ]

    # -- lookup -------------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def edge_near(self, point: QPointF, radius: float = 14.0) -> EdgeItem | None:
        """The edge closest to ``point`` within ``radius`` (labels count as the edge)."""
        area = QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius)
        best, best_d = None, math.inf
        for item in self.items(area):
            if isinstance(item, EdgeItem):
                d = item.distance_hint(point)
                if item._label_rect.contains(point):
                    d = 0.0
                if d < best_d:
                    best, best_d = item, d
        return best

    # -- model events -----------------------------------------------------------------
    def _refresh_content(self, item: NodeItem, node: Node) -> None:
        if isinstance(item, BlockItem):
            item.set_block(**block_content(self.graph, node))
            if not self._bulk:
                self._spread_inputs(item)  # the ports may have changed with the definition
            return
        spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
        summary = ""
        if spec is not None:
            try:
                summary = spec.summary(node.params)
            except Exception:  # noqa: BLE001 - a half-valid value must never break drawing
                summary = ""
        item.set_content(
            name=node.name, kind_title=spec.title if spec else node.kind, summary=summary,
            description=spec.description if spec else "unknown layer kind",
            is_source=bool(spec and spec.is_source), category=spec.category if spec else "",
        )

    def _on_graph_node_added(self, node: Node) -> None:
        item = BlockItem(node.id) if node.kind == BLOCK_KIND else NodeItem(node.id, node.kind)
        self._refresh_content(item, node)
        item.set_transfer(not self.graph.transfer.trainable(node.id), self.graph.transfer.multiplier(node.id))
        x, y = self.graph.positions.get(node.id, (0.0, 0.0))
        item.setPos(x, y)
        self._nodes[node.id] = item
        self.addItem(item)
        self.node_item_moved(item)

    def _on_graph_node_removed(self, node: Node) -> None:
        item = self._nodes.pop(node.id, None)
        if item is not None:
            for edge in list(item.edges):
                self._on_graph_edge_removed(edge.edge)
            rect = self.route_index.nodes.rect(item)
            self.route_index.drop_node(item)
            self.removeItem(item)
            if rect is not None:
                self._reroute(self.route_index.edges_near(rect))

    def node_item_moved(self, item: NodeItem) -> None:
        """Keep the index in step with a layer's position and re-route what it touches:
        its own edges, and the long edges whose lane it left or entered. Called by the
        item on every position change (drags included) and once when it is added."""
        rect = item.sceneBoundingRect()
        old = self.route_index.put_node(item, rect)
        if self._bulk:
            return
        affected = set(item.edges) | self.route_index.edges_near(rect)
        if old is not None:
            affected |= self.route_index.edges_near(old)
        self._reroute(affected)

    @staticmethod
    def _reroute(edges) -> None:
        for edge in edges:
            edge.update_path()

    def _on_graph_edge_added(self, edge: Edge) -> None:
        src, dst = self._nodes.get(edge.src), self._nodes.get(edge.dst)
        if src is None or dst is None or edge in self._edges:
            return
        item = EdgeItem(edge, src, dst, route=not self._bulk)
        self._edges[edge] = item
        self.addItem(item)
        if not self._bulk:
            self._spread_inputs(dst)

    def _on_graph_edge_removed(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is not None:
            item.detach()
            self.route_index.drop_edge(item)
            self.removeItem(item)
            self._spread_inputs(item.dst)

    def _spread_inputs(self, dst: NodeItem) -> None:
        """Edges into a merge arrive side by side, in port order."""
        incoming = sorted((e for e in dst.edges if e.dst is dst), key=lambda e: e.edge.port)
        if isinstance(dst, BlockItem):
            dst.spread_inputs(incoming)
            return
        n = len(incoming)
        for rank, edge in enumerate(incoming):
            edge.dst_offset = (rank - (n - 1) / 2) * 18.0
            edge.update_path()
        dst.connected_inputs = n
        dst.input_port.set_span(max(0, n - 1) * 18.0)

    def _on_graph_params_changed(self, node_id: str, name: str, value) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            self._refresh_content(item, self.graph.nodes[node_id])

    def _on_transfer_changed(self, node_ids: list[str]) -> None:
        """Lock badges and lr marks (graph.transfer: frozen layers, multipliers)."""
        for nid in node_ids:
            item = self._nodes.get(nid)
            if item is not None:
                item.set_transfer(not self.graph.transfer.trainable(nid), self.graph.transfer.multiplier(nid))

    def _on_graph_node_renamed(self, node_id: str, name: str) -> None:
        self._on_graph_params_changed(node_id, "", None)

    def _on_blocks_changed(self, key: str) -> None:
        """A definition changed: its instances here show its new title, ports and values."""
        for nid, item in self._nodes.items():
            if isinstance(item, BlockItem) and self.graph.nodes[nid].params.get("block") == key:
                self._refresh_content(item, self.graph.nodes[nid])

    def _on_graph_node_moved(self, node_id: str, position) -> None:
        item = self._nodes.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != tuple(position):
            item.setPos(position[0], position[1])  # node_item_moved re-routes what it touches

    # -- analysis ------------------------------------------------------------------------
    def _on_controller_analysis_changed(self, analysis: GraphAnalysis) -> None:
        self.apply_analysis(analysis)

    def apply_analysis(self, analysis: GraphAnalysis) -> None:
        heads = self.heads.check(analysis)   # head_badge.py: what each head feeds, head problems
        for nid, item in self._nodes.items():
            info = analysis.nodes.get(nid)
            show_head_tag(item, heads.labels.get(nid, ""))
            if info is None:
                item.set_info("?", "", [])
                continue
            params = f"{format_count(info.params)} params" if info.params else ""
            found = [(d.message, d.severity, d.hint) for d in info.diagnostics]
            item.set_info(fmt_shape(info.output_shape), params, found + heads.problems.get(nid, []))
        for edge, item in self._edges.items():
            info = analysis.nodes.get(edge.src)
            item.set_label(fmt_shape(info.output_shape) if info and info.output_shape else "")

    # -- selection -----------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        ordered = [nid for nid in self.controller.selection if nid in chosen]
        return ordered + [nid for nid in self._nodes if nid in chosen and nid not in ordered]

    def _on_scene_selection_changed(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.controller.set_selection(self.selected_node_ids())
        finally:
            self._syncing = False

    def _on_controller_selection_changed(self, ids: list[str]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            wanted = set(ids)
            for nid, item in self._nodes.items():
                item.setSelected(nid in wanted)
            if wanted:
                for item in self._edges.values():
                    item.setSelected(False)
        finally:
            self._syncing = False

    def _on_controller_document_replaced(self, document) -> None:
        self.bind(document.graph)

    def _on_controller_scope_changed(self, _scope) -> None:
        if self.controller.graph is not self._graph:
            self.bind(self.controller.graph)

    # -- moves ---------------------------------------------------------------------------
    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def commit_moves(self) -> bool:
        """Turn item positions that differ from the model into one MoveNodes command."""
        moves, old = {}, {}
        for nid, item in self._nodes.items():
            pos = (item.pos().x(), item.pos().y())
            model = self.graph.positions.get(nid, (0.0, 0.0))
            if abs(pos[0] - model[0]) > 0.01 or abs(pos[1] - model[1]) > 0.01:
                moves[nid] = pos
                old[nid] = model
        if not moves:
            return False
        return self.controller.push(MoveNodes(moves, old=old))

    # -- context menus ---------------------------------------------------------------------
    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:  # noqa: N802 - Qt's name
        """The menu of what is under the pointer (context_menu.py); from the keyboard
        (Menu key, Shift+F10) the menu of the selected layer, opened on it."""
        view = next((v for v in self.views() if v.viewport() is event.widget()), None)
        if view is None:
            super().contextMenuEvent(event)
            return
        event.accept()
        scene_pos, screen_pos = event.scenePos(), event.screenPos()
        selected = self.controller.selection
        keyboard = event.reason() == QGraphicsSceneContextMenuEvent.Reason.Keyboard
        if keyboard and selected and selected[-1] in self._nodes:
            scene_pos = self._nodes[selected[-1]].pos()
            screen_pos = view.viewport().mapToGlobal(view.mapFromScene(scene_pos))
        open_context_menu(view, scene_pos, screen_pos)

    # -- background ------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt's name
        painter.fillRect(rect, self.style.background)
        step = 24.0
        scale = painter.worldTransform().m11()
        if scale * step < 7:
            return
        painter.setPen(self.style.grid)
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        points = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                points.append(QPointF(x, y))
                x += step
            y += step
        if points:
            painter.drawPoints(QPolygonF(points))
