"""Validation and shape inference, re-run on every semantic edit.

The result says, per node, its output shape, parameter count, FLOPs and the problems
found — each phrased for the user with the node's name, with a hint saying what to
change (core.graph.diagnostics). It never raises for a bad graph: every failure is a
diagnostic, so the canvas can always draw something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.blocks import instances as blocks
from visionstudio.core.blocks.specs import inner_params
from visionstudio.core.gcpause import gc_paused
from visionstudio.core.graph import diagnostics as hints
from visionstudio.core.graph.blocks import BlockLibrary
from visionstudio.core.graph.model import GraphModel, Node
from visionstudio.core.layers import LAYERS, LayerSpec, Shape, ShapeError, fmt_shape
from visionstudio.core.layers.block_ports import BLOCK_INPUT, BLOCK_INPUT_SPEC, BLOCK_OUTPUT, BLOCK_SPEC
from visionstudio.core.params import validate_all

PORT_KINDS = (BLOCK_INPUT, BLOCK_OUTPUT)


@dataclass(frozen=True)
class Diagnostic:
    message: str
    node_id: str | None = None
    severity: str = "error"  # "error" blocks building; "warning" does not
    hint: str = ""           # what to change, in the user's words; every problem has one

    def __str__(self) -> str:
        return self.message


@dataclass
class NodeInfo:
    output_shape: Shape | None = None
    input_shapes: list[Shape] = field(default_factory=list)
    params: int = 0
    flops: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    clean_params: dict[str, Any] = field(default_factory=dict)
    # A block instance's: the analysis of its definition with this instance's input
    # shapes and exposed values, keyed by inner node ids (shared by every instance of
    # the same configuration: read it, never change it).
    inner: GraphAnalysis | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


@dataclass
class GraphAnalysis:
    nodes: dict[str, NodeInfo]
    order: list[str]            # a topological order of the acyclic part
    diagnostics: list[Diagnostic]  # all of them, node ones included
    input_id: str | None
    output_id: str | None
    # In a definition's analysis: its block input and output layers, which stand for
    # values outside it (memory estimates skip them: the tensors are counted there).
    ports: tuple[str, ...] = ()
    # Every output the model returns, in the order it returns them: the head layers
    # sorted by name, or the one plain output (``output_id`` is the first).
    output_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.nodes.values())

    @property
    def total_flops(self) -> int:
        return sum(info.flops for info in self.nodes.values())

    @property
    def output_shape(self) -> Shape | None:
        return self.nodes[self.output_id].output_shape if self.output_id else None

    @property
    def input_shape(self) -> Shape | None:
        return self.nodes[self.input_id].output_shape if self.input_id else None


NAMES_LISTED = 8


def _names(names: list[str]) -> str:
    """A list of layer names for a message, at most NAMES_LISTED of them: every node of
    a 10,000-Input file gets this message, and it must not hold 10,000 names each."""
    if len(names) <= NAMES_LISTED:
        return ", ".join(names)
    return ", ".join(names[:NAMES_LISTED]) + f" and {len(names) - NAMES_LISTED:,} more"


# Parameter validation is most of the cost of a pass, and between two edits almost
# every node's values are the same: remember the outcome per (kind, values).
_VALIDATED: dict[tuple[int, str, str], tuple[dict[str, Any], tuple[str, ...], bool]] = {}
_VALIDATED_MAX = 4096


def _validated(spec: LayerSpec, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    try:
        key = (id(spec), spec.key, repr(params))
    except Exception:  # noqa: BLE001 - a value that cannot be printed (an int too long) skips the cache
        clean, issues = validate_all(spec.params, params)
        return clean, issues
    hit = _VALIDATED.get(key)
    if hit is None:
        clean, issues = validate_all(spec.params, params)
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        has_lists = any(isinstance(v, list) for v in clean.values())
        hit = _VALIDATED[key] = (clean, tuple(issues), has_lists)
    clean, issues, has_lists = hit
    # callers own their copy (lists inside too)
    if has_lists:
        return {k: list(v) if isinstance(v, list) else v for k, v in clean.items()}, list(issues)
    return dict(clean), list(issues)


def analyze(graph: GraphModel, *, single_output: bool = True) -> GraphAnalysis:
    with gc_paused():  # a NodeInfo and its lists per layer: collections would rescan them all
        return _analyze(graph, single_output, None)


@dataclass(frozen=True)
class _Scope:
    """A definition being analysed: its key, the shapes its ports receive (None: not
    known, as in the definition editor without a preview) and its inner params with
    the instance's exposed values applied."""

    key: str
    seeds: list[Shape | None]
    params: dict[str, dict[str, Any]]


