"""Quick fixes: one-click repairs for the problems whose fix is not a matter of taste.

Each fix is a core command the view pushes like any edit, so it is one undo step and
placement makes room the usual way (editing.insert_on_edge). A fix is only offered
when trying it on a copy of the graph clears the node's problem, so a button never
promises what it cannot do; the copy is made only for a node that has a problem the
fixes know, never for a healthy one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from visionstudio.core.commands import Command, CommandError, Macro
from visionstudio.core.graph.analysis import GraphAnalysis, analyze
from visionstudio.core.graph.commands import AddNode, SetParam
from visionstudio.core.graph.diagnostics import walk_up_to
from visionstudio.core.graph.editing import insert_on_edge
from visionstudio.core.graph.model import Edge, GraphModel
from visionstudio.core.layers import LAYERS, Shape
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
        fixes += _verified(graph, node_id, title, lambda: _insert(graph, "flatten", edges_in[0], title))
    elif spec.is_merge and len(edges_in) > 1:
        fixes += _projection_fixes(graph, node_id, edges_in, shapes)  # type: ignore[arg-type]
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


def _verified(graph: GraphModel, node_id: str, title: str, build: Callable[[], Command]) -> list[QuickFix]:
    """[the fix] when a fresh copy of its command clears ``node_id``'s problem on a copy
    of the graph; [] otherwise. The command the caller gets was never run."""
    trial = graph.copy()
    try:
        build().do(SimpleNamespace(graph=trial))  # type: ignore[arg-type]
    except CommandError:
        return []
    info = analyze(trial).nodes.get(node_id)
    if info is None or not info.ok:
        return []
    return [QuickFix(title, build())]


def _reference(shapes: list[Shape]) -> list[Shape]:
    """The shapes a merge's branches could all be made to have: the most common one
    first; with two branches, either (the user picks which one to change)."""
    counts: dict[Shape, int] = {}
    for s in shapes:
        counts[s] = counts.get(s, 0) + 1
    ranked = sorted(counts, key=lambda s: (-counts[s], shapes.index(s)))
    return ranked if len(shapes) == 2 else ranked[:1]


def _projection_fixes(graph: GraphModel, node_id: str, edges_in: list[Edge],
                      shapes: list[Shape]) -> list[QuickFix]:
    """A 1×1 Conv2d on the branch whose channels differ (sizes equal), projecting to
    the channels of the others."""
    if graph.nodes[node_id].kind == "concat":
        return []  # Concat joins any channel counts: a projection fixes nothing there
    fixes: list[QuickFix] = []
    for ref in _reference(shapes):
        if len(ref) != 3:
            continue
        wrong = [(e, s) for e, s in zip(edges_in, shapes, strict=True) if s != ref]
        if len(wrong) != 1 or len(wrong[0][1]) != 3 or wrong[0][1][1:] != ref[1:]:
            continue
        edge, shape = wrong[0]
        src = graph.nodes[edge.src].name
        title = f"Insert a 1×1 Conv2d with {ref[0]} filters after {src} ({shape[0]} channels)"
        params = {"out_channels": ref[0], "kernel_size": 1, "stride": 1, "padding": 0}
        fixes += _verified(graph, node_id, title,
                           lambda edge=edge, title=title, params=params:
                           _insert(graph, "conv2d", edge, title, params))
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
        fixes += _verified(graph, node_id, title,
                           lambda conv=conv, title=title: _set(conv, "padding", "same", title))
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
