"""Reading ``graph.transfer`` (frozen layers, learning-rate multipliers) strictly.

An optional section of schema version 2 (absent: nothing frozen, every multiplier 1):
a version-2 reader that predates it refuses it as an unknown field rather than
silently training layers the file froze. Every id must name a layer of the network,
every multiplier be a finite number within the bounds the commands accept, and the
lists are bounded by the graph's size before anything is built from them.
"""

from __future__ import annotations

from typing import Any

from visionstudio.core.graph import GraphModel
from visionstudio.core.graph.transfer import multiplier_problem
from visionstudio.core.project.errors import json_path
from visionstudio.core.project.graph_reader import expect, fail

FIELDS = ("frozen", "lr_multipliers")


def _node_id(graph: GraphModel, value: Any, path: str) -> str:
    expect(value, str, path, "a layer's id (text)")
    if value not in graph.nodes:
        raise fail(path, f"names no layer of the network ({value[:64]!r})")
    return value


def read_transfer_section(data: Any, path: str, graph: GraphModel) -> None:
    """Fill ``graph.transfer`` from ``data`` (read after the graph's nodes)."""
    expect(data, dict, path, "an object")
    for key in data:
        if key not in FIELDS:
            raise fail(json_path(path, key), "unknown field")
    options = graph.transfer
    frozen = expect(data.get("frozen", []), list, f"{path}.frozen", "a list of layer ids")
    if len(frozen) > len(graph.nodes):
        raise fail(f"{path}.frozen", f"lists {len(frozen):,} layers; the network has {len(graph.nodes):,}")
    for i, value in enumerate(frozen):
        options.frozen.add(_node_id(graph, value, f"{path}.frozen[{i}]"))
    scaled = expect(data.get("lr_multipliers", {}), dict, f"{path}.lr_multipliers",
                    "an object of layer id -> number")
    if len(scaled) > len(graph.nodes):
        raise fail(f"{path}.lr_multipliers",
                   f"has {len(scaled):,} entries; the network has {len(graph.nodes):,} layers")
    for key, value in scaled.items():
        where = json_path(f"{path}.lr_multipliers", key)
        _node_id(graph, key, where)
        problem = multiplier_problem(value)
        if problem:
            raise fail(where, f"the learning-rate multiplier {problem}")
        if value != 1.0:
            options.multipliers[key] = float(value)