def analyze_block(library: BlockLibrary, key: str, input_shapes: list[Shape] | None,
                  values: Mapping[str, Any] | None = None) -> GraphAnalysis:
    """The analysis of definition ``key`` as an instance with these input shapes and
    exposed values sees it, from the library's memo when it has one."""
    values = dict(values or {})
    memo_key = blocks.cache_key(key, list(input_shapes or ()), values) if input_shapes is not None else None
    memo = blocks.memo(library)
    if memo_key is not None and memo_key in memo:
        return memo[memo_key]
    definition = library.get(key)
    ports = definition.input_ids()
    shapes = list(input_shapes or ())
    seeds = [shapes[i] if i < len(shapes) else None for i in range(len(ports))]
    scope = _Scope(key, seeds, inner_params(definition, values))
    with gc_paused():
        result = _analyze(definition.graph, True, scope)
    if memo_key is not None:
        memo[memo_key] = result
    return result


class _Findings:
    """The diagnostics of one pass: each node's own, and all of them in report order."""

    def __init__(self, graph: GraphModel, scope: _Scope | None) -> None:
        self.graph = graph
        self.scope = scope
        self.infos: dict[str, NodeInfo] = {nid: NodeInfo() for nid in graph.nodes}
        self.diags: list[Diagnostic] = []
        self.seeds: dict[str, Shape | None] = {}  # block input id -> the shape it stands for

    def params_of(self, nid: str) -> dict[str, Any]:
        scope = self.scope
        if scope is not None and nid in scope.params:
            return scope.params[nid]
        return self.graph.nodes[nid].params

    def problem(self, node: Node, message: str, hint: str, severity: str = "error") -> None:
        d = Diagnostic(f"{node.name}: {message}", node.id, severity, hint)
        self.infos[node.id].diagnostics.append(d)
        self.diags.append(d)

    def general(self, message: str, hint: str) -> None:
        self.diags.append(Diagnostic(message, hint=hint))


def _analyze(graph: GraphModel, single_output: bool, scope: _Scope | None) -> GraphAnalysis:
    found = _Findings(graph, scope)
    dangling = graph.dangling_edges()
    for _ in dangling:
        found.general("a connection points to a layer that does not exist", hints.DANGLING)
    succ = graph.successor_map()  # existing ends only
    order, stuck = graph.topological_order(succ)
    if stuck:
        _report_cycles(found, stuck)
    specs = _check_nodes(found)
    inputs = blocks.ports(found, specs)
    if scope is None:
        _check_inputs(found, inputs)
    _infer_shapes(found, order, specs, skip_dangling=bool(dangling))
    if scope is None:
        output_ids = _check_outputs(found, order, specs, inputs, succ, single_output)
    else:
        _no_heads_inside(found, specs)
        output_id = blocks.check_block_output(found, order, specs, inputs, succ)
        output_ids = (output_id,) if output_id is not None else ()
    ports = tuple(nid for nid, s in specs.items() if s is not None and s.key in PORT_KINDS) if scope else ()
    return GraphAnalysis(found.infos, order, found.diags, inputs[0] if len(inputs) == 1 else None,
                         output_ids[0] if output_ids else None, ports, output_ids)


