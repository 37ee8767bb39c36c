"""The parameter schema of any node, block instances included, and the inner values
an instance's exposed parameters stand for."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from visionstudio.core.layers import LAYERS
from visionstudio.core.params import ParamSpec

if TYPE_CHECKING:
    from visionstudio.core.graph.blocks import BlockDefinition
    from visionstudio.core.graph.model import GraphModel, Node


def node_param_specs(graph: GraphModel, node: Node) -> tuple[ParamSpec, ...]:
    """What the inspector shows and SetParam checks: a layer's schema, or an instance's
    exposed parameters (the ``block`` key itself is not one: it names the definition).
    An instance of an unknown definition, or a node of an unknown kind, has none."""
    # late: core.graph's package imports this module (commands, analysis) before its own blocks module
    from visionstudio.core.graph.blocks import instance_key

    key = instance_key(node)
    if key is not None:
        definition = graph.blocks.find(key)
        return definition.param_specs() if definition is not None else ()
    if node.kind in LAYERS:
        return LAYERS.get(node.kind).params
    return ()


def inner_params(definition: BlockDefinition, values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Inner node id -> its params with the instance's exposed ``values`` substituted
    (a name the instance does not set keeps the inner node's own value)."""
    out = {nid: copy.deepcopy(node.params) for nid, node in definition.graph.nodes.items()}
    for exp in definition.exposed:
        if exp.name in values and exp.node_id in out:
            out[exp.node_id][exp.param] = copy.deepcopy(values[exp.name])
    return out
