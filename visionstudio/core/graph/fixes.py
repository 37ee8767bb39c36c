"""Quick fixes: one-click repairs for the problems whose fix is not a matter of taste.

Each fix is a core command the view pushes like any edit, so it is one undo step and
placement makes room the usual way (editing.insert_on_edge). A fix is only offered
when re-running the shape rules with it clears the node's problem, so a button never
promises what it cannot do. That check re-infers only the layers between the change
and the node, from the analysis at hand: the inspector asks after every edit, and a
copy and a full analysis of a 10,000-layer graph each time would make it lag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from visionstudio.core.commands import Command, Macro
from visionstudio.core.graph.analysis import GraphAnalysis
from visionstudio.core.graph.commands import AddNode, SetParam
from visionstudio.core.graph.diagnostics import walk_up_to
from visionstudio.core.graph.editing import insert_on_edge
from visionstudio.core.graph.model import Edge, GraphModel
from visionstudio.core.layers import LAYERS, Shape, ShapeError
from visionstudio.core.params import pair


@dataclass(frozen=True)
class QuickFix:
    title: str        # the button's text, an imperative: "Insert a Flatten before dense1"
    command: Command  # push it through the controller; undo reverts it whole


def quick_fixes(graph: GraphModel, analysis: GraphAnalysis, node_id: str, *,
                num_classes: int | None = None) -> list[QuickFix]:
    """The fixes for ``node_id``'s problem (none when it has none the fixes know)."""
    node = graph.nodes.get(node_id)
    info = analysis.nodes.get(node_id)
    if node is None or info is None:
        return []
    fixes: list[QuickFix] = []
    if num_classes:
        fixes += _units_fix(graph, analysis, node_id, num_classes)
    if info.ok:
        return fixes
    edges_in = graph.inputs_of(node_id)
    shapes = [analysis.nodes[e.src].output_shape if e.src in analysis.nodes else None for e in edges_in]
    if None in shapes or not edges_in:
        return fixes
    spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
    if spec is None:
        return fixes
    if node.kind == "dense" and len(shapes[0]) == 3:
        title = f"Insert a Flatten before {node.name}"
        if _clears(graph, analysis, node_id, edge_shapes={edges_in[0]: (math.prod(shapes[0]),)}):
            fixes.append(QuickFix(title, _insert(graph, "flatten", edges_in[0], title)))
    elif spec.is_merge and len(edges_in) > 1:
        fixes += _projection_fixes(graph, analysis, node_id, edges_in, shapes)  # type: ignore[arg-type]
        fixes += _padding_fixes(graph, analysis, node_id, edges_in)
    return fixes


def _insert(graph: GraphModel, kind: str, edge: Edge, title: str,
            params: dict | None = None) -> Command:
    macro = insert_on_edge(graph, kind, edge)
    macro.text = title
    if params:
        for step in macro.commands:
            if isinstance(step, AddNode):
                step.params = dict(params)
    return macro


def _clears(graph: GraphModel, analysis: GraphAnalysis, node_id: str, *,
            params: dict[str, dict[str, Any]] | None = None,
            edge_shapes: dict[Edge, Shape] | None = None) -> bool:
    """Whether ``node_id``'s shape problem goes when some layers get other ``params``
    and some connections carry other shapes (a layer inserted there): the shape rules
    re-run on the layers after the change that lead to the node, nothing else."""
    params, edge_shapes = params or {}, edge_shapes or {}
    info = analysis.nodes[node_id]
    if not info.input_shapes or sum(d.severity == "error" for d in info.diagnostics) != 1:
        return False  # not (only) a shape problem: the rules never ran on this node
    starts = set(params) | {e.dst for e in edge_shapes}
    leads_to = graph.reachable_from(node_id, upstream=True) | {node_id}
    affected = set().union(*(graph.reachable_from(s) | {s} for s in starts)) & leads_to
    shapes: dict[str, Shape] = {}
    for nid in analysis.order:
        if nid not in affected:
            continue
        ins = []
        for e in graph.inputs_of(nid):
            shape = edge_shapes.get(e) or shapes.get(e.src) or analysis.nodes[e.src].output_shape
            if shape is None:
                return False
            ins.append(shape)
        spec = LAYERS.get(graph.nodes[nid].kind)
        try:
            out = spec.infer(ins, params.get(nid, analysis.nodes[nid].clean_params))
        except ShapeError:
            return False
        if not out or min(out) <= 0:
            return False
        shapes[nid] = tuple(out)
    return node_id in shapes


