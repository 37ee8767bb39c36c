"""Block edits as undoable graph commands: group a selection into a block, ungroup an
instance, detach it, edit inside a definition, choose the exposed parameters, add or
remove definitions.

Each is a GraphCommand (``apply``/``revert`` on a graph, ``do``/``undo`` on the
document's graph) and reaches the definitions through ``graph.blocks``, so any of
them also works inside a definition when wrapped in :class:`InDefinition`. Undo
restores nodes, edges (in their list order), positions, names and the library exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.blocks.copying import check_exposed, free_key, renamed_copy, same_definition
from visionstudio.core.blocks.grouping import (
    centre,
    cut_selection,
    definition_graph,
    inline_layout,
    inlined_edges,
    source_shapes,
)
from visionstudio.core.blocks.specs import inner_params
from visionstudio.core.commands import CommandError
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam, instance_key, key_problem
from visionstudio.core.graph.commands import AddNode, GraphCommand
from visionstudio.core.graph.model import Edge, GraphModel, Node, Position, new_id
from visionstudio.core.graph.transfer_copy import SetTransfer, group_transfer
from visionstudio.core.layers.block_ports import BLOCK, BLOCK_INPUT, BLOCK_OUTPUT

if TYPE_CHECKING:
    from visionstudio.core.project.document import ProjectDocument


def _instance(graph: GraphModel, node_id: str) -> tuple[Node, BlockDefinition]:
    node = graph.nodes.get(node_id)
    if node is None:
        raise CommandError("that block no longer exists")
    key = instance_key(node)
    if key is None:
        raise CommandError(f"{node.name} is not a block")
    definition = graph.blocks.find(key)
    if definition is None:
        raise CommandError(f"{node.name} uses block {key!r}, which the project does not have")
    return node, definition


class _Removal:
    """Nodes taken out of a graph with their edges, and put back exactly."""

    def __init__(self, graph: GraphModel, ids: list[str]) -> None:
        self.edges = graph._delete_edges_of(set(ids))
        self.nodes = graph._delete_nodes(ids)

    def restore(self, graph: GraphModel) -> None:
        graph._restore_nodes(self.nodes)
        graph._restore_edges(self.edges)


def _add_all(graph: GraphModel, nodes: list[tuple[Node, Position | None]], edges: list[Edge]) -> None:
    for node, position in nodes:
        graph._insert_node(node, position)
    for edge in edges:
        graph._insert_edge(edge)


def _take_back(graph: GraphModel, node_ids: list[str]) -> None:
    """Undo of :func:`_add_all`: those nodes and every edge touching them go."""
    graph._delete_edges_of(set(node_ids))
    graph._delete_nodes(node_ids)


class GroupIntoBlock(GraphCommand):
    """The selected layers move into a new definition; an instance takes their place."""

    def __init__(self, node_ids: Sequence[str], key: str | None = None, title: str | None = None) -> None:
        self.node_ids = list(dict.fromkeys(node_ids))
        self.key, self.title = key, title
        self.instance_id = new_id()
        self._port_ids: list[str] = []
        self._output_id = new_id()
        self._removed: _Removal | None = None
        self.text = "Group into block"

    def apply(self, graph: GraphModel) -> None:
        library = graph.blocks
        cut = cut_selection(graph, self.node_ids)
        key = self.key or library.unique_key(self.title or "block")
        problem = key_problem(key)
        if problem:
            raise CommandError(problem)
        if key in library:
            raise CommandError(f"the project already has a block named {key}")
        self.key = key
        title = self.title or key.replace("_", " ").capitalize()
        while len(self._port_ids) < len(cut.sources):
            self._port_ids.append(new_id())
        ports = self._port_ids[:len(cut.sources)]
        inner = definition_graph(graph, cut, ports, self._output_id)
        definition = BlockDefinition(key, title, "", inner, [], 1, source_shapes(graph, cut.sources))
        position = centre([graph.positions[n] for n in cut.ids if n in graph.positions])
        instance = Node(self.instance_id, BLOCK, graph.unique_name(key), {"block": key})
        edges = [Edge(src, self.instance_id, port) for port, src in enumerate(cut.sources)]
        edges += [Edge(self.instance_id, e.dst, e.port) for e in cut.leaving]
        frozen, multiplier = group_transfer(graph, cut.ids)   # the rule: transfer_copy.py
        self._transfer = SetTransfer({self.instance_id: frozen}, {self.instance_id: multiplier})
        with graph.batch():
            self._removed = _Removal(graph, cut.ids)
            library.add(definition)
            _add_all(graph, [(instance, position)], edges)
            self._transfer.apply(graph)
        self.text = f"Group {len(cut.ids)} layer{'s' if len(cut.ids) != 1 else ''} into {title}"

    def revert(self, graph: GraphModel) -> None:
        assert self._removed is not None
        with graph.batch():
            self._transfer.revert(graph)
            _take_back(graph, [self.instance_id])
            graph.blocks.remove(self.key)
            self._removed.restore(graph)


class Ungroup(GraphCommand):
    """The instance's layers (its exposed values applied) take its place; the
    definition goes when no other instance uses it."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self._ids: dict[str, str] = {}
        self._removed: _Removal | None = None
        self._definition: BlockDefinition | None = None
        self.text = "Ungroup block"

    def apply(self, graph: GraphModel) -> None:
        node, definition = _instance(graph, self.instance_id)
        inner = definition.graph
        layers = [nid for nid, n in inner.nodes.items() if n.kind not in (BLOCK_INPUT, BLOCK_OUTPUT)]
        if definition.output_id() is None:
            raise CommandError(f"block {definition.key} has no single output to connect")
        ids = self._ids or {nid: (nid if nid not in graph.nodes else new_id()) for nid in layers}
        self._ids = ids
        params = inner_params(definition, node.params)
        taken = {n.name for nid, n in graph.nodes.items() if nid != self.instance_id}
        spots = inline_layout(graph, definition, graph.positions.get(self.instance_id, (0.0, 0.0)),
                              {self.instance_id})
        nodes = []
        for nid in layers:
            name = inner.nodes[nid].name
            if name in taken:
                name = f"{node.name}_{name}"
                name = name if name not in taken else graph.unique_name(name + "_", taken)
            taken.add(name)
            nodes.append((Node(ids[nid], inner.nodes[nid].kind, name, params[nid]), spots.get(nid)))
        edges = inlined_edges(graph, definition, self.instance_id, ids)
        others = [u for u in graph.blocks.users_of(definition.key) if u[1] != self.instance_id]
        frozen, multiplier = group_transfer(graph, [self.instance_id])   # the layers take the instance's
        self._transfer = SetTransfer({i: frozen for i in ids.values()}, {i: multiplier for i in ids.values()})
        with graph.batch():
            self._removed = _Removal(graph, [self.instance_id])
            _add_all(graph, nodes, edges)
            self._transfer.apply(graph)
            if not others:
                self._definition = graph.blocks.remove(definition.key)
        self.text = f"Ungroup {node.name}"

    def revert(self, graph: GraphModel) -> None:
        assert self._removed is not None
        with graph.batch():
            if self._definition is not None:
                graph.blocks.add(self._definition)
                self._definition = None
            self._transfer.revert(graph)
            _take_back(graph, list(self._ids.values()))
            self._removed.restore(graph)


