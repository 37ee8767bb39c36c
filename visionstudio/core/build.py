"""Graph -> torch.nn.Module.

Each layer becomes a sub-module named after its node, so parameters read
``conv1.weight`` in checkpoints, exported code and the inspector alike. A block
instance becomes a :class:`BlockModule` over its definition's layers (with its exposed
values), named after the instance, so keys follow the structure: ``block1.conv1.weight``,
``stage1.block1.conv1.weight`` for nested blocks, and ``named_modules()`` lists the
inner layers as ``block1.conv1``.

A network with several heads (Output or Detect layers) returns a tuple, one tensor per
head in ``GraphAnalysis.output_ids`` order (the heads' names sorted); with one output it
returns that tensor, as a network without heads always did.
"""

from __future__ import annotations

import keyword

import torch
from torch import nn

from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.graph.blocks import BlockDefinition
from visionstudio.core.layers import LAYERS
from visionstudio.core.layers.block_ports import BLOCK
from visionstudio.core.tasks import DEFAULT_TASK, TASK_KINDS


class BuildError(ValueError):
    """The graph has errors; ``diagnostics`` lists them for the user."""

    def __init__(self, diagnostics: list) -> None:
        self.diagnostics = list(diagnostics)
        lines = "\n".join(f"- {d}" for d in self.diagnostics)
        super().__init__(f"the network has {len(self.diagnostics)} problem(s):\n{lines}")


# Instance attributes every nn.Module sets in __init__ ("training") and GraphModule's own.
_RESERVED = frozenset(vars(nn.Module())) | {"input_name", "output_name", "node_names", "input_names",
                                             "block_key", "output_names", "head_names", "head_targets"}


def attribute_name(name: str) -> str:
    """A node name as a module attribute that cannot shadow nn.Module's own members."""
    if (keyword.iskeyword(name) or hasattr(nn.Module, name) or name in _RESERVED
            or name.startswith("_")):
        return f"{name}_"
    return name


def attribute_names(graph: GraphModel) -> dict[str, str]:
    """Node id -> module attribute, unique across the graph.

    A node keeps its name where it can; a renamed one ("forward" -> "forward_") gets
    more underscores if another node already uses that spelling.
    """
    taken = {node.name for node in graph.nodes.values()}
    attrs: dict[str, str] = {}
    used: set[str] = set()
    for nid, node in graph.nodes.items():
        attr = attribute_name(node.name)
        while attr != node.name and (attr in taken or attr in used):
            attr += "_"
        attrs[nid] = attr
        used.add(attr)
    return attrs


