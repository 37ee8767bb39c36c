"""GraphModel: the network as data — layer nodes, edges between ports, and a layout.

Semantics (nodes, params, edges) are kept apart from layout (positions), so moving a
node never re-runs shape inference and a project file can be diffed meaningfully.
Only commands (``commands.py``) call the ``_``-prefixed mutators; everything that
changes announces itself through an :class:`Event`, which views subscribe to.

An adjacency index (:class:`EdgeIndex`) makes ``inputs_of``/``outputs_of`` cost the
node's degree and every traversal (topological order, reachability, cycles) linear, so
analysing or editing a 10,000-layer, 100,000-connection file is not quadratic. The
mutators keep it up to date; code that edits ``edges`` directly (tests, scripts, the
loader) only makes it stale, and it is rebuilt once at the next query. Analysis, build,
the loader and the views all traverse through these methods, not their own loops.
"""

from __future__ import annotations

import contextlib
import copy
import keyword
import re
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.events import Event
from visionstudio.core.graph.blocks import BlockLibrary
from visionstudio.core.graph.edge_list import EdgeIndex, EdgeList, merge_back
from visionstudio.core.graph.transfer import TransferOptions
from visionstudio.core.graph.traversal import GraphTraversal
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import defaults

Position = tuple[float, float]


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Node:
    id: str
    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        spec = LAYERS.get(self.kind) if self.kind in LAYERS else None
        return {
            "id": self.id,
            "kind": self.kind,
            "version": spec.version if spec else 1,
            "name": self.name,
            "params": copy.deepcopy(self.params),
        }


@dataclass(frozen=True)
class Edge:
    """Output of ``src`` into input port ``port`` of ``dst`` (merges have ports 0..n)."""

    src: str
    dst: str
    port: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port}


_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def name_problem(name: str) -> str | None:
    """Why a node name is unusable (names become Python attribute names), else None."""
    if not name:
        return "a name cannot be empty"
    if not _NAME_RE.fullmatch(name):  # match() + $ would let 'conv1\n' through
        return (f"'{name}' is not a valid name: use letters, digits and underscores, "
                "not starting with a digit")
    if keyword.iskeyword(name):
        return f"'{name}' is a Python keyword"
    if len(name) > 64:
        return "a name can have at most 64 characters"
    return None


