"""Editing rules: where a new layer goes, what it is called, and the command to push.

The views (palette, canvas drop, clipboard) pass what they know — the selection, the
drop point, how many times the clipboard was pasted — and push the command they get
back; they never decide placement or names themselves. Positions are layer centres in
canvas units, plain numbers. A new or pasted layer never lands on another one: it
moves aside, or the layers after it move down, in the same undo step (a MoveNodes
inside the gesture's macro), so one undo puts everything back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from visionstudio.core.commands import Command, CommandError, Macro
from visionstudio.core.graph.commands import AddNode, Connect, Disconnect, MoveNodes
from visionstudio.core.graph.model import Edge, GraphModel, Position, name_problem, new_id
from visionstudio.core.graph.transfer_copy import fragment_transfer, pasted_transfer
from visionstudio.core.layers import LAYERS

# A layer's body on the canvas; the canvas draws its items with these.
NODE_WIDTH = 196.0
NODE_HEIGHT = 78.0
ROW_SPACING = 130.0                  # centre to centre of two stacked layers
COLUMN_SPACING = NODE_WIDTH + 44.0   # ... and of two side by side
CLEARANCE = 12.0                     # the least free space kept between two bodies
PASTE_STEP = 40.0                    # each paste of one clipboard lands this much further


def overlaps(a: Position, b: Position) -> bool:
    """True when layers centred at ``a`` and ``b`` touch or come closer than CLEARANCE."""
    return abs(a[0] - b[0]) < NODE_WIDTH + CLEARANCE and abs(a[1] - b[1]) < NODE_HEIGHT + CLEARANCE


class Occupancy:
    """Layer centres in a grid of cells one body plus clearance wide and high, so asking
    whether a spot is free looks at nine cells, not at every layer of a big network."""

    _W = NODE_WIDTH + CLEARANCE
    _H = NODE_HEIGHT + CLEARANCE

    def __init__(self, positions: Iterable[Position] = ()) -> None:
        self._cells: dict[tuple[int, int], list[Position]] = {}
        for p in positions:
            self.add(p)

    def _cell(self, p: Position) -> tuple[int, int]:
        return math.floor(p[0] / self._W), math.floor(p[1] / self._H)

    def add(self, p: Position) -> None:
        self._cells.setdefault(self._cell(p), []).append((float(p[0]), float(p[1])))

    def hits(self, p: Position) -> bool:
        cx, cy = self._cell(p)
        cells = self._cells
        return any(overlaps(p, q) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                   for q in cells.get((cx + dx, cy + dy), ()))

    def free_spot(self, p: Position) -> Position:
        """``p``, or the first spot to its right, a column at a time, that is free."""
        x, y = float(p[0]), float(p[1])
        while self.hits((x, y)):
            x += COLUMN_SPACING
        return x, y


def occupancy(graph: GraphModel, moves: Mapping[str, Position] | None = None) -> Occupancy:
    """Where the graph's layers are, after ``moves`` if given."""
    positions = {**graph.positions, **moves} if moves else graph.positions
    return Occupancy(positions.values())


def room_below(graph: GraphModel, start: str, y: float) -> dict[str, Position]:
    """Moves that shift ``start`` and every layer after it down, just far enough that
    ``start`` sits a row below ``y`` (none when it already does)."""
    sy = graph.positions.get(start, (0.0, 0.0))[1]
    need = y + ROW_SPACING - sy
    if need <= 0:
        return {}
    moves = {}
    for nid in graph.reachable_from(start):
        x, ny = graph.positions.get(nid, (0.0, 0.0))
        moves[nid] = (x, ny + need)
    return moves


def added_ids(command: Command) -> list[str]:
    """The ids of the layers a gesture's command adds, in order (the new selection)."""
    if isinstance(command, AddNode):
        return [command.node_id]
    if isinstance(command, Macro):
        return [nid for c in command.commands for nid in added_ids(c)]
    return []


def _below(graph: GraphModel, node_id: str | None) -> Position:
    """A row under ``node_id``; without one, under the lowest layer; else the origin."""
    if node_id is not None and node_id in graph.nodes:
        x, y = graph.positions.get(node_id, (0.0, 0.0))
        return x, y + ROW_SPACING
    if graph.positions:
        x, y = max(graph.positions.values(), key=lambda p: p[1])
        return x, y + ROW_SPACING
    return 0.0, 0.0


def add_layer(graph: GraphModel, kind: str, position: Position) -> AddNode:
    """A layer dropped at ``position``, moved aside if another layer is there."""
    return AddNode(kind, occupancy(graph).free_spot(position))


