"""Undoable edits of the transfer-learning options (``graph.transfer``).

Freeze or unfreeze layers, freeze everything feeding a layer, set a layer's
learning-rate multiplier, and fit the head to the dataset's classes. Each refuses with
a sentence before it changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from visionstudio.core.commands import Command, CommandError, Macro
from visionstudio.core.graph.analysis import analyze
from visionstudio.core.graph.commands import GraphCommand, SetParam
from visionstudio.core.graph.fixes import last_dense
from visionstudio.core.graph.model import GraphModel
from visionstudio.core.graph.transfer import multiplier_problem


def _existing(graph: GraphModel, node_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(node_ids))
    if not ids:
        raise CommandError("select at least one layer")
    missing = [nid for nid in ids if nid not in graph.nodes]
    if missing:
        raise CommandError("that layer no longer exists")
    return ids


def _names(graph: GraphModel, ids: list[str]) -> str:
    if len(ids) == 1:
        return graph.nodes[ids[0]].name
    return f"{len(ids)} layers"


class SetTrainable(GraphCommand):
    """Freeze (``trainable=False``) or unfreeze layers; a frozen layer's weights stay as
    they are during training and its parameters are left out of the optimizer."""

    def __init__(self, node_ids: Iterable[str], trainable: bool) -> None:
        self.node_ids = list(dict.fromkeys(node_ids))
        self.trainable = bool(trainable)
        self._was_frozen: list[str] = []

    def apply(self, graph: GraphModel) -> None:
        ids = _existing(graph, self.node_ids)
        options = graph.transfer
        self._was_frozen = [nid for nid in ids if nid in options.frozen]
        verb = "Unfreeze" if self.trainable else "Freeze"
        self.text = f"{verb} {_names(graph, ids)}"
        options._set_trainable(ids, self.trainable)

    def revert(self, graph: GraphModel) -> None:
        options = graph.transfer
        options._set_trainable(self.node_ids, True)
        options._set_trainable(self._was_frozen, False)


class FreezeBefore(SetTrainable):
    """Freeze every layer that feeds ``node_id`` (directly or not), not the layer itself:
    the usual fine-tuning cut, "train from here on"."""

    def __init__(self, node_id: str) -> None:
        super().__init__([], False)
        self.node_id = node_id

    def apply(self, graph: GraphModel) -> None:
        if self.node_id not in graph.nodes:
            raise CommandError("that layer no longer exists")
        upstream = graph.reachable_from(self.node_id, upstream=True) - {self.node_id}
        if not upstream:
            raise CommandError(f"no layer comes before {graph.nodes[self.node_id].name}")
        self.node_ids = [nid for nid in graph.nodes if nid in upstream]  # graph order
        super().apply(graph)
        self.text = f"Freeze everything before {graph.nodes[self.node_id].name}"


class SetLrMultiplier(GraphCommand):
    """The factor on the learning rate for these layers' parameters (the head ×10...);
    the schedule scales every group alike, so the ratios hold throughout."""

    def __init__(self, node_ids: Iterable[str], value: float) -> None:
        self.node_ids = list(dict.fromkeys(node_ids))
        self.value = value
        self._old: dict[str, float] = {}

    def apply(self, graph: GraphModel) -> None:
        ids = _existing(graph, self.node_ids)
        problem = multiplier_problem(self.value)
        if problem:
            raise CommandError(f"the learning-rate multiplier {problem}")
        options = graph.transfer
        self._old = {nid: options.multiplier(nid) for nid in ids}
        self.text = f"Set learning-rate multiplier of {_names(graph, ids)} to ×{float(self.value):g}"
        for nid in ids:
            options._set_multiplier(nid, float(self.value))

    def revert(self, graph: GraphModel) -> None:
        for nid, old in self._old.items():
            graph.transfer._set_multiplier(nid, old)


def adapt_head(graph: GraphModel, num_classes: int) -> Command:
    """One undo step that fits the network's last Dense (the one giving its scores) to
    ``num_classes``: its units are set (through the same edit as the quick fix) and it is
    made trainable. Its weights are new on the next run: a layer of a new shape starts
    from the run's initialisation."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise CommandError("the dataset's number of classes is not known; choose a dataset first")
    analysis = analyze(graph)
    head = last_dense(graph, analysis) if analysis.output_id is not None else None
    if head is None:
        raise CommandError("the network does not end in a Dense layer, so there is no head to adapt")
    node = graph.nodes[head]
    steps: list[Command] = []
    if node.params.get("units") != num_classes:
        steps.append(SetParam(head, "units", num_classes))
    if not graph.transfer.trainable(head):
        steps.append(SetTrainable([head], True))
    if not steps:
        raise CommandError(f"{node.name} already has {num_classes} units and trains")
    return Macro(f"Adapt {node.name} to the dataset's {num_classes} classes", steps)