def _report_cycles(found: _Findings, stuck: set[str]) -> None:
    """Of the stuck layers, name those actually on a cycle (the rest only sit behind
    one): a layer is on one when an edge leads from it into its own strongly connected part."""
    graph = found.graph
    component = graph.components(stuck)
    on_cycle = {nid for nid in stuck
                if any(component.get(nxt) == component[nid] for nxt in graph.successors(nid))} or stuck
    names = _names(sorted(graph.nodes[n].name for n in on_cycle))
    for nid in sorted(on_cycle, key=lambda n: graph.nodes[n].name):
        found.problem(graph.nodes[nid], f"is part of a cycle ({names}); a network must flow one way",
                      hints.CYCLE)


def _check_nodes(found: _Findings) -> dict[str, LayerSpec | None]:
    """Names unique, kinds known, parameters valid; returns each node's spec (None when
    its kind is unknown) and leaves the validated values in its NodeInfo."""
    specs: dict[str, LayerSpec | None] = {}
    by_kind: dict[str, LayerSpec | None] = {}  # a registry look-up per kind, not per layer
    names_seen: dict[str, str] = {}
    inside = found.scope
    for nid, node in found.graph.nodes.items():
        if node.name in names_seen:
            found.problem(node, "another layer has the same name; rename one of them", hints.DUPLICATE_NAME)
        names_seen[node.name] = nid
        kind = node.kind
        if kind not in by_kind:
            by_kind[kind] = LAYERS.get(kind) if kind in LAYERS else None
        spec = specs[nid] = by_kind[kind]
        if spec is None:
            found.problem(node, f"unknown layer kind {kind!r}", hints.UNKNOWN_KIND)
            continue
        if spec is BLOCK_SPEC:
            blocks.check_instance(found, node)
            continue
        clean, issues = _validated(spec, node.params if inside is None else found.params_of(nid))
        found.infos[nid].clean_params = clean
        for msg in issues:
            found.problem(node, msg, hints.param_hint(spec, msg))
    return specs


def _check_inputs(found: _Findings, inputs: list[str]) -> None:
    graph = found.graph
    if not inputs:
        found.general("the network has no Input layer; add one from the palette", hints.NO_INPUT)
    elif len(inputs) > 1:
        names = _names([graph.nodes[n].name for n in inputs])
        for nid in inputs:
            found.problem(graph.nodes[nid], f"only one Input is supported (found {names})",
                          hints.SEVERAL_INPUTS)


def _infer_shapes(found: _Findings, order: list[str], specs: dict[str, LayerSpec | None], *,
                  skip_dangling: bool) -> None:
    """Each layer's output shape, parameters and FLOPs, in topological order; a layer
    whose inputs are wrong or unknown gets a problem (or none, when it is upstream's)."""
    nodes, infos, inputs_of = found.graph.nodes, found.infos, found.graph.inputs_of
    for nid in order:
        node, spec, info = nodes[nid], specs[nid], infos[nid]
        if spec is None:
            continue
        if spec is BLOCK_INPUT_SPEC:
            if found.scope is not None and not info.diagnostics:
                info.output_shape = found.seeds.get(nid)  # None: not known (no preview)
            continue
        edges_in = inputs_of(nid)
        if skip_dangling:
            edges_in = [e for e in edges_in if e.src in infos]
        n_in = len(edges_in)
        if spec.is_source:
            pass
        elif n_in < spec.min_inputs:
            hint = hints.NOT_CONNECTED if spec.min_inputs == 1 else hints.MERGE_NEEDS_MORE
            if n_in == 0:
                found.problem(node, "its input is not connected" if spec.min_inputs == 1
                              else f"needs at least {spec.min_inputs} inputs (none connected)", hint)
            else:
                found.problem(node, f"needs at least {spec.min_inputs} inputs (has {n_in})", hint)
            continue
        elif spec.max_inputs is not None and n_in > spec.max_inputs:
            found.problem(node, f"takes {spec.max_inputs} input but has {n_in}", hints.too_many_inputs(spec))
            continue
        in_shapes = [infos[e.src].output_shape for e in edges_in]
        if None in in_shapes or (info.diagnostics and not info.ok):
            continue  # the upstream problem is already reported there
        info.input_shapes = list(in_shapes)  # type: ignore[arg-type]
        if spec is BLOCK_SPEC:
            blocks.infer_instance(found, node, info, analyze_block)
            continue
        try:
            out = spec.infer(info.input_shapes, info.clean_params)
            if out and min(out) <= 0:
                raise ShapeError(f"output size would be {fmt_shape(out)}", hint=hints.SIZE_GONE)
            info.output_shape = tuple(map(int, out))
            info.params = int(spec.count_params(info.input_shapes, info.output_shape, info.clean_params))
            info.flops = int(spec.count_flops(info.input_shapes, info.output_shape, info.clean_params))
        except ShapeError as exc:
            info.output_shape = None
            found.problem(node, str(exc), hints.shape_hint(found.graph, node, spec, edges_in,
                                                           info.input_shapes, exc.hint))


