"""Reading and writing block definitions as project data (the ``graph.blocks`` section
of a project, the ``block`` and ``dependencies`` of a .vsblock file).

Before any definition is read, the keys each one uses are collected from the raw data
and ordered deepest first, so a definition that includes itself (directly or through
others) or a chain of blocks nested deeper than MAX_BLOCK_DEPTH is refused with the
JSON path of the instance that closes it, without ever recursing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from visionstudio.core.blocks.instances import MAX_BLOCK_DEPTH
from visionstudio.core.graph import GraphModel
from visionstudio.core.graph.blocks import BlockDefinition, BlockLibrary, ExposedParam, key_problem
from visionstudio.core.layers.block_ports import BLOCK
from visionstudio.core.project.errors import json_path
from visionstudio.core.project.graph_reader import Budget, expect, fail, read_graph_parts

FIELDS = ("title", "description", "version", "nodes", "edges", "layout", "exposed", "input_shapes")
MAX_DEFINITIONS = 2_000
MAX_EXPOSED = 256
MAX_TEXT = 10_000
MAX_PORTS = 64
MAX_DIM = 1_000_000

Entry = tuple[str, Any, str]  # (key, definition data, its JSON path)


def definitions_to_dict(library: BlockLibrary) -> dict[str, Any]:
    """``graph.blocks`` of a project file: key -> definition without its key."""
    out = {}
    for key in library.keys():
        data = library.get(key).to_dict()
        del data["key"]
        out[key] = data
    return out


def read_blocks_section(data: Any, where: str, library: BlockLibrary, budget: Budget) -> None:
    """Read ``graph.blocks`` (an object key -> definition) into ``library``."""
    expect(data, dict, where, "an object (block key -> definition)")
    if len(data) > MAX_DEFINITIONS:
        raise fail(where, f"has {len(data):,} blocks; at most {MAX_DEFINITIONS:,} are supported")
    read_definitions([(key, entry, json_path(where, key)) for key, entry in data.items()], library, budget)


def read_definitions(entries: list[Entry], library: BlockLibrary, budget: Budget,
                     allowed: Iterable[str] = FIELDS) -> None:
    """Check and add each definition to ``library``, the ones used first."""
    allowed = tuple(allowed)
    by_key: dict[str, Entry] = {}
    for key, entry, path in entries:
        problem = key_problem(key)
        if problem:
            raise fail(path, problem)
        if key in by_key or key in library:
            raise fail(path, f"a second block is called {key}")
        expect(entry, dict, path, "an object")
        for field in entry:
            if field not in allowed:
                raise fail(json_path(path, field), "unknown field")
        by_key[key] = (key, entry, path)
    uses = {key: _uses(entry, path, by_key, library) for key, (_, entry, path) in by_key.items()}
    for key in _deepest_first(uses, by_key):
        library.add(_read_definition(*by_key[key], library, budget))


def _uses(entry: dict[str, Any], path: str, by_key: dict[str, Entry], library: BlockLibrary
          ) -> list[tuple[str, str]]:
    """(used key, JSON path of the instance) for the block instances among the raw nodes."""
    nodes = entry.get("nodes", [])
    if not isinstance(nodes, list):
        return []  # reported with its path when the definition is read
    found = []
    for i, node in enumerate(nodes):
        params = node.get("params") if isinstance(node, dict) and node.get("kind") == BLOCK else None
        if not isinstance(params, dict):
            continue
        key = params.get("block")
        if not isinstance(key, str):
            continue
        where = f"{path}.nodes[{i}].params.block"
        if key not in by_key and key not in library:
            raise fail(where, f"no block {key[:80]!r} is defined in this file")
        if key in by_key:
            found.append((key, where))
    return found


def _deepest_first(uses: dict[str, list[tuple[str, str]]], by_key: dict[str, Entry]) -> list[str]:
    """Kahn's order from the leaves; a cycle or a chain too deep raises with its path."""
    waiting = {key: len({k for k, _ in used}) for key, used in uses.items()}
    users: dict[str, list[str]] = {key: [] for key in uses}
    for key, used in uses.items():
        for child in dict.fromkeys(k for k, _ in used):
            users[child].append(key)
    depth = dict.fromkeys(uses, 1)
    ready = [key for key, n in waiting.items() if n == 0]
    order: list[str] = []
    while ready:
        key = ready.pop()
        order.append(key)
        if depth[key] > MAX_BLOCK_DEPTH:
            raise fail(by_key[key][2], f"nests blocks {depth[key]} deep; at most {MAX_BLOCK_DEPTH} "
                       "are supported")
        for parent in users[key]:
            depth[parent] = max(depth[parent], depth[key] + 1)
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    if len(order) < len(uses):
        _raise_cycle(uses, {k for k in uses if waiting[k] > 0})
    return order


