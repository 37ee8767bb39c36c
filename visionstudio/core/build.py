"""Graph -> torch.nn.Module.

Each layer becomes a sub-module named after its node, so parameters read
``conv1.weight`` in checkpoints, exported code and the inspector alike.
"""

from __future__ import annotations

import keyword

import torch
from torch import nn

from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.layers import LAYERS


class BuildError(ValueError):
    """The graph has errors; ``diagnostics`` lists them for the user."""

    def __init__(self, diagnostics: list) -> None:
        self.diagnostics = list(diagnostics)
        lines = "\n".join(f"- {d}" for d in self.diagnostics)
        super().__init__(f"the network has {len(self.diagnostics)} problem(s):\n{lines}")


# Instance attributes every nn.Module sets in __init__ ("training") and GraphModule's own.
_RESERVED = frozenset(vars(nn.Module())) | {"input_name", "output_name", "node_names"}


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
    """Runs the layers in topological order; merges receive their inputs in port order."""

    def __init__(self, steps: list[tuple[str, nn.Module | None, tuple[str, ...]]],
                 input_name: str, output_name: str, node_names: dict[str, str]) -> None:
        super().__init__()
        self._steps: list[tuple[str, tuple[str, ...]]] = []
        for attr, module, sources in steps:
            if module is not None:
                self.add_module(attr, module)
            self._steps.append((attr, sources))
        self.input_name = input_name
        self.output_name = output_name
        self.node_names = node_names  # attribute -> node name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_name: x}
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
        return values[self.output_name]


def build_model(graph: GraphModel, analysis: GraphAnalysis | None = None, *,
                seed: int | None = None) -> GraphModule:
    """Build the module; raises BuildError listing the graph's problems."""
    analysis = analysis or analyze(graph)
    if not analysis.ok or analysis.input_id is None or analysis.output_id is None:
        raise BuildError(analysis.errors or ["the network has no single input and output"])
    generator_state = None
    if seed is not None:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    try:
        attrs = attribute_names(graph)
        steps = []
        needed = graph.reachable_from(analysis.output_id, upstream=True)
        for nid in analysis.order:
            if nid not in needed:
                continue
            node, info = graph.nodes[nid], analysis.nodes[nid]
            spec = LAYERS.get(node.kind)
            module = spec.build(info.input_shapes, info.clean_params)
            sources = tuple(attrs[e.src] for e in graph.inputs_of(nid))
            steps.append((attrs[nid], module, sources))
        names = {attrs[nid]: graph.nodes[nid].name for nid in graph.nodes}
        return GraphModule(steps, attrs[analysis.input_id], attrs[analysis.output_id], names)
    finally:
        if generator_state is not None:
            torch.random.set_rng_state(generator_state)

