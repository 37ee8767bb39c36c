"""What the analysis needs to know about block instances, kept out of the analysis
module: the checks on a definition that do not depend on the instance (cycles, nesting
depth, port count), the instance's exposed values validated, and the per-library memo
that makes re-analysing a graph of many instances cheap.

The memo lives on the library and is emptied whenever the library's stamp moves (any
edit of any definition), so it can never answer for a definition that has changed
since; between edits of the top-level graph only, every lookup hits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from visionstudio.core.graph.blocks import BlockDefinition, BlockLibrary
from visionstudio.core.layers.block_ports import (
    BLOCK_INPUT,
    BLOCK_INPUT_SPEC,
    BLOCK_OUTPUT,
    BLOCK_OUTPUT_SPEC,
)
from visionstudio.core.params import validate_all

if TYPE_CHECKING:
    from visionstudio.core.graph.analysis import GraphAnalysis, NodeInfo, _Findings
    from visionstudio.core.graph.model import Node
    from visionstudio.core.layers import LayerSpec

# Blocks inside blocks inside blocks...: deeper than this is refused (files) or
# reported (analysis), so no chain can exhaust the interpreter's stack.
MAX_BLOCK_DEPTH = 32
MEMO_MAX = 4096

UNKNOWN_BLOCK = ("the block's definition is missing from the project: import its .vsblock file again, "
                 "or delete this instance")
BLOCK_CYCLE = "a block cannot contain itself: open the definition and delete the instance that leads back"
TOO_DEEP = (f"blocks can be nested at most {MAX_BLOCK_DEPTH} deep: ungroup one of the inner blocks")
PORTS = "connect one layer to each of the block's inputs (a block's inputs are its Block input layers)"
INSIDE_ONLY = ("block inputs and outputs belong inside a block: delete this layer, "
               "or group layers into a block")
NO_INPUT_INSIDE = "a block receives its inputs through Block input layers: replace the Input with one"
NO_BLOCK_OUTPUT = "add a Block output and connect the block's last layer to it"
SEVERAL_BLOCK_OUTPUTS = "keep one Block output: a block has exactly one output"
NOT_TO_OUTPUT = "connect this layer onward so that it leads to the Block output, or delete it"
PORT_NUMBERS = "number the block inputs 0, 1, 2...: each port once, without gaps"
INPUT_UNUSED = "connect the block input to a layer, or delete it (the block then has one input less)"


def memo(library: BlockLibrary) -> dict[Any, Any]:
    """The library's memo for its current stamp (emptied when the stamp has moved)."""
    cache = library.analysis_cache
    if library.analysis_cache_stamp != library.stamp or len(cache) >= MEMO_MAX:
        cache.clear()
        library.analysis_cache_stamp = library.stamp
    return cache


def nesting_depth(library: BlockLibrary, key: str) -> int:
    """How many levels of blocks ``key`` holds (1: no blocks inside), ignoring cycles
    and unknown keys (reported on their own); iterative, so a 1,000-deep chain is fine."""
    cache = memo(library)
    depths: dict[str, int] = cache.setdefault("depth", {})
    if key in depths:
        return depths[key]
    stack = [key]
    visiting: set[str] = set()
    while stack:
        current = stack[-1]
        if current in depths:
            stack.pop()
            continue
        children = [c for c in library.direct_uses(current) if c in library and c not in visiting]
        pending = [c for c in children if c not in depths]
        if pending and current not in visiting:
            visiting.add(current)
            stack.extend(pending)
            continue
        depths[current] = 1 + max((depths.get(c, 0) for c in children), default=0)
        visiting.discard(current)
        stack.pop()
    return depths[key]


def on_cycle(library: BlockLibrary, key: str) -> list[str] | None:
    """A chain of keys from ``key`` back to itself when it uses itself, else None."""
    if key not in library.dependencies(key):
        return None
    path, seen = [key], {key}
    while True:  # follow a child that leads back (one always exists on a cycle)
        for child in library.direct_uses(path[-1]):
            if child == key:
                return path + [key]
            if child not in seen and key in library.dependencies(child):
                path.append(child)
                seen.add(child)
                break
        else:
            return path + [key]


def definition_problem(library: BlockLibrary, key: str) -> tuple[str, str] | None:
    """(message, hint) when no instance of ``key`` can work, whatever its inputs."""
    cache = memo(library).setdefault("problem", {})
    if key in cache:
        return cache[key]
    problem = None
    cycle = on_cycle(library, key)
    if cycle is not None:
        problem = (f"block {key} contains itself ({' → '.join(cycle)})", BLOCK_CYCLE)
    elif nesting_depth(library, key) > MAX_BLOCK_DEPTH:
        problem = (f"block {key} nests blocks {nesting_depth(library, key)} deep; at most "
                   f"{MAX_BLOCK_DEPTH} are supported", TOO_DEEP)
    cache[key] = problem
    return problem


