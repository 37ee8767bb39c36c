"""Transfer options (frozen, learning-rate multiplier) that follow layers into their
copies and into a block that groups them.

The rules, so that an edit of the drawing never silently unfreezes a fine-tuned part:

- a pasted or duplicated layer keeps its original's frozen flag and multiplier (the
  clipboard fragment carries them, ``fragment_transfer``);
- Group into block: the instance is frozen when every grouped layer was, and takes a
  multiplier when every grouped layer had that same one (a block instance's options apply
  to every layer inside it, so anything less uniform is left at the default, trainable
  ×1, rather than guessed);
- Ungroup: the inlined layers take the instance's options.

Undo restores the options as they were (the originals' entries are untouched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from visionstudio.core.graph.commands import GraphCommand
from visionstudio.core.graph.model import GraphModel
from visionstudio.core.graph.transfer import multiplier_problem


def fragment_transfer(graph: GraphModel, node_ids: Iterable[str]) -> dict[str, Any]:
    """The clipboard fragment's ``transfer`` entry for ``node_ids`` (empty when default)."""
    return graph.transfer.to_dict(node_ids)


def group_transfer(graph: GraphModel, node_ids: Iterable[str]) -> tuple[bool, float]:
    """(frozen, multiplier) of an instance grouping ``node_ids`` (the rule above)."""
    ids = [nid for nid in node_ids if nid in graph.nodes]
    options = graph.transfer
    frozen = bool(ids) and all(nid in options.frozen for nid in ids)
    values = {options.multiplier(nid) for nid in ids}
    return frozen, (values.pop() if len(values) == 1 else 1.0)


def pasted_transfer(clip: Mapping[str, Any], id_map: Mapping[str, str]) -> SetTransfer | None:
    """The options of the pasted copies (new ids), read strictly from ``clip``'s
    ``transfer`` (a clipboard may hold another program's text: ValueError on nonsense)."""
    section = clip.get("transfer") or {}
    if not isinstance(section, dict):
        raise ValueError("its transfer options are not an object")
    frozen = section.get("frozen", [])
    scaled = section.get("lr_multipliers", {})
    if not isinstance(frozen, list) or not isinstance(scaled, dict):
        raise ValueError("its transfer options are not lists of layers")
    multipliers = {}
    for old, value in scaled.items():
        problem = multiplier_problem(value)
        if problem:
            raise ValueError(f"a learning-rate multiplier {problem}")
        if old in id_map:
            multipliers[id_map[old]] = float(value)
    ids = [id_map[old] for old in frozen if isinstance(old, str) and old in id_map]
    if not ids and not multipliers:
        return None
    return SetTransfer({nid: True for nid in ids}, multipliers)


class SetTransfer(GraphCommand):
    """Set some nodes' frozen flags and multipliers; revert puts back what they were."""

    def __init__(self, frozen: Mapping[str, bool], multipliers: Mapping[str, float],
                 text: str = "Keep the layers' training options") -> None:
        self.frozen = dict(frozen)
        self.multipliers = dict(multipliers)
        self.text = text
        self._old: tuple[dict[str, bool], dict[str, float]] = ({}, {})

    def apply(self, graph: GraphModel) -> None:
        options = graph.transfer
        self._old = ({nid: nid in options.frozen for nid in self.frozen},
                     {nid: options.multiplier(nid) for nid in self.multipliers})
        _set(graph, self.frozen, self.multipliers)

    def revert(self, graph: GraphModel) -> None:
        _set(graph, *self._old)


def _set(graph: GraphModel, frozen: Mapping[str, bool], multipliers: Mapping[str, float]) -> None:
    options = graph.transfer
    on = [nid for nid, value in frozen.items() if value]
    off = [nid for nid, value in frozen.items() if not value]
    if on:
        options._set_trainable(on, False)
    if off:
        options._set_trainable(off, True)
    for nid, value in multipliers.items():
        options._set_multiplier(nid, value)