HEAD_INSIDE_BLOCK = ("move the Output out of the block definition and connect it after the block "
                     "instance in the network")
SINK_WITHOUT_HEAD = ("connect this layer to an Output layer (palette: Output) so its result trains a "
                     "target, or delete it if the network does not need it")
HEAD_FEEDS_ON = ("an Output ends the network: take the connections leaving it from the layer before "
                 "it instead, or delete them")


def _no_heads_inside(found: _Findings, specs: dict[str, LayerSpec | None]) -> None:
    for nid, spec in specs.items():
        if spec is not None and spec.is_head:
            found.problem(found.graph.nodes[nid], "an Output layer ends the whole network and cannot sit "
                          "inside a block", HEAD_INSIDE_BLOCK)


def _check_outputs(found: _Findings, order: list[str], specs: dict[str, LayerSpec | None],
                   inputs: list[str], succ: dict[str, list[str]], single_output: bool) -> tuple[str, ...]:
    """The network's outputs: its head layers sorted by name when it has any (then every
    other dead end is a problem), else the one output layer (a fed layer that feeds none);
    several plain outputs and an unconnected Input are problems."""
    nodes = found.graph.nodes
    fed = {dst for dsts in succ.values() for dst in dsts}
    sinks = [nid for nid in order if not succ.get(nid) and nid in fed
             and specs.get(nid) is not None and not specs[nid].is_source]
    heads = [nid for nid, spec in specs.items() if spec is not None and spec.is_head]
    if heads:
        _check_heads(found, heads, sinks, succ)
    elif single_output and len(sinks) > 1 and nodes:
        names = _names([nodes[n].name for n in sinks])
        found.general(f"the network has several outputs ({names}); connect all but one onward or delete them",
                      hints.SEVERAL_OUTPUTS)
        for nid in sinks:
            found.infos[nid].diagnostics.append(
                Diagnostic(f"{nodes[nid].name}: one of several outputs ({names})", nid, "error",
                           hints.SEVERAL_OUTPUTS))
    elif not sinks and inputs and len(nodes) == 1:
        found.general("the network has only an Input; add layers after it", hints.ONLY_INPUT)
    for nid in inputs:
        if not succ.get(nid) and len(nodes) > 1:
            found.problem(nodes[nid], "is not connected to any layer", hints.INPUT_UNUSED)
    if heads:
        return tuple(sorted((nid for nid in heads if nid in fed and not succ.get(nid)),
                            key=lambda n: (nodes[n].name, n)))
    return (sinks[0],) if len(sinks) == 1 else ()


def _check_heads(found: _Findings, heads: list[str], sinks: list[str], succ: dict[str, list[str]]) -> None:
    """With head layers, the heads are the network's ends: a plain dead end or a head
    that feeds on is a problem on that layer."""
    nodes, specs_heads = found.graph.nodes, set(heads)
    for nid in sinks:
        if nid not in specs_heads:
            found.problem(nodes[nid], "feeds nothing; connect it to an Output or delete it",
                          SINK_WITHOUT_HEAD)
    for nid in heads:
        after = succ.get(nid)
        if after:
            names = _names(sorted({nodes[n].name for n in after}))
            found.problem(nodes[nid], f"is an Output, which ends the network, but feeds {names}",
                          HEAD_FEEDS_ON)