def _reference(shapes: list[Shape]) -> list[Shape]:
    """The shapes a merge's branches could all be made to have: the most common one
    first; with two branches, either (the user picks which one to change)."""
    counts: dict[Shape, int] = {}
    for s in shapes:
        counts[s] = counts.get(s, 0) + 1
    ranked = sorted(counts, key=lambda s: (-counts[s], shapes.index(s)))
    return ranked if len(shapes) == 2 else ranked[:1]


def _projection_fixes(graph: GraphModel, analysis: GraphAnalysis, node_id: str, edges_in: list[Edge],
                      shapes: list[Shape]) -> list[QuickFix]:
    """A 1×1 Conv2d on the branch whose channels differ (sizes equal), projecting to
    the channels of the others."""
    if graph.nodes[node_id].kind == "concat":
        return []  # Concat joins any channel counts: a projection fixes nothing there
    # Multiply/Maximum stretch a size of 1: a C×1×1 gate needs only its channels matched.
    broadcasts = LAYERS.get(graph.nodes[node_id].kind).extra.get("broadcasts", False)
    fixes: list[QuickFix] = []
    for ref in _reference(shapes):
        if len(ref) != 3:
            continue
        wrong = [(e, s) for e, s in zip(edges_in, shapes, strict=True) if s != ref]
        if len(wrong) != 1 or len(wrong[0][1]) != 3 or (wrong[0][1][1:] != ref[1:] and not broadcasts):
            continue
        edge, shape = wrong[0]
        src = graph.nodes[edge.src].name
        title = f"Insert a 1×1 Conv2d with {ref[0]} filters after {src} ({shape[0]} channels)"
        params = {"out_channels": ref[0], "kernel_size": 1, "stride": 1, "padding": 0}
        if _clears(graph, analysis, node_id, edge_shapes={edge: (ref[0], *shape[1:])}):
            fixes.append(QuickFix(title, _insert(graph, "conv2d", edge, title, params)))
    return fixes


def _padding_fixes(graph: GraphModel, analysis: GraphAnalysis, node_id: str,
                   edges_in: list[Edge]) -> list[QuickFix]:
    """Padding "same" on a branch's stride-1 conv, where that change alone makes the
    branches agree."""
    fixes: list[QuickFix] = []
    seen: set[str] = set()
    for edge in edges_in:
        conv = walk_up_to(graph, edge.src, "conv2d")
        if conv is None or conv in seen:
            continue
        seen.add(conv)
        params = analysis.nodes[conv].clean_params
        if params.get("padding") == "same" or pair(params.get("stride", 1)) != (1, 1):
            continue
        name = graph.nodes[conv].name
        title = f"Set padding of {name} to same (keep its input's size)"
        if _clears(graph, analysis, node_id, params={conv: {**params, "padding": "same"}}):
            fixes.append(QuickFix(title, _set(conv, "padding", "same", title)))
    return fixes


def _set(node_id: str, name: str, value: object, title: str) -> Command:
    return Macro(title, [SetParam(node_id, name, value)])


def last_dense(graph: GraphModel, analysis: GraphAnalysis) -> str | None:
    """The Dense that gives the network's scores: the output, or the first Dense up a
    chain of shape-keeping layers from it (a Softmax, a Dropout)."""
    return walk_up_to(graph, analysis.output_id, "dense")


def _units_fix(graph: GraphModel, analysis: GraphAnalysis, node_id: str, num_classes: int) -> list[QuickFix]:
    if last_dense(graph, analysis) != node_id:
        return []
    units = analysis.nodes[node_id].clean_params.get("units")
    if units == num_classes:
        return []
    name = graph.nodes[node_id].name
    title = f"Set units of {name} to {num_classes} (the dataset's classes)"
    return [QuickFix(title, _set(node_id, "units", num_classes, title))]