def _raise_cycle(uses: dict[str, list[tuple[str, str]]], stuck: set[str]) -> None:
    """Follow stuck keys until one repeats: that loop is the cycle to name."""
    start = min(stuck)
    path, seen = [start], {start: 0}
    where = ""
    while True:
        key, where = next((k, w) for k, w in uses[path[-1]] if k in stuck)
        if key in seen:
            loop = path[seen[key]:] + [key]
            raise fail(where, f"block {loop[0]} contains itself ({' → '.join(loop)}); a block cannot "
                       "include itself, not even through other blocks")
        seen[key] = len(path)
        path.append(key)


def _read_definition(key: str, entry: dict[str, Any], path: str, library: BlockLibrary,
                     budget: Budget) -> BlockDefinition:
    title = _text(entry.get("title", key), f"{path}.title")
    description = _text(entry.get("description", ""), f"{path}.description")
    version = expect(entry.get("version", 1), int, f"{path}.version", "a whole number")
    if not 1 <= version <= 1_000_000:
        raise fail(f"{path}.version", "must be between 1 and 1,000,000")
    graph = GraphModel()
    graph.blocks = library  # instances inside are checked against the blocks read so far
    read_graph_parts(graph, entry.get("nodes", []), entry.get("edges", []), entry.get("layout"), path,
                     f"{path}.layout", budget)
    definition = BlockDefinition(key, title, description, graph, [], version,
                                 _shapes(entry.get("input_shapes"), f"{path}.input_shapes"))
    definition.exposed = _exposed(entry.get("exposed", []), f"{path}.exposed", definition)
    return definition


def _text(value: Any, path: str) -> str:
    expect(value, str, path, "text")
    if len(value) > MAX_TEXT:
        raise fail(path, f"has {len(value):,} characters; at most {MAX_TEXT:,}")
    return value


def _shapes(value: Any, path: str) -> list[tuple[int, ...]] | None:
    if value is None:
        return None
    expect(value, list, path, "a list of shapes, or null")
    if len(value) > MAX_PORTS:
        raise fail(path, f"has {len(value):,} shapes; a block has at most {MAX_PORTS} inputs")
    shapes = []
    for i, shape in enumerate(value):
        expect(shape, list, f"{path}[{i}]", "a list of sizes")
        if not 1 <= len(shape) <= 4:
            raise fail(f"{path}[{i}]", "must have 1 to 4 sizes")
        for j, size in enumerate(shape):
            expect(size, int, f"{path}[{i}][{j}]", "a whole number")
            if not 1 <= size <= MAX_DIM:
                raise fail(f"{path}[{i}][{j}]", f"must be between 1 and {MAX_DIM:,}")
        shapes.append(tuple(shape))
    return shapes


def _exposed(value: Any, path: str, definition: BlockDefinition) -> list[ExposedParam]:
    expect(value, list, path, "a list")
    if len(value) > MAX_EXPOSED:
        raise fail(path, f"has {len(value):,} entries; at most {MAX_EXPOSED}")
    out: list[ExposedParam] = []
    kinds: dict[str, str] = {}  # a name may set several inner parameters of one kind
    targets: set[tuple[str, str]] = set()
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        expect(item, dict, where, "an object")
        for field in item:
            if field not in ("name", "node", "param", "title"):
                raise fail(json_path(where, field), "unknown field")
        name = expect(item.get("name"), str, f"{where}.name", "text")
        problem = key_problem(name, "a parameter name")
        if problem or name == "block":
            raise fail(f"{where}.name", problem or "'block' names the definition and cannot be a parameter")
        node_id = expect(item.get("node"), str, f"{where}.node", "a layer id")
        if node_id not in definition.graph.nodes:
            raise fail(f"{where}.node", f"no layer of block {definition.key} has id {node_id[:80]!r}")
        param = expect(item.get("param"), str, f"{where}.param", "a parameter name")
        exposed = ExposedParam(name, node_id, param, _text(item.get("title", ""), f"{where}.title"))
        definition.exposed = [exposed]
        specs = definition.param_specs()
        layer = definition.graph.nodes[node_id].name
        if not specs:
            raise fail(f"{where}.param", f"{layer} has no parameter {param[:80]!r}")
        if (node_id, param) in targets:
            raise fail(where, f"{param} of {layer} is exposed twice")
        if kinds.setdefault(name, specs[0].kind) != specs[0].kind:
            raise fail(f"{where}.name", f"{name} already sets a parameter of another kind")
        targets.add((node_id, param))
        out.append(exposed)
    return out
