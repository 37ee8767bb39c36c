"""The graph's transfer options (``graph.transfer``, keyed by node id) as the run's
TransferPlan (keyed by module path: the attribute each node's module has in the built
model and in the exported model.py)."""

from __future__ import annotations

from visionstudio.core.build import attribute_names
from visionstudio.core.graph import GraphModel
from visionstudio.core.training.param_groups import TransferPlan


def transfer_plan(graph: GraphModel, *, frozen_bn_eval: bool = True) -> TransferPlan:
    attrs = attribute_names(graph)
    options = graph.transfer
    frozen = tuple(attrs[nid] for nid in graph.nodes if nid in options.frozen)
    scaled = {attrs[nid]: options.multipliers[nid] for nid in graph.nodes if nid in options.multipliers}
    return TransferPlan(frozen, scaled, frozen_bn_eval)
