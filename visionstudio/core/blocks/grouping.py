"""The arithmetic of grouping and ungrouping: where a selection is cut from its graph,
the definition made of it, and where a block's layers land when it is inlined.

Pure functions of the graph; the commands (commands.py) record what they change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from visionstudio.core.commands import CommandError
from visionstudio.core.graph.analysis import analyze
from visionstudio.core.graph.blocks import BlockDefinition
from visionstudio.core.graph.editing import COLUMN_SPACING, ROW_SPACING, Occupancy
from visionstudio.core.graph.model import Edge, GraphModel, Node, Position
from visionstudio.core.layers import LAYERS
from visionstudio.core.layers.block_ports import BLOCK_INPUT, BLOCK_OUTPUT

NAMES_SHOWN = 4


def _names(graph: GraphModel, ids: list[str]) -> str:
    names = [graph.nodes[n].name for n in ids]
    if len(names) > NAMES_SHOWN:
        return ", ".join(names[:NAMES_SHOWN]) + f" and {len(names) - NAMES_SHOWN} more"
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass
class Cut:
    """A selection as seen from its graph."""

    ids: list[str]             # the selected layers, in document order
    sources: list[str]         # distinct outside layers feeding it: the block's ports, in order
    internal: list[Edge]       # edges inside, in edge-list order
    entering: list[Edge]
    leaving: list[Edge]
    output: str                # the one selected layer whose value leaves (or its one end)


def cut_selection(graph: GraphModel, node_ids: list[str]) -> Cut:
    """Where ``node_ids`` meet the rest of the graph; CommandError when they cannot
    become one block (nothing selected, an Input or a port among them, more than one
    value leaving, or a layer outside that leads out of the selection and back in)."""
    chosen = set(node_ids)
    if not chosen:
        raise CommandError("select the layers to group into a block first")
    if not chosen <= graph.nodes.keys():
        raise CommandError("some of the selected layers no longer exist")
    ids = [nid for nid in graph.nodes if nid in chosen]
    for nid in ids:
        node = graph.nodes[nid]
        spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
        if spec is None:
            raise CommandError(f"{node.name} is of an unknown kind and cannot go into a block")
        if spec.is_source or node.kind == BLOCK_OUTPUT:
            raise CommandError(f"a block cannot hold {node.name} (a {spec.title}); "
                               "leave it out of the selection")
    internal, entering, leaving = [], [], []
    for e in graph.edges:
        inside_src, inside_dst = e.src in chosen, e.dst in chosen
        if inside_src and inside_dst:
            internal.append(e)
        elif inside_dst:
            entering.append(e)
        elif inside_src:
            leaving.append(e)
    sending = {e.src for e in leaving}
    outs = [nid for nid in ids if nid in sending]
    if not outs:
        fed_inside = {e.src for e in internal}
        outs = [nid for nid in ids if nid not in fed_inside]
    if len(outs) != 1:
        raise CommandError(f"a block has one output, but the selection sends out {_names(graph, outs)}; "
                           "select layers whose result leaves through one layer")
    if not entering:
        raise CommandError("a block needs an input: select layers that receive a connection "
                           "from a layer outside the selection")
    _check_no_detour(graph, chosen, leaving, entering)
    order, _ = graph.topological_order()
    rank = {nid: i for i, nid in enumerate(order)}
    sources = sorted(dict.fromkeys(e.src for e in entering), key=lambda n: rank.get(n, len(rank)))
    return Cut(ids, sources, internal, entering, leaving, outs[0])


def _check_no_detour(graph: GraphModel, chosen: set[str], leaving: list[Edge], entering: list[Edge]) -> None:
    """A layer outside both fed by the selection and feeding it would make the block feed itself."""
    if not leaving or not entering:
        return
    after: set[str] = set()
    for e in leaving:
        if e.dst not in after:
            after |= graph.reachable_from(e.dst)
    detour = [e.src for e in entering if e.src in after]
    if detour:
        raise CommandError(f"{_names(graph, list(dict.fromkeys(detour)))} lies between selected layers; "
                           "select it too, or group fewer layers")


def centre(positions: list[Position]) -> Position:
    if not positions:
        return (0.0, 0.0)
    return (sum(p[0] for p in positions) / len(positions), sum(p[1] for p in positions) / len(positions))


def definition_graph(graph: GraphModel, cut: Cut, port_ids: list[str], output_port: str) -> GraphModel:
    """The inner graph: the selected layers (same ids, names, params and positions),
    one block input per source and the block output after the cut's output."""
    inner = GraphModel()
    for nid in cut.ids:
        node = graph.nodes[nid]
        inner.nodes[nid] = Node(nid, node.kind, node.name, copy.deepcopy(node.params))
        if nid in graph.positions:
            inner.positions[nid] = graph.positions[nid]
    taken = {n.name for n in inner.nodes.values()}
    port_of: dict[str, str] = {}
    for index, (src, pid) in enumerate(zip(cut.sources, port_ids)):
        name = inner.unique_name("block_in", taken)
        taken.add(name)
        inner.nodes[pid] = Node(pid, BLOCK_INPUT, name, {"index": index})
        port_of[src] = pid
    name = "block_out" if "block_out" not in taken else inner.unique_name("block_out", taken)
    inner.nodes[output_port] = Node(output_port, BLOCK_OUTPUT, name, {})
    edges = list(cut.internal) + [Edge(port_of[e.src], e.dst, e.port) for e in cut.entering]
    edges.append(Edge(cut.output, output_port, 0))
    inner.edges = edges
    _place_ports(inner, cut, port_ids, output_port)
    return inner