class GraphModel(GraphTraversal):
    """A directed graph of layers. Not thread-safe: the GUI thread owns it.

    Its traversals (topological order, predecessors, reachability...) come from
    :class:`GraphTraversal`, which reads the adjacency index kept here."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._edges = EdgeList()
        self._index = EdgeIndex(self._edges)
        self.positions: dict[str, Position] = {}
        self.node_added = Event("node_added")          # (node)
        self.node_removed = Event("node_removed")      # (node)
        self.edge_added = Event("edge_added")          # (edge)
        self.edge_removed = Event("edge_removed")      # (edge)
        self.params_changed = Event("params_changed")  # (node_id, name, value)
        self.node_renamed = Event("node_renamed")      # (node_id, name)
        self.node_moved = Event("node_moved")          # (node_id, position)
        # Any semantic change (not moves): the trigger for re-running shape inference.
        self.changed = Event("changed")
        self._batch_depth = 0
        self._batch_dirty = False
        # The project's block definitions. A top-level graph owns its library and
        # forwards its changes (an edit inside a definition) to ``changed``; a
        # definition's inner graph is handed the owner's library (BlockLibrary.add), and
        # ``_on_edit`` then stamps every mutation of it there, batched or not.
        self.blocks = BlockLibrary(self)
        self.blocks.changed.connect(self._blocks_changed)
        self._on_edit = None
        self.transfer = TransferOptions()  # frozen layers, lr multipliers (transfer.py)

    # -- the edge list and its index ------------------------------------------------
    @property
    def edges(self) -> EdgeList:
        """All connections in document order (the order undo restores and files keep)."""
        return self._edges

    @edges.setter
    def edges(self, edges) -> None:
        self._edges = EdgeList(edges)
        self._index = EdgeIndex(self._edges)

    def _adjacency(self) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
        """(incoming, outgoing) per node id, rebuilt in one pass when stale."""
        return self._index.tables()

    # -- queries ----------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def node_by_name(self, name: str) -> Node | None:
        return next((node for node in self.nodes.values() if node.name == name), None)

    def inputs_of(self, node_id: str) -> list[Edge]:
        """Incoming edges of a node, ordered by port (ties in edge-list order): the order
        a merge receives its inputs in."""
        index = self._index  # inlined freshness check: analysis asks once per layer
        incoming = index.incoming if index.version == index.edges.version else index.tables()[0]
        edges = incoming.get(node_id, ())
        return sorted(edges, key=_port) if len(edges) > 1 else list(edges)

    def outputs_of(self, node_id: str) -> list[Edge]:
        """Outgoing edges of a node, in edge-list order."""
        return list(self._adjacency()[1].get(node_id, ()))

    def has_edge(self, edge: Edge) -> bool:
        return edge in self._adjacency()[0].get(edge.dst, ())

    def unique_name(self, prefix: str, taken: Collection[str] | None = None) -> str:
        """``prefix`` + the lowest number not yet a layer's name (nor in ``taken``, the
        names a multi-layer edit has already handed out)."""
        names = {n.name for n in self.nodes.values()} if taken is None else taken
        i = 1
        while f"{prefix}{i}" in names:
            i += 1
        return f"{prefix}{i}"

    def next_port(self, dst: str) -> int:
        ports = [e.port for e in self._adjacency()[0].get(dst, ())]
        return max(ports) + 1 if ports else 0

    def connection_problem(self, src: str, dst: str, port: int | None = None) -> str | None:
        """Why ``src -> dst`` cannot be connected, in the user's words; None if it can."""
        if src not in self.nodes or dst not in self.nodes:
            return "both ends must be existing layers"
        a, b = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"{a.name} cannot feed itself"
        spec = LAYERS.get(b.kind) if b.kind in LAYERS else None
        if spec is not None and spec.max_inputs == 0:
            return f"{b.name} is an Input and takes no inputs"
        incoming_of, outgoing_of = self._adjacency()
        if any(e.dst == dst for e in outgoing_of.get(src, ())):
            return f"{a.name} is already connected to {b.name}"
        incoming = incoming_of.get(dst, [])
        if spec is not None and spec.max_inputs is not None and len(incoming) >= spec.max_inputs:
            return (f"{b.name} already has its input from "
                    f"{self.nodes[incoming[0].src].name}; a {spec.title} takes one input — "
                    "use Add or Concat to merge branches")
        if port is not None and any(e.port == port for e in incoming):
            return f"input {port} of {b.name} is already connected"
        if self.would_cycle(src, dst):
            return f"connecting {a.name} to {b.name} would create a cycle"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges],
        }

    def layout_dict(self) -> dict[str, Any]:
        return {"positions": {nid: [float(x), float(y)] for nid, (x, y) in self.positions.items()}}

    def copy(self, *, blocks: bool = True) -> GraphModel:
        """A detached deep copy without subscribers (for snapshots handed to workers),
        owning a copy of every block definition (``blocks=False``: none)."""
        other = GraphModel()
        for n in self.nodes.values():
            other.nodes[n.id] = Node(n.id, n.kind, n.name, copy.deepcopy(n.params))
        other.edges = self.edges  # a copy; its index is rebuilt at the first query
        other.positions = dict(self.positions)
        other.transfer.copy_from(self.transfer)
        if blocks and len(self.blocks):
            other.blocks.copy_from(self.blocks)
        return other

    def __deepcopy__(self, memo: dict) -> GraphModel:
        """deepcopy is :meth:`copy`: weak subscribers and the library's owner link do not copy."""
        return self.copy()

    # -- announcing -------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Announce ``changed`` once, at the end, for every change made inside (nests).

        The fine-grained events (``edge_removed``...) still come one by one; only the
        re-analysis trigger is held back, so deleting a layer with twenty connections
        re-runs shape inference once, not twenty-one times.
        """
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0 and self._batch_dirty:
                self._batch_dirty = False
                self.changed.emit()

    def _blocks_changed(self, key: str) -> None:
        self._emit_changed()  # only the library's owner is subscribed to it

    def _emit_changed(self) -> None:
        if self._on_edit is not None:
            self._on_edit()
        if self._batch_depth:
            self._batch_dirty = True
        else:
            self.changed.emit()

    # -- low-level mutators (commands only) --------------------------------------
    def _insert_node(self, node: Node, position: Position | None = None, index: int | None = None) -> None:
        if node.id in self.nodes:
            raise ValueError(f"node id {node.id} already exists")
        if index is None or index >= len(self.nodes):
            self.nodes[node.id] = node
        else:
            items = list(self.nodes.items())
            items.insert(index, (node.id, node))
            self.nodes = dict(items)
        if position is not None:
            self.positions[node.id] = (float(position[0]), float(position[1]))
        self.node_added.emit(node)
        self._emit_changed()

    def _delete_node(self, node_id: str) -> tuple[Node, int, Position | None]:
        # Undo of an AddNode removes the newest node: no need to count the others.
        last = next(reversed(self.nodes), None)
        index = len(self.nodes) - 1 if last == node_id else list(self.nodes).index(node_id)
        node = self.nodes.pop(node_id)
        position = self.positions.pop(node_id, None)
        self.node_removed.emit(node)
        self._emit_changed()
        return node, index, position

    def _insert_edge(self, edge: Edge, index: int | None = None) -> None:
        fresh = self._index.fresh
        if index is None or index >= len(self._edges):
            self._edges.append(edge)
            if fresh:
                self._index.appended(edge)
        else:
            # Back into the middle (undo): the index goes stale and is rebuilt once at
            # the next query, however many edges an undo puts back.
            self._edges.insert(index, edge)
        self.edge_added.emit(edge)
        self._emit_changed()

    def _delete_edge(self, edge: Edge) -> int:
        fresh = self._index.fresh
        edges = self._edges
        if fresh and edges and edges[-1] == edge and self._index.incoming[edge.dst].count(edge) == 1:
            index = len(edges) - 1  # undo of a Connect: the newest edge, found without a search
            edges.pop()
        else:
            index = edges.index(edge)
            del edges[index]
        if fresh:
            self._index.removed(edge)
        self.edge_removed.emit(edge)
        self._emit_changed()
        return index

    def _delete_edges_of(self, node_ids: set[str]) -> list[tuple[int, Edge]]:
        """Remove every edge touching ``node_ids`` in one pass over the list (deleting
        them one by one searched the list for each). Returns (position, edge) pairs in
        list order, for :meth:`_restore_edges`; announces each edge, then one change."""
        kept: list[Edge] = []
        removed: list[tuple[int, Edge]] = []
        for i, e in enumerate(self._edges):
            if e.src in node_ids or e.dst in node_ids:
                removed.append((i, e))
            else:
                kept.append(e)
        if not removed:
            return removed
        self._edges[:] = kept  # same list object; the index goes stale
        for _, e in removed:
            self.edge_removed.emit(e)
        self._emit_changed()
        return removed

    def _restore_edges(self, removed: list[tuple[int, Edge]]) -> None:
        """Undo of :meth:`_delete_edges_of`: each edge back at its old position."""
        if not removed:
            return
        self._edges[:] = merge_back(self._edges, removed)
        for _, e in reversed(removed):
            self.edge_added.emit(e)
        self._emit_changed()

    def _delete_nodes(self, node_ids: list[str]) -> list[tuple[int, Node, Position | None]]:
        """Remove nodes (their edges must be gone) in the given order; returns
        (document position, node, position on the canvas) for :meth:`_restore_nodes`."""
        where = {nid: i for i, nid in enumerate(self.nodes)}
        removed = []
        for nid in node_ids:
            node = self.nodes.pop(nid)
            removed.append((where[nid], node, self.positions.pop(nid, None)))
            self.node_removed.emit(node)
        if removed:
            self._emit_changed()
        return removed

    def _restore_nodes(self, removed: list[tuple[int, Node, Position | None]]) -> None:
        """Undo of :meth:`_delete_nodes`: document order as it was, in one pass."""
        if not removed:
            return
        for _, node, _ in removed:
            if node.id in self.nodes:
                raise ValueError(f"node id {node.id} already exists")
        back = sorted(((index, (node.id, node)) for index, node, _ in removed), key=lambda r: r[0])
        merged = merge_back(self.nodes.items(), back)
        self.nodes.clear()
        self.nodes.update(merged)
        for _, node, position in reversed(removed):
            if position is not None:
                self.positions[node.id] = (float(position[0]), float(position[1]))
            self.node_added.emit(node)
        self._emit_changed()

    def _set_param(self, node_id: str, name: str, value: Any) -> None:
        self.nodes[node_id].params[name] = copy.deepcopy(value)
        self.params_changed.emit(node_id, name, value)
        self._emit_changed()

    def _replace_params(self, node_id: str, params: dict[str, Any]) -> None:
        """All of a node's params at once (an instance losing exposed values): each
        changed or removed name is announced (a removed one with value None)."""
        node = self.nodes[node_id]
        old, node.params = node.params, copy.deepcopy(params)
        for name in dict.fromkeys([*old, *node.params]):
            if old.get(name, _MISSING) != node.params.get(name, _MISSING):
                self.params_changed.emit(node_id, name, node.params.get(name))
        self._emit_changed()

    def _set_name(self, node_id: str, name: str) -> None:
        self.nodes[node_id].name = name
        self.node_renamed.emit(node_id, name)
        self._emit_changed()

    def _set_position(self, node_id: str, position: Position) -> None:
        self.positions[node_id] = (float(position[0]), float(position[1]))
        self.node_moved.emit(node_id, self.positions[node_id])


_MISSING = object()


def _port(edge: Edge) -> int:
    return edge.port


def make_node(graph: GraphModel, kind: str, name: str | None = None,
              params: dict[str, Any] | None = None, node_id: str | None = None) -> Node:
    """A new node of ``kind`` with default params and a fresh, unique name."""
    spec = LAYERS.get(kind)
    values = defaults(spec.params)
    if params:
        values.update(copy.deepcopy(params))
    return Node(node_id or new_id(), spec.key, name or graph.unique_name(spec.name_prefix), values)
