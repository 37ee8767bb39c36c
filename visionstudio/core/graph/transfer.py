"""Transfer-learning options of a network: which layers are frozen, and the
learning-rate multiplier of each layer that trains faster or slower than the rest.

They are kept beside the nodes (``graph.transfer``), not in their ``params``: they say
how a layer is *trained*, not what it computes, so changing them never re-runs shape
inference, never changes the built module, and a node's parameter schema stays its
layer's. Keyed by node id, so a rename keeps them and an undone delete brings them
back with the node; entries of nodes no longer in the graph are ignored everywhere and
not saved. A block instance's options apply to every layer inside it.

Only the commands (``transfer_commands.py``) and the project reader call the
``_``-prefixed mutators; each change announces ``changed(node_ids)`` so the canvas
redraws its lock badges and the training panel its counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from visionstudio.core.events import Event

MIN_LR_MULTIPLIER = 1e-6
MAX_LR_MULTIPLIER = 1e4


def multiplier_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a learning-rate multiplier, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number"
    if not MIN_LR_MULTIPLIER <= value <= MAX_LR_MULTIPLIER:
        return (f"must be between {MIN_LR_MULTIPLIER:g} and {MAX_LR_MULTIPLIER:g} "
                f"(it multiplies the learning rate), not {value:g}")
    return None


class TransferOptions:
    """Frozen node ids and per-node learning-rate multipliers (1.0 is not stored)."""

    def __init__(self) -> None:
        self.frozen: set[str] = set()
        self.multipliers: dict[str, float] = {}
        self.changed = Event("transfer_changed")  # (node_ids)

    # -- queries ------------------------------------------------------------------
    def trainable(self, node_id: str) -> bool:
        return node_id not in self.frozen

    def multiplier(self, node_id: str) -> float:
        return self.multipliers.get(node_id, 1.0)

    def is_default(self, node_ids: Iterable[str] | None = None) -> bool:
        """True when nothing is frozen or scaled (among ``node_ids`` when given)."""
        if node_ids is None:
            return not self.frozen and not self.multipliers
        ids = set(node_ids)
        return not (self.frozen & ids) and not (self.multipliers.keys() & ids)

    def to_dict(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """The project section, for the nodes ``node_ids`` (the graph's, in its order)."""
        ids = list(node_ids)
        out: dict[str, Any] = {}
        frozen = [nid for nid in ids if nid in self.frozen]
        if frozen:
            out["frozen"] = frozen
        scaled = {nid: self.multipliers[nid] for nid in ids if nid in self.multipliers}
        if scaled:
            out["lr_multipliers"] = scaled
        return out

    def copy_from(self, other: TransferOptions) -> None:
        self.frozen = set(other.frozen)
        self.multipliers = dict(other.multipliers)

    # -- mutators (commands and the reader) -------------------------------------------
    def _set_trainable(self, node_ids: Iterable[str], trainable: bool) -> None:
        ids = list(node_ids)
        if trainable:
            self.frozen.difference_update(ids)
        else:
            self.frozen.update(ids)
        self.changed.emit(ids)

    def _set_multiplier(self, node_id: str, value: float) -> None:
        if value == 1.0:
            self.multipliers.pop(node_id, None)
        else:
            self.multipliers[node_id] = float(value)
        self.changed.emit([node_id])


def parameter_split(graph: Any, analysis: Any) -> tuple[int, int]:
    """(trainable, frozen) parameters of the analysed network: a frozen layer's (a
    block instance's: all its inner layers') parameters count as frozen."""
    frozen_ids = graph.transfer.frozen
    frozen = sum(info.params for nid, info in analysis.nodes.items() if nid in frozen_ids)
    return analysis.total_params - frozen, frozen