def _place_ports(inner: GraphModel, cut: Cut, port_ids: list[str], output_port: str) -> None:
    """Block inputs a row above the layers they feed, the output a row below its layer."""
    known = [inner.positions[n] for n in cut.ids if n in inner.positions]
    top = min((p[1] for p in known), default=0.0) - ROW_SPACING
    mid = centre(known)
    for i, pid in enumerate(port_ids):
        consumers = [inner.positions[e.dst] for e in inner.outputs_of(pid) if e.dst in inner.positions]
        x = centre(consumers)[0] if consumers else mid[0]
        inner.positions[pid] = (x + (i - (len(port_ids) - 1) / 2) * COLUMN_SPACING * (not consumers), top)
    last = inner.positions.get(cut.output, (mid[0], top))
    inner.positions[output_port] = (last[0], last[1] + ROW_SPACING)


def inline_layout(graph: GraphModel, definition: BlockDefinition, around: Position,
                  ignore: set[str]) -> dict[str, Position]:
    """Inner layer id -> where it lands when its block at ``around`` is ungrouped: the
    definition's layout centred there, moved right a column at a time until it covers
    no other layer (those in ``ignore`` aside)."""
    layers = [nid for nid, n in definition.graph.nodes.items() if n.kind not in (BLOCK_INPUT, BLOCK_OUTPUT)]
    own = definition.graph.positions
    mid = centre([own[n] for n in layers if n in own])
    relative = {}
    for i, nid in enumerate(layers):
        p = own.get(nid, (mid[0], mid[1] + i * ROW_SPACING))
        relative[nid] = (p[0] - mid[0], p[1] - mid[1])
    busy = Occupancy(p for nid, p in graph.positions.items() if nid not in ignore)
    dx = 0.0
    for _ in range(200):
        if not any(busy.hits((around[0] + dx + rx, around[1] + ry)) for rx, ry in relative.values()):
            break
        dx += COLUMN_SPACING
    return {nid: (around[0] + dx + rx, around[1] + ry) for nid, (rx, ry) in relative.items()}


def source_shapes(graph: GraphModel, sources: list[str]) -> list[tuple[int, ...]] | None:
    """The shapes entering the selection (the definition's preview), when all are known."""
    if graph is not graph.blocks.owner:
        return None  # inside a definition: its editor's analysis knows them, not this graph alone
    analysis = analyze(graph)
    shapes = [analysis.nodes[s].output_shape for s in sources if s in analysis.nodes]
    return shapes if len(shapes) == len(sources) and None not in shapes else None


def inlined_edges(graph: GraphModel, definition: BlockDefinition, instance_id: str,
                   ids: dict[str, str]) -> list[Edge]:
    """The definition's edges with its ports replaced by what the instance was connected to."""
    inner = definition.graph
    feeding = [e.src for e in graph.inputs_of(instance_id)]
    port_source = dict(zip(definition.input_ids(), feeding))
    output = definition.output_id()
    edges: list[Edge] = []
    last = None
    for e in inner.edges:
        if e.dst == output:
            last = ids.get(e.src, port_source.get(e.src))
            continue
        src = ids.get(e.src, port_source.get(e.src))
        if src is not None and e.dst in ids:
            edges.append(Edge(src, ids[e.dst], e.port))
    if last is not None:
        edges += [Edge(last, e.dst, e.port) for e in graph.outputs_of(instance_id)]
    return list(dict.fromkeys(edges))
