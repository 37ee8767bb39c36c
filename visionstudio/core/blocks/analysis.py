"""Analysing a definition on its own, as the definition editor shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visionstudio.core.graph.analysis import GraphAnalysis, analyze_block
from visionstudio.core.graph.blocks import BlockLibrary
from visionstudio.core.layers import Shape


def analyze_definition(library: BlockLibrary, key: str, input_shapes: list[Shape] | None = None,
                       values: Mapping[str, Any] | None = None) -> GraphAnalysis:
    """The analysis of definition ``key``, keyed by its inner node ids.

    Input shapes default to the definition's preview (``input_shapes``, the shapes of
    the instance it was made from); without any, the block inputs have an unknown
    shape, which is no problem, and everything after them shows "?". ``values`` are
    exposed values as an instance would set them (default: the inner values)."""
    definition = library.get(key)
    shapes = input_shapes if input_shapes is not None else definition.input_shapes
    return analyze_block(library, key, list(shapes) if shapes is not None else None, values)