class Detach(GraphCommand):
    """The instance gets a definition of its own: a copy under a new key."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self._copy: BlockDefinition | None = None
        self._old_key = ""
        self.text = "Make block unique"

    def apply(self, graph: GraphModel) -> None:
        node, definition = _instance(graph, self.instance_id)
        library = graph.blocks
        if self._copy is None:
            self._copy = definition.copy(library.unique_key(definition.key))
            self._copy.title = f"{definition.title} (copy)"
        self._old_key = definition.key
        with graph.batch():
            library.add(self._copy)
            graph._set_param(self.instance_id, "block", self._copy.key)
        self.text = f"Make {node.name} unique"

    def revert(self, graph: GraphModel) -> None:
        assert self._copy is not None
        with graph.batch():
            graph._set_param(self.instance_id, "block", self._old_key)
            graph.blocks.remove(self._copy.key)


class InDefinition(GraphCommand):
    """Runs ``command`` on definition ``key``'s graph: the edit changes every instance.
    Nest it for a definition inside a definition. An edit that would make a block
    contain itself is undone and refused."""

    def __init__(self, key: str, command: GraphCommand) -> None:
        self.key, self.command = key, command
        self.merge_key = ("in_definition", key, command.merge_key) if command.merge_key is not None else None
        self.text = command.text

    def apply(self, graph: GraphModel) -> None:
        library = graph.blocks
        definition = library.find(self.key)
        if definition is None:
            raise CommandError(f"the project has no block {self.key!r}")
        with graph.batch():
            self.command.apply(definition.graph)
            if self.key in library.dependencies(self.key):
                self.command.revert(definition.graph)
                raise CommandError(f"block {self.key} cannot contain itself, not even through another block")
        self.text = f"{self.command.text} in {definition.title}"

    def revert(self, graph: GraphModel) -> None:
        with graph.batch():
            self.command.revert(graph.blocks.get(self.key).graph)

    def merge(self, other: Any) -> bool:
        if not isinstance(other, InDefinition) or other.merge_key != self.merge_key:
            return False
        if self.command.merge(other.command):
            self.text = other.text
            return True
        return False


class SetExposed(GraphCommand):
    """Expose, unexpose or rename a definition's parameters. Instances keep their values
    for the inner parameters that stay exposed (under the new name if renamed), lose
    the others and use the default for new ones; undo gives every value back."""

    def __init__(self, key: str, exposed: Sequence[ExposedParam]) -> None:
        self.key, self.exposed = key, list(exposed)
        self._old: list[ExposedParam] = []
        self._params: list[tuple[str | None, str, dict[str, Any]]] = []
        self.text = "Change exposed parameters"

    def apply(self, graph: GraphModel) -> None:
        library = graph.blocks
        definition = library.find(self.key)
        if definition is None:
            raise CommandError(f"the project has no block {self.key!r}")
        check_exposed(definition, self.exposed)
        self._old = list(definition.exposed)
        old_name = {(e.node_id, e.param): e.name for e in self._old}
        self._params = []
        with graph.batch():
            for where, nid in library.users_of(self.key):
                owner = library.graph_of(where)
                params = owner.nodes[nid].params
                kept = {"block": params.get("block")}
                for e in self.exposed:
                    before = old_name.get((e.node_id, e.param))
                    if before is not None and before in params:
                        kept[e.name] = copy.deepcopy(params[before])
                if kept != params:
                    self._params.append((where, nid, copy.deepcopy(params)))
                    owner._replace_params(nid, kept)
            library.set_exposed(self.key, self.exposed)
        self.text = f"Change the parameters {definition.title} exposes"

    def revert(self, graph: GraphModel) -> None:
        library = graph.blocks
        with graph.batch():
            library.set_exposed(self.key, self._old)
            for where, nid, params in reversed(self._params):
                library.graph_of(where)._replace_params(nid, params)


class AddDefinition(GraphCommand):
    def __init__(self, definition: BlockDefinition) -> None:
        self.definition = definition
        self.text = f"Add block {definition.title or definition.key}"

    def apply(self, graph: GraphModel) -> None:
        library = graph.blocks
        try:
            library.add(self.definition)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if self.definition.key in library.dependencies(self.definition.key):
            library.remove(self.definition.key)
            raise CommandError(f"block {self.definition.key} contains itself and cannot be added")

    def revert(self, graph: GraphModel) -> None:
        graph.blocks.remove(self.definition.key)


class RemoveDefinition(GraphCommand):
    """Refused while an instance (on the network or inside another block) uses it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._definition: BlockDefinition | None = None
        self.text = f"Remove block {key}"

    def apply(self, graph: GraphModel) -> None:
        library = graph.blocks
        if self.key not in library:
            raise CommandError(f"the project has no block {self.key!r}")
        users = library.users_of(self.key)
        if users:
            names = [library.graph_of(w).nodes[n].name + (f" (in {w})" if w else "") for w, n in users[:4]]
            more = f" and {len(users) - 4} more" if len(users) > 4 else ""
            raise CommandError(f"block {self.key} is still used by {', '.join(names)}{more}; "
                               "delete or ungroup those first")
        self._definition = library.remove(self.key)

    def revert(self, graph: GraphModel) -> None:
        assert self._definition is not None
        graph.blocks.add(self._definition)


