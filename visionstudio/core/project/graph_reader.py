"""Reading a graph's nodes, edges and layout from project data, strictly: the first
problem raises a ProjectFormatError naming its JSON path. The same reader serves the
network (``graph``) and each block definition (``graph.blocks.<key>``, or a .vsblock
file's ``block`` and ``dependencies.<key>``), and one :class:`Budget` counts the layers
and connections of all of them against MAX_NODES and MAX_EDGES.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from visionstudio.core.graph import Edge, GraphModel, Node, name_problem
from visionstudio.core.graph.blocks import BlockLibrary
from visionstudio.core.layers import LAYERS
from visionstudio.core.layers.block_ports import BLOCK
from visionstudio.core.params import ConfigError, ParamError, validate_section
from visionstudio.core.project.errors import ProjectFormatError, json_path
from visionstudio.core.registry import UnknownKeyError

MAX_NODES = 10_000
MAX_EDGES = 100_000
MAX_PARAM_LIST = 4096  # values in one list parameter (merge weights: one per input port)


class Budget:
    """Layers and connections still allowed in one file (network and blocks together),
    taken before a list is read, so a file cannot make the reader build more."""

    def __init__(self) -> None:
        self.nodes = MAX_NODES
        self.edges = MAX_EDGES

    def take(self, nodes: int, edges: int, where: str) -> None:
        if nodes > self.nodes:
            raise fail(f"{where}.nodes", _over(nodes, "layers", self.nodes < MAX_NODES, MAX_NODES))
        if edges > self.edges:
            raise fail(f"{where}.edges", _over(edges, "connections", self.edges < MAX_EDGES, MAX_EDGES))
        self.nodes -= nodes
        self.edges -= edges


def fail(path: str, problem: str) -> ProjectFormatError:
    return ProjectFormatError(problem, path=path)


def expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise fail(path, f"must be {what}, not a boolean")
    if not isinstance(value, kind):
        raise fail(path, f"must be {what}, not {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def read_node(data: Any, path: str, library: BlockLibrary) -> Node:
    expect(data, dict, path, "an object")
    for key in data:
        if key not in ("id", "kind", "version", "name", "params"):
            raise fail(json_path(path, key), "unknown field")
    node_id = expect(data.get("id"), str, f"{path}.id", "text")
    if not node_id or len(node_id) > 64:
        raise fail(f"{path}.id", "must be 1 to 64 characters")
    kind = expect(data.get("kind"), str, f"{path}.kind", "text")
    try:
        spec = LAYERS.get(kind)
    except UnknownKeyError as exc:
        raise fail(f"{path}.kind", str(exc)) from None
    version = data.get("version", spec.version)
    expect(version, int, f"{path}.version", "a whole number")
    if version > spec.version:
        raise fail(f"{path}.version", f"{spec.title} version {version} was written by a newer "
                    f"VisionStudio (this one knows up to version {spec.version})")
    if version < 1:
        raise fail(f"{path}.version", "must be at least 1")
    name = expect(data.get("name"), str, f"{path}.name", "text")
    problem = name_problem(name)
    if problem:
        raise fail(f"{path}.name", problem)
    params = data.get("params", {})
    expect(params, dict, f"{path}.params", "an object")
    for pname, value in params.items():  # before anything walks them: a list of millions
        if isinstance(value, list) and len(value) > MAX_PARAM_LIST:
            raise fail(json_path(f"{path}.params", pname),
                        f"has {len(value):,} values; a parameter holds at most {MAX_PARAM_LIST:,}")
    if spec.key == BLOCK:
        return Node(node_id, BLOCK, name, _instance_params(params, f"{path}.params", library))
    # Validation builds new values, so only a migration (which may edit in place) needs
    # a copy of the caller's data.
    if version < spec.version and spec.migrate is not None:
        params = spec.migrate(version, copy.deepcopy(params))
    try:
        clean = validate_section(spec.params, params, f"{path}.params")
    except ConfigError as exc:
        raise fail(exc.path, exc.problem) from None
    return Node(node_id, spec.key, name, clean)


def read_graph_parts(graph: GraphModel, nodes: Any, edges: Any, layout: Any, where: str, layout_where: str,
                     budget: Budget) -> None:
    """Fill ``graph`` (its library already holds the blocks it may use) from the
    ``nodes``/``edges`` lists at JSON path ``where`` and the layout at ``layout_where``."""
    nodes = expect(nodes, list, f"{where}.nodes", "a list")
    edges = expect(edges, list, f"{where}.edges", "a list")
    budget.take(len(nodes), len(edges), where)
    names: set[str] = set()
    for i, nd in enumerate(nodes):
        node = read_node(nd, f"{where}.nodes[{i}]", graph.blocks)
        if node.id in graph.nodes:
            raise fail(f"{where}.nodes[{i}].id", f"id {node.id!r} is used twice")
        if node.name in names:
            raise fail(f"{where}.nodes[{i}].name", f"name {node.name!r} is used twice")
        names.add(node.name)
        graph.nodes[node.id] = node
    _read_edges(graph, edges, where)
    _read_layout(graph, layout, layout_where)


_EDGE_FIELDS = frozenset(("src", "dst", "port"))


def _read_edges(graph: GraphModel, edges: list[Any], where: str) -> None:
    """Edges in document order; cycles are looked for once at the end, so a large (or
    hostile) file cannot make loading quadratic.

    A valid list is checked column-wise at C speed (:func:`_valid_edges`); only a list
    that fails goes through the edge-by-edge reading, which names the first problem in
    file order with its JSON path. 100,000 edges load in a fraction of a second."""
    max_inputs = {nid: LAYERS.get(node.kind).max_inputs for nid, node in graph.nodes.items()}
    columns = _valid_edges(edges, max_inputs)
    if columns is None:  # raises naming the first bad edge (or reads odd but valid types)
        columns = _read_edges_one_by_one(graph, edges, max_inputs, where)
    graph.edges = list(map(Edge, *columns))
    _check_acyclic(graph, where)


def _valid_edges(edges: list[Any], max_inputs: dict[str, int | None]
                 ) -> tuple[list[str], list[str], list[int]] | None:
    """(sources, destinations, ports) when every edge passes every check, else None.
    Each test is a comprehension or a set built in C: whole columns at a time."""
    if not all(type(ed) is dict and ed.keys() <= _EDGE_FIELDS for ed in edges):
        return None
    srcs = [ed.get("src") for ed in edges]
    dsts = [ed.get("dst") for ed in edges]
    ports = [ed.get("port", 0) for ed in edges]
    if not (all(type(v) is str for v in srcs) and all(type(v) is str for v in dsts)
            and all(type(v) is int for v in ports)):
        return None
    if not (max_inputs.keys() >= set(srcs) and max_inputs.keys() >= set(dsts)):
        return None
    if ports and (min(ports) < 0 or max(ports) >= 1024):
        return None
    if any(map(str.__eq__, srcs, dsts)):
        return None
    n = len(edges)
    if len(set(zip(srcs, dsts))) != n or len(set(zip(dsts, ports))) != n:
        return None
    limits = [max_inputs[d] for d in dsts]
    if 0 in limits:
        return None
    single = [(d, p) for d, p, lim in zip(dsts, ports, limits) if lim == 1]
    if any(p != 0 for _, p in single) or len({d for d, _ in single}) != len(single):
        return None
    return srcs, dsts, ports


def _read_edges_one_by_one(graph: GraphModel, edges: list[Any], max_inputs: dict[str, int | None],
                           where: str) -> tuple[list[str], list[str], list[int]]:
    """Every check, edge by edge in file order: the first failure raises with its path."""
    srcs: list[str] = []
    dsts: list[str] = []
    read_ports: list[int] = []
    pairs: set[tuple[str, str]] = set()
    ports: set[tuple[str, int]] = set()
    fan_in: dict[str, str] = {}  # dst -> first src, for single-input layers
    for i, ed in enumerate(edges):
        expect(ed, dict, f"{where}.edges[{i}]", "an object")
        for key in ed:
            if key not in _EDGE_FIELDS:
                raise fail(json_path(f"{where}.edges[{i}]", key), "unknown field")
        src = expect(ed.get("src"), str, f"{where}.edges[{i}].src", "a layer id")
        dst = expect(ed.get("dst"), str, f"{where}.edges[{i}].dst", "a layer id")
        port = expect(ed.get("port", 0), int, f"{where}.edges[{i}].port", "a whole number")
        for end, nid in (("src", src), ("dst", dst)):
            if nid not in max_inputs:
                raise fail(f"{where}.edges[{i}].{end}", f"no layer has id {nid[:80]!r}")
        if not 0 <= port < 1024:
            raise fail(f"{where}.edges[{i}].port", "must be between 0 and 1023")
        limit = max_inputs[dst]
        pair, slot = (src, dst), (dst, port)
        if src == dst or limit == 0 or pair in pairs or slot in ports \
                or (limit == 1 and (port != 0 or dst in fan_in)):
            _edge_problem(graph, f"{where}.edges[{i}]", src, dst, port, pairs, fan_in)
        if limit == 1:
            fan_in[dst] = src
        pairs.add(pair)
        ports.add(slot)
        srcs.append(src)
        dsts.append(dst)
        read_ports.append(port)
    return srcs, dsts, read_ports


def _edge_problem(graph: GraphModel, path: str, src: str, dst: str, port: int,
                  pairs: set[tuple[str, str]], fan_in: dict[str, str]) -> None:
    """Raise the error for the edge at ``path``, which one of the quick tests found wrong."""
    a, b = graph.nodes[src], graph.nodes[dst]
    spec = LAYERS.get(b.kind)
    if src == dst:
        raise fail(path, f"{a.name} cannot feed itself")
    if spec.max_inputs == 0:
        raise fail(f"{path}.dst", f"{b.name} is an Input and takes no inputs")
    if (src, dst) in pairs:
        raise fail(path, f"{a.name} is already connected to {b.name}")
    if spec.max_inputs == 1:
        if port != 0:
            raise fail(f"{path}.port", f"{spec.title} has only input port 0")
        if dst in fan_in:
            raise fail(path, f"{b.name} already has its input from {graph.nodes[fan_in[dst]].name}; "
                        f"a {spec.title} takes one input — use Add or Concat to merge branches")
    raise fail(f"{path}.port", f"input {port} of {b.name} is already connected")


def _check_acyclic(graph: GraphModel, where: str) -> None:
    """Kahn's algorithm; on a cycle, name the last edge (in file order) on one: the one
    that closes it as the file reads. An edge lies on a cycle exactly when both its ends
    are in one strongly connected part, so finding it is linear too (a search per edge
    was quadratic on a file with a long chain behind a small cycle)."""
    _, stuck = graph.topological_order()
    if not stuck:
        return
    component = graph.components(stuck)
    edges = graph.edges
    for i in range(len(edges) - 1, -1, -1):
        e = edges[i]
        if e.src in stuck and component.get(e.dst) == component[e.src]:
            a, b = graph.nodes[e.src].name, graph.nodes[e.dst].name
            raise fail(f"{where}.edges[{i}]", f"connecting {a} to {b} creates a cycle; "
                        "a network must flow one way")
    raise fail(f"{where}.edges", "the connections form a cycle")  # pragma: no cover


def _read_layout(graph: GraphModel, layout: Any, where: str) -> None:
    if layout is None:
        return
    expect(layout, dict, where, "an object")
    for key in layout:
        if key != "positions":
            raise fail(json_path(where, key), "unknown field")
    positions = expect(layout.get("positions", {}), dict, f"{where}.positions", "an object")
    for nid, pos in positions.items():
        path = json_path(f"{where}.positions", nid)
        if nid not in graph.nodes:
            raise fail(path, "no layer has this id")
        expect(pos, list, path, "a list [x, y]")
        if len(pos) != 2:
            raise fail(path, "must be a list [x, y]")
        for v in pos:
            expect(v, (int, float), path, "numbers")
            # abs() first: math.isfinite() overflows on huge integers (10**400).
            if abs(v) > 1e7 or not math.isfinite(v):
                raise fail(path, "coordinates must be finite and within ±10,000,000")
        graph.positions[nid] = (float(pos[0]), float(pos[1]))


def _over(count: int, what: str, blocks_before: bool, limit: int) -> str:
    if blocks_before:
        return (f"has {count:,} {what}; with those of the blocks before it that is more than the "
                f"{limit:,} a project supports (blocks included)")
    return f"has {count:,} {what}; at most {limit:,} are supported"


def _instance_params(params: dict[str, Any], path: str, library: BlockLibrary) -> dict[str, Any]:
    """A block instance's params: the key of a definition read before it, and values
    for some of its exposed parameters (the others follow the definition)."""
    key = params.get("block")
    if not isinstance(key, str):
        raise fail(f"{path}.block", "must be the key of a block of this project")
    definition = library.find(key)
    if definition is None:
        raise fail(f"{path}.block", f"no block {key[:80]!r} is defined in this project")
    specs = {spec.name: spec for spec in definition.param_specs()}
    clean: dict[str, Any] = {"block": key}
    for name, value in params.items():
        if name == "block":
            continue
        spec = specs.get(name)
        if spec is None:
            raise fail(json_path(path, name), f"block {key} has no parameter of this name")
        try:
            clean[name] = spec.validate(copy.deepcopy(value))
        except ParamError as exc:
            raise fail(json_path(path, name), str(exc)) from None
    return clean
