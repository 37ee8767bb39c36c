"""Editing rules: where a new layer goes and what it is called, as commands to push.

The views (palette, canvas drop, clipboard) ask these functions for the command of a
gesture; they never decide placement or names themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from visionstudio.core.commands import Command, CommandError
from visionstudio.core.graph.commands import AddNode, Connect, Disconnect, Macro
from visionstudio.core.graph.model import Edge, GraphModel, Position, name_problem, new_id
from visionstudio.core.layers import LAYERS


def insert_on_edge(graph: GraphModel, kind: str, edge: Edge, position: Position) -> Macro:
    """Drop a layer onto an edge: a -> new -> b, keeping b's port."""
    add = AddNode(kind, position)
    spec = LAYERS.get(kind)
    if spec.max_inputs == 0:
        raise CommandError(f"an {spec.title} cannot be inserted into a connection")
    return Macro(f"Insert {spec.title}", [
        add, Disconnect(edge), Connect(edge.src, add.node_id, 0), Connect(add.node_id, edge.dst, edge.port),
    ])


def append_after(graph: GraphModel, kind: str, after: str | None, position: Position) -> Command:
    """Double-click in the palette: add a layer wired after the selected one."""
    add = AddNode(kind, position)
    spec = LAYERS.get(kind)
    if after is None or after not in graph.nodes or spec.max_inputs == 0:
        return add
    return Macro(f"Append {spec.title}", [add, Connect(after, add.node_id)])


def paste_nodes(graph: GraphModel, clip: Mapping[str, Any], offset: Position = (30.0, 30.0)) -> Macro:
    """Paste a clipboard fragment (``fragment_of``): fresh ids and names, internal wiring kept."""
    id_map: dict[str, str] = {}
    commands: list[Command] = []
    taken = {n.name for n in graph.nodes.values()}
    for nd in clip.get("nodes", []):
        kind = LAYERS.canonical(nd["kind"])
        new = new_id()
        id_map[nd["id"]] = new
        name = nd.get("name") or ""
        if not name or name in taken or name_problem(name):
            prefix = LAYERS.get(kind).name_prefix
            i = 1
            while f"{prefix}{i}" in taken:
                i += 1
            name = f"{prefix}{i}"
        taken.add(name)
        x, y = clip.get("positions", {}).get(nd["id"], (0.0, 0.0))
        commands.append(AddNode(kind, (x + offset[0], y + offset[1]), name=name,
                                params=nd.get("params"), node_id=new))
    for ed in clip.get("edges", []):
        if ed["src"] in id_map and ed["dst"] in id_map:
            commands.append(Connect(id_map[ed["src"]], id_map[ed["dst"]], ed.get("port", 0)))
    n = len(id_map)
    return Macro("Paste layer" if n == 1 else f"Paste {n} layers", commands)


def fragment_of(graph: GraphModel, node_ids: Iterable[str]) -> dict[str, Any]:
    """Plain-data copy of some nodes and the edges among them (the clipboard format)."""
    wanted = set(node_ids)  # built once: inside the comprehension it was built per node
    chosen = [nid for nid in graph.nodes if nid in wanted]
    keep = set(chosen)
    return {
        "nodes": [graph.nodes[nid].to_dict() for nid in chosen],
        "edges": [e.to_dict() for e in graph.edges if e.src in keep and e.dst in keep],
        "positions": {nid: list(graph.positions.get(nid, (0.0, 0.0))) for nid in chosen},
    }