class BlockMacro(GraphCommand):
    """Several graph commands as one, rolled back if one fails (usable without a document)."""

    def __init__(self, text: str, commands: Sequence[GraphCommand]) -> None:
        self.text, self.commands = text, list(commands)

    def apply(self, graph: GraphModel) -> None:
        done: list[GraphCommand] = []
        with graph.batch():
            try:
                for cmd in self.commands:
                    cmd.apply(graph)
                    done.append(cmd)
            except Exception:
                for cmd in reversed(done):
                    cmd.revert(graph)
                raise

    def revert(self, graph: GraphModel) -> None:
        with graph.batch():
            for cmd in reversed(self.commands):
                cmd.revert(graph)


def add_block_instance(target: GraphModel | ProjectDocument, definition: BlockDefinition, position: Position,
                       dependencies: Mapping[str, BlockDefinition] | None = None) -> BlockMacro:
    """The command (push it, or ``apply`` it to a graph) that adds an instance of
    ``definition`` at ``position``, with copies of the definition and of the ones it uses
    (``dependencies``, or those of the library it comes from) that the project lacks.
    A key the project already uses for a different definition is renamed."""
    graph = target if isinstance(target, GraphModel) else target.graph
    library = graph.blocks
    source = dict(dependencies or {})
    if not source and definition.graph.blocks is not library:
        home = definition.graph.blocks
        source = {k: home.get(k) for k in home.dependencies(definition.key)
                  if k != definition.key and k in home}
    renames: dict[str, str] = {}
    taken: set[str] = set()
    commands: list[GraphCommand] = []
    for d in [*source.values(), definition]:
        existing = library.find(d.key)
        if existing is d or (existing is not None and same_definition(existing, d, renames)):
            continue
        key = d.key
        if key in library or key in taken:
            key = free_key(library, d.key, taken)
            renames[d.key] = key
        taken.add(key)
        commands.append(AddDefinition(renamed_copy(d, key, renames)))
    key = renames.get(definition.key, definition.key)
    commands.append(AddNode(BLOCK, position, name=graph.unique_name(key), params={"block": key}))
    return BlockMacro(f"Add {definition.title or key}", commands)
