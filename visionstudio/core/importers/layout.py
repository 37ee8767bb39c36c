"""A top-down layout for an imported network: one row per step of the longest path from
the input, the layers of a row side by side, so no two layers overlap.

The canvas's own auto-layout lives in the UI (ui/canvas/layout.py), which the core may
not import; this one needs nothing but the graph's edges and the canvas spacing.
"""

from __future__ import annotations

from collections.abc import Iterable

from visionstudio.core.graph.editing import COLUMN_SPACING, ROW_SPACING


def layered_layout(order: list[str], edges: Iterable[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Centres for the nodes in ``order`` (a topological order) joined by ``edges``."""
    parents: dict[str, list[str]] = {nid: [] for nid in order}
    for src, dst in edges:
        parents[dst].append(src)
    rank: dict[str, int] = {}
    for nid in order:
        rank[nid] = 1 + max((rank[p] for p in parents[nid]), default=-1)
    rows: dict[int, list[str]] = {}
    for nid in order:
        rows.setdefault(rank[nid], []).append(nid)
    positions: dict[str, tuple[float, float]] = {}
    for r, members in rows.items():
        left = -(len(members) - 1) / 2 * COLUMN_SPACING
        for i, nid in enumerate(members):
            positions[nid] = (left + i * COLUMN_SPACING, r * ROW_SPACING)
    return positions