class GraphModule(nn.Module):
    """Runs the layers in topological order; merges receive their inputs in port order.

    ``output_names`` are the attributes of the outputs it returns (a tuple of them when
    there are several); ``output_name`` is the first, the layer tools hook for "the
    output". ``head_names`` are those layers' node names and ``head_targets`` the target
    each feeds (core.tasks TargetKind keys)."""

    def __init__(self, steps: list[tuple[str, nn.Module | None, tuple[str, ...]]],
                 input_name: str, output_name: str | tuple[str, ...], node_names: dict[str, str],
                 head_targets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._steps: list[tuple[str, tuple[str, ...]]] = []
        for attr, module, sources in steps:
            if module is not None:
                self.add_module(attr, module)
            self._steps.append((attr, sources))
        self.input_name = input_name
        self.output_names = (output_name,) if isinstance(output_name, str) else tuple(output_name)
        self.output_name = self.output_names[0] if self.output_names else ""
        self.node_names = node_names  # attribute -> node name
        self.head_names = tuple(node_names.get(a, a) for a in self.output_names)
        self.head_targets = tuple(head_targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self._run({self.input_name: x})

    def _run(self, values: dict[str, torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        modules = self._modules
        for attr, sources in self._steps:
            if not sources:
                continue
            module = modules.get(attr)
            if len(sources) == 1:
                value = values[sources[0]]
                values[attr] = module(value) if module is not None else value
            else:
                values[attr] = module(*[values[s] for s in sources])
        if len(self.output_names) > 1:
            return tuple(values[name] for name in self.output_names)
        return values[self.output_name]


class BlockModule(GraphModule):
    """One block instance: its definition's layers, fed by the instance's inputs in
    port order (``input_names``: the block inputs' attributes)."""

    def __init__(self, steps: list[tuple[str, nn.Module | None, tuple[str, ...]]],
                 input_names: tuple[str, ...], output_name: str, node_names: dict[str, str],
                 block_key: str) -> None:
        super().__init__(steps, input_names[0] if input_names else "", output_name, node_names)
        self.input_names = input_names
        self.block_key = block_key

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self._run(dict(zip(self.input_names, xs)))


def _steps(graph: GraphModel, analysis: GraphAnalysis, output_ids: str | tuple[str, ...]
           ) -> list[tuple[str, nn.Module | None, tuple[str, ...]]]:
    """(attribute, module or None, source attributes) for every layer the outputs need."""
    attrs = attribute_names(graph)
    steps = []
    needed: set[str] = set()
    for output_id in (output_ids,) if isinstance(output_ids, str) else output_ids:
        needed |= graph.reachable_from(output_id, upstream=True)
    for nid in analysis.order:
        if nid not in needed:
            continue
        node, info = graph.nodes[nid], analysis.nodes[nid]
        if node.kind == BLOCK:
            module = build_block(graph.blocks.get(info.clean_params["block"]), info.inner)
        else:
            module = LAYERS.get(node.kind).build(info.input_shapes, info.clean_params)
        sources = tuple(attrs[e.src] for e in graph.inputs_of(nid))
        steps.append((attrs[nid], module, sources))
    return steps


def build_block(definition: BlockDefinition, inner: GraphAnalysis | None) -> BlockModule:
    """The module of one instance from the analysis of its definition (``NodeInfo.inner``:
    the exposed values are already in its layers' params)."""
    if inner is None or not inner.ok or inner.output_id is None:
        raise BuildError((inner.errors if inner is not None else None)
                         or [f"block {definition.key} has no output to build"])
    graph = definition.graph
    attrs = attribute_names(graph)
    names = {attrs[nid]: graph.nodes[nid].name for nid in graph.nodes}
    inputs = tuple(attrs[nid] for nid in definition.input_ids())
    return BlockModule(_steps(graph, inner, inner.output_id), inputs, attrs[inner.output_id], names,
                       definition.key)


def head_targets(graph: GraphModel, analysis: GraphAnalysis, task: str = DEFAULT_TASK) -> tuple[str, ...]:
    """The target each output feeds, in output_ids order: an Output layer's own, a Detect
    layer's detections, a plain output the task's usual one."""
    usual = TASK_KINDS[task].targets[0].key if task in TASK_KINDS else TASK_KINDS[DEFAULT_TASK].targets[0].key
    targets = []
    for nid in analysis.output_ids:
        kind = graph.nodes[nid].kind
        spec = LAYERS.get(kind) if kind in LAYERS else None
        if spec is not None and spec.key == "detect":
            targets.append("detections")
        elif spec is not None and spec.is_head:
            targets.append(analysis.nodes[nid].clean_params["target"])
        else:
            targets.append(usual)
    return tuple(targets)


def build_model(graph: GraphModel, analysis: GraphAnalysis | None = None, *,
                seed: int | None = None, task: str = DEFAULT_TASK) -> GraphModule:
    """Build the module; raises BuildError listing the graph's problems. ``task`` names
    the target of a plain output (``head_targets``)."""
    analysis = analysis or analyze(graph)
    if not analysis.ok or analysis.input_id is None or not analysis.output_ids:
        raise BuildError(analysis.errors or ["the network has no single input and output"])
    generator_state = None
    if seed is not None:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    try:
        attrs = attribute_names(graph)
        steps = _steps(graph, analysis, analysis.output_ids)
        names = {attrs[nid]: graph.nodes[nid].name for nid in graph.nodes}
        outputs = tuple(attrs[n] for n in analysis.output_ids)
        targets = head_targets(graph, analysis, task)
        return GraphModule(steps, attrs[analysis.input_id], outputs, names, targets)
    finally:
        if generator_state is not None:
            torch.random.set_rng_state(generator_state)

