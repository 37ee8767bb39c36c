"""Small networks made of block instances, for the block tests (built-ins, export)."""

from __future__ import annotations

from typing import Any

from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS
from visionstudio.core.graph import Edge, GraphModel, make_node
from visionstudio.core.graph.blocks import BlockDefinition


def chain(in_shape: tuple[int, int, int], steps: list[tuple[str, dict[str, Any]]],
          definitions: list[BlockDefinition] = ()) -> GraphModel:
    """Input -> one instance per step (a built-in or one of ``definitions``, by key) in a row."""
    graph = GraphModel()
    for definition in definitions:
        graph.blocks.add(definition)
    for key, _ in steps:
        if key not in graph.blocks and key in BUILTIN_BLOCKS:
            graph.blocks.add(BUILTIN_BLOCKS[key]())
    c, h, w = in_shape
    prev = make_node(graph, "input", "input", {"channels": c, "height": h, "width": w})
    graph.nodes[prev.id] = prev
    for i, (key, params) in enumerate(steps, 1):
        node = make_node(graph, "block", f"block{i}", {"block": key, **params})
        graph.nodes[node.id] = node
        graph.edges.append(Edge(prev.id, node.id, 0))
        prev = node
    return graph


def one_block(key: str, in_shape: tuple[int, int, int], **values: Any) -> GraphModel:
    return chain(in_shape, [(key, values)])