def instance_values(definition: BlockDefinition, library: BlockLibrary,
                    params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An instance's exposed values validated (defaults filled in) and the problems;
    the ``block`` key itself is kept as it is."""
    specs = memo(library).setdefault("specs", {})
    schema = specs.get(definition.key)
    if schema is None:
        schema = specs[definition.key] = definition.param_specs()
    values = {k: v for k, v in params.items() if k != "block"}
    clean, issues = validate_all(schema, values)
    clean["block"] = definition.key
    return clean, issues


def cache_key(key: str, shapes: list[Any], values: Mapping[str, Any]) -> Any:
    """The memo key of one instance configuration, or None when a value cannot be
    printed (such an instance is analysed every time)."""
    try:
        exposed = sorted((k, v) for k, v in values.items() if k != "block")
        return ("analysis", key, tuple(shapes), repr(exposed))
    except Exception:  # noqa: BLE001 - an int too long to print: skip the memo
        return None


# -- the analysis' steps for blocks (core.graph.analysis calls these) ----------------
def _index(found: _Findings, nid: str) -> int:
    index = found.infos[nid].clean_params.get("index", 0)
    return index if isinstance(index, int) else 0


def ports(found: _Findings, specs: dict[str, LayerSpec | None]) -> list[str]:
    """The graph's inputs: its Input layers on a network, its block inputs in a
    definition; a port kind on the wrong side is a problem."""
    graph, inside = found.graph, found.scope is not None
    present = {id(spec) for spec in specs.values()}  # a set of ids: no per-layer Python work
    if not inside and id(BLOCK_INPUT_SPEC) not in present and id(BLOCK_OUTPUT_SPEC) not in present:
        return [nid for nid, spec in specs.items() if spec is not None and spec.is_source]
    inputs = []
    for nid, spec in specs.items():
        if spec is None:
            continue
        kind = spec.key
        if kind in (BLOCK_INPUT, BLOCK_OUTPUT) and not inside:
            found.problem(graph.nodes[nid], f"a {spec.title} only works inside a block", INSIDE_ONLY)
        elif spec.is_source and kind != BLOCK_INPUT and inside:
            found.problem(graph.nodes[nid], f"a block cannot hold an {spec.title}", NO_INPUT_INSIDE)
        elif spec.is_source and (kind == BLOCK_INPUT) == inside:
            inputs.append(nid)
    if inside:
        ranked = sorted(enumerate(inputs), key=lambda r: (_index(found, r[1]), r[0]))
        indices = [_index(found, nid) for _, nid in ranked]
        if indices != list(range(len(inputs))):
            for nid in inputs:
                found.problem(graph.nodes[nid], f"the block's inputs are numbered {indices}, not "
                              f"0 to {len(inputs) - 1}", PORT_NUMBERS)
        seeds = found.scope.seeds
        found.seeds = {nid: seeds[i] if i < len(seeds) else None for i, (_, nid) in enumerate(ranked)}
    return inputs


def check_instance(found: _Findings, node: Node) -> None:
    """An instance names a known definition that can work, with valid exposed values."""
    library = found.graph.blocks
    params = found.params_of(node.id)
    key = params.get("block")
    definition = library.find(key)
    if definition is None:
        found.problem(node, f"the project has no block {key!r}" if key else "names no block",
                      UNKNOWN_BLOCK)
        return
    problem = definition_problem(library, definition.key)
    if problem is not None:
        found.problem(node, *problem)
        return
    clean, issues = instance_values(definition, library, params)
    found.infos[node.id].clean_params = clean
    for msg in issues:
        found.problem(node, msg, "set it in the inspector, within the range its tooltip gives")


def infer_instance(found: _Findings, node: Node, info: NodeInfo,
                   analyze_block: Callable[..., GraphAnalysis]) -> None:
    """An instance's shape, parameters and FLOPs are its definition's, analysed with
    its inputs; the first problem inside becomes the instance's."""
    library = found.graph.blocks
    key = info.clean_params["block"]
    definition = library.get(key)
    ports = len(definition.input_ids())
    if len(info.input_shapes) != ports:
        found.problem(node, f"block {key} takes {ports} input{'s' if ports != 1 else ''} but "
                      f"{len(info.input_shapes)} {'are' if len(info.input_shapes) != 1 else 'is'} connected",
                      PORTS)
        return
    inner = info.inner = analyze_block(library, key, info.input_shapes, info.clean_params)
    errors = inner.errors
    if errors:
        more = len(errors) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''} inside)" if more else ""
        found.problem(node, f"inside {key}, {errors[0].message}{extra}", errors[0].hint)
        return
    info.output_shape = inner.output_shape
    info.params = inner.total_params
    info.flops = inner.total_flops




def check_block_output(found: _Findings, order: list[str], specs: dict[str, LayerSpec | None],
                        inputs: list[str], succ: dict[str, list[str]]) -> str | None:
    """A definition's one Block output (or None); every other dead end is a problem,
    an unused block input a warning."""
    nodes = found.graph.nodes
    outs = [nid for nid, spec in specs.items() if spec is not None and spec.key == BLOCK_OUTPUT]
    if not outs:
        found.general("the block has no Block output", NO_BLOCK_OUTPUT)
    elif len(outs) > 1:
        names = ", ".join(nodes[n].name for n in outs[:8]) + (" ..." if len(outs) > 8 else "")
        for nid in outs:
            found.problem(nodes[nid], f"one of several block outputs ({names})", SEVERAL_BLOCK_OUTPUTS)
    fed = {dst for dsts in succ.values() for dst in dsts}
    for nid in order:
        spec = specs.get(nid)
        if (spec is not None and not succ.get(nid) and nid in fed and not spec.is_source
                and spec.key != BLOCK_OUTPUT):
            found.problem(nodes[nid], "does not lead to the block output", NOT_TO_OUTPUT)
    for nid in inputs:
        if not succ.get(nid):
            found.problem(nodes[nid], "is not connected to any layer", INPUT_UNUSED, "warning")
    return outs[0] if len(outs) == 1 else None
