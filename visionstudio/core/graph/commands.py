"""Edits of the graph, as commands on the document (see visionstudio.core.commands).

Each validates before it touches anything and raises CommandError with a sentence for
the status bar, so a refused edit leaves the graph as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from visionstudio.core.blocks.specs import node_param_specs
from visionstudio.core.commands import Command, CommandError
from visionstudio.core.graph.model import Edge, GraphModel, Node, Position, make_node, name_problem, new_id
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import ParamError

if TYPE_CHECKING:
    from visionstudio.core.project.document import ProjectDocument


class GraphCommand(Command):
    """An edit of ``document.graph``.

    Subclasses write ``apply``/``revert`` on the graph alone, which is also how code
    that assembles a graph without a document or an undo stack (templates, demo data,
    test builders) runs them.
    """

    def do(self, document: ProjectDocument) -> None:
        self.apply(document.graph)

    def undo(self, document: ProjectDocument) -> None:
        self.revert(document.graph)

    def apply(self, graph: GraphModel) -> None:
        raise NotImplementedError

    def revert(self, graph: GraphModel) -> None:
        raise NotImplementedError


class AddNode(GraphCommand):
    def __init__(self, kind: str, position: Position = (0.0, 0.0), *, name: str | None = None,
                 params: Mapping[str, Any] | None = None, node_id: str | None = None) -> None:
        self.kind = LAYERS.canonical(kind)
        self.position = position
        self.name = name
        self.params = dict(params) if params else None
        self.node_id = node_id or new_id()
        self.text = f"Add {LAYERS.get(self.kind).title}"

    def apply(self, graph: GraphModel) -> None:
        if self.name is not None:
            problem = name_problem(self.name)
            if problem:
                raise CommandError(problem)
            if graph.node_by_name(self.name) is not None:
                raise CommandError(f"a layer named {self.name} already exists")
        node = make_node(graph, self.kind, self.name, self.params, self.node_id)
        self.name = node.name  # redo gives the same name
        graph._insert_node(node, self.position)

    def revert(self, graph: GraphModel) -> None:
        graph._delete_node(self.node_id)


class RemoveNodes(GraphCommand):
    """Removes nodes with every edge touching them; undo restores exact order.

    Edges go in one pass over the edge list and ``changed`` is announced once, so
    deleting a whole selection costs O(nodes + edges), not a search and a re-analysis
    per edge.
    """

    def __init__(self, node_ids: Iterable[str]) -> None:
        self.node_ids = list(dict.fromkeys(node_ids))
        self._saved_nodes: list[tuple[int, Node, Position | None]] = []
        self._saved_edges: list[tuple[int, Edge]] = []
        self.text = "Delete layer" if len(self.node_ids) == 1 else f"Delete {len(self.node_ids)} layers"

    def apply(self, graph: GraphModel) -> None:
        missing = [n for n in self.node_ids if n not in graph.nodes]
        if missing:
            raise CommandError("some of the selected layers no longer exist")
        if len(self.node_ids) == 1:
            self.text = f"Delete {graph.nodes[self.node_ids[0]].name}"
        with graph.batch():
            self._saved_edges = graph._delete_edges_of(set(self.node_ids))
            self._saved_nodes = graph._delete_nodes(self.node_ids)

    def revert(self, graph: GraphModel) -> None:
        with graph.batch():
            graph._restore_nodes(self._saved_nodes)
            graph._restore_edges(self._saved_edges)


class Connect(GraphCommand):
    def __init__(self, src: str, dst: str, port: int | None = None) -> None:
        self.src, self.dst, self.port = src, dst, port
        self.edge: Edge | None = None
        self.text = "Connect layers"

    def apply(self, graph: GraphModel) -> None:
        problem = graph.connection_problem(self.src, self.dst, self.port)
        if problem:
            raise CommandError(problem)
        port = self.port if self.port is not None else graph.next_port(self.dst)
        self.edge = Edge(self.src, self.dst, port)
        self.text = f"Connect {graph.nodes[self.src].name} to {graph.nodes[self.dst].name}"
        graph._insert_edge(self.edge)

    def revert(self, graph: GraphModel) -> None:
        assert self.edge is not None
        graph._delete_edge(self.edge)


class Disconnect(GraphCommand):
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.index = -1
        self.text = "Disconnect layers"

    def apply(self, graph: GraphModel) -> None:
        if not graph.has_edge(self.edge):
            raise CommandError("that connection no longer exists")
        self.text = (f"Disconnect {graph.nodes[self.edge.src].name} from "
                     f"{graph.nodes[self.edge.dst].name}")
        self.index = graph._delete_edge(self.edge)

    def revert(self, graph: GraphModel) -> None:
        graph._insert_edge(self.edge, self.index)


class SetParam(GraphCommand):
    def __init__(self, node_id: str, name: str, value: Any) -> None:
        self.node_id, self.name, self.value = node_id, name, value
        self.old: Any = None
        self.had = True
        self.merge_key = ("param", node_id, name)

    def apply(self, graph: GraphModel) -> None:
        node = graph.nodes.get(self.node_id)
        if node is None:
            raise CommandError("that layer no longer exists")
        pspec = next((p for p in node_param_specs(graph, node) if p.name == self.name), None)
        if pspec is None:  # an instance's schema is its definition's exposed parameters
            what = LAYERS.get(node.kind).title if node.kind in LAYERS else node.name
            raise CommandError(f"{what} has no parameter {self.name!r}")
        try:
            clean = pspec.validate(copy.deepcopy(self.value))
        except ParamError as exc:
            raise CommandError(f"{node.name}: {exc}") from None
        self.value = clean
        self.had = self.name in node.params  # an instance may leave an exposed value unset
        self.old = copy.deepcopy(node.params.get(self.name))
        self.text = f"Set {pspec.label} of {node.name} to {_show(clean)}"
        graph._set_param(self.node_id, self.name, clean)

    def revert(self, graph: GraphModel) -> None:
        if self.had:
            graph._set_param(self.node_id, self.name, self.old)
        else:
            params = dict(graph.nodes[self.node_id].params)
            params.pop(self.name, None)
            graph._replace_params(self.node_id, params)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetParam) or other.merge_key != self.merge_key:
            return False
        self.value = other.value
        self.text = other.text
        return True


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "×".join(str(v) for v in value) if len(value) == 2 else str(value)
    if value is None:
        return "default"
    return str(value)


class RenameNode(GraphCommand):
    def __init__(self, node_id: str, name: str) -> None:
        self.node_id, self.name = node_id, name.strip()
        self.old = ""
        self.text = f"Rename to {self.name}"

    def apply(self, graph: GraphModel) -> None:
        node = graph.nodes.get(self.node_id)
        if node is None:
            raise CommandError("that layer no longer exists")
        problem = name_problem(self.name)
        if problem:
            raise CommandError(problem)
        other = graph.node_by_name(self.name)
        if other is not None and other.id != self.node_id:
            raise CommandError(f"a layer named {self.name} already exists")
        self.old = node.name
        self.text = f"Rename {self.old} to {self.name}"
        graph._set_name(self.node_id, self.name)

    def revert(self, graph: GraphModel) -> None:
        graph._set_name(self.node_id, self.old)


class MoveNodes(GraphCommand):
    def __init__(self, moves: Mapping[str, Position], old: Mapping[str, Position] | None = None) -> None:
        self.moves = {k: (float(v[0]), float(v[1])) for k, v in moves.items()}
        self.old: dict[str, Position] = dict(old) if old else {}
        self._given_old = bool(old)
        self.text = "Move layer" if len(self.moves) == 1 else f"Move {len(self.moves)} layers"

    def apply(self, graph: GraphModel) -> None:
        if not self._given_old:
            self.old = {k: graph.positions.get(k, (0.0, 0.0)) for k in self.moves}
        for nid, pos in self.moves.items():
            if nid in graph.nodes:
                graph._set_position(nid, pos)

    def revert(self, graph: GraphModel) -> None:
        for nid, pos in self.old.items():
            if nid in graph.nodes:
                graph._set_position(nid, pos)