def insert_on_edge(graph: GraphModel, kind: str, edge: Edge, position: Position | None = None) -> Macro:
    """A layer into a connection: a -> new -> b, keeping b's port.

    It goes at ``position`` (a drop point; by default under a) but at least a row under
    a; b and every layer after it move down to leave a row for it."""
    spec = LAYERS.get(kind)
    if spec.max_inputs == 0:
        raise CommandError(f"an {spec.title} cannot be inserted into a connection")
    below_src = _below(graph, edge.src)
    x, y = below_src if position is None else (position[0], max(position[1], below_src[1]))
    moves = room_below(graph, edge.dst, y)
    add = AddNode(kind, occupancy(graph, moves).free_spot((x, y)))
    steps: list[Command] = [MoveNodes(moves)] if moves else []
    steps += [add, Disconnect(edge), Connect(edge.src, add.node_id, 0),
              Connect(add.node_id, edge.dst, edge.port)]
    return Macro(f"Insert {spec.title}", steps)


def append_after(graph: GraphModel, kind: str, after: str | None,
                 position: Position | None = None) -> Command:
    """Double-click in the palette: a layer wired after the selected one, placed under it.

    When the selected layer feeds exactly one other (the middle of a chain), the new one
    goes between them instead of starting a side branch; a layer that takes no input
    (an Input) is only placed, never wired."""
    spec = LAYERS.get(kind)
    wired = after is not None and after in graph.nodes and spec.max_inputs != 0
    if wired:
        outs = graph.outputs_of(after)
        if len(outs) == 1:
            return insert_on_edge(graph, kind, outs[0], position)
    add = add_layer(graph, kind, _below(graph, after) if position is None else position)
    if not wired:
        return add
    return Macro(f"Append {spec.title}", [add, Connect(after, add.node_id)])


def paste_offset(graph: GraphModel, clip: Mapping[str, Any], repeat: int = 1) -> Position:
    """How far to shift a clipboard fragment for its ``repeat``-th paste: PASTE_STEP
    down and right per paste, then whole columns right until no pasted layer lands on
    an existing one."""
    positions = clip.get("positions", {})
    spots = [positions.get(nd["id"], (0.0, 0.0)) for nd in clip.get("nodes", [])]
    occupied = occupancy(graph)
    dx = dy = PASTE_STEP * repeat
    while any(occupied.hits((x + dx, y + dy)) for x, y in spots):
        dx += COLUMN_SPACING
    return dx, dy


def paste_nodes(graph: GraphModel, clip: Mapping[str, Any], offset: Position | None = None, *,
                repeat: int = 1) -> Macro:
    """Paste a clipboard fragment (``fragment_of``): fresh ids and names, internal wiring kept.

    By default it lands where :func:`paste_offset` says; an explicit ``offset`` (scripts,
    tests) places it exactly there."""
    if offset is None:
        offset = paste_offset(graph, clip, repeat)
    id_map: dict[str, str] = {}
    commands: list[Command] = []
    taken = {n.name for n in graph.nodes.values()}
    for nd in clip.get("nodes", []):
        kind = LAYERS.canonical(nd["kind"])
        new = new_id()
        id_map[nd["id"]] = new
        name = nd.get("name") or ""
        if not name or name in taken or name_problem(name):
            name = graph.unique_name(LAYERS.get(kind).name_prefix, taken)
        taken.add(name)
        x, y = clip.get("positions", {}).get(nd["id"], (0.0, 0.0))
        commands.append(AddNode(kind, (x + offset[0], y + offset[1]), name=name,
                                params=nd.get("params"), node_id=new))
    for ed in clip.get("edges", []):
        if ed["src"] in id_map and ed["dst"] in id_map:
            commands.append(Connect(id_map[ed["src"]], id_map[ed["dst"]], ed.get("port", 0)))
    kept = pasted_transfer(clip, id_map)   # copies keep their originals' frozen flag and multiplier
    if kept is not None:
        commands.append(kept)
    n = len(id_map)
    return Macro("Paste layer" if n == 1 else f"Paste {n} layers", commands)


def fragment_of(graph: GraphModel, node_ids: Iterable[str]) -> dict[str, Any]:
    """Plain-data copy of some nodes and the edges among them (the clipboard format)."""
    wanted = set(node_ids)  # built once: inside the comprehension it was built per node
    chosen = [nid for nid in graph.nodes if nid in wanted]
    keep = set(chosen)
    fragment = {
        "nodes": [graph.nodes[nid].to_dict() for nid in chosen],
        "edges": [e.to_dict() for e in graph.edges if e.src in keep and e.dst in keep],
        "positions": {nid: list(graph.positions.get(nid, (0.0, 0.0))) for nid in chosen},
    }
    transfer = fragment_transfer(graph, chosen)
    if transfer:
        fragment["transfer"] = transfer
    return fragment
