"""Auto-layout: layers top to bottom by longest path from the input, branches side by side.

Plain Python on the graph's nodes and edges (no Qt), so it is easy to test. Long edges
(a residual skip) get placeholder slots in the rows they cross, which pushes the
branch they bypass to one side instead of drawing the skip through it.

Placeholders are bounded: one per row skipped grows with edges times depth (an Input
feeding every layer of a 10,000-layer chain wanted ~5x10^7). Past PLACEHOLDER_BUDGET per
node and edge, only the shorter skips get them; the longest are drawn straight (the
canvas routes them around the layers they cross) and ordinary networks are unchanged.
"""

from __future__ import annotations

from collections import deque

from visionstudio.core.graph import GraphModel
from visionstudio.core.graph.editing import COLUMN_SPACING, ROW_SPACING

PLACEHOLDER_BUDGET = 4  # placeholders per node + edge, at most


def _span_limit(spans: list[int], budget: int) -> int:
    """The longest skip (rows crossed) such that every skip up to it gets its placeholders
    and their total stays within ``budget``."""
    total, limit = 0, 0
    for span in sorted(spans):
        if total + span > budget:
            return span - 1 if span == limit else limit  # all skips of `span` rows must fit
        total += span
        limit = span
    return limit


def layered_positions(graph: GraphModel, *, origin: tuple[float, float] = (0.0, 0.0),
                      row: float = ROW_SPACING, column: float = COLUMN_SPACING
                      ) -> dict[str, tuple[float, float]]:
    """Node centres for a layered top-to-bottom layout of ``graph``."""
    if not graph.nodes:
        return {}
    rank, rows, vpreds = layer_rows(graph)
    x: dict[str, float] = {}
    for r in sorted(rows):
        members = rows[r]
        index = {m: i for i, m in enumerate(members)}

        def desired(m: str) -> float:
            ps = [x[p] for p in vpreds[m] if p in x]
            return sum(ps) / len(ps) if ps else 0.0

        want = {m: desired(m) for m in members}
        members.sort(key=lambda m: (want[m], m.startswith("~"), index[m]))
        placed: list[float] = []
        for i, m in enumerate(members):
            pos = want[m] if i == 0 else max(want[m], placed[-1] + column)
            placed.append(pos)
        shift = sum(p - want[m] for p, m in zip(placed, members)) / len(members)
        for p, m in zip(placed, members):
            x[m] = p - shift

    ox, oy = origin
    return {n: (ox + round(x[n], 1), oy + rank[n] * row) for n in graph.nodes}


def layer_rows(graph: GraphModel) -> tuple[dict[str, int], dict[int, list[str]], dict[str, list[str]]]:
    """(rank per node, members per row, layout predecessors per member). Members are node
    ids and placeholders (ids starting with "~"), at most PLACEHOLDER_BUDGET per node + edge."""
    ids = list(graph.nodes)
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for e in sorted(graph.edges, key=lambda e: e.port):
        if e.src in preds and e.dst in preds:
            preds[e.dst].append(e.src)
            succs[e.src].append(e.dst)

    # longest-path ranks (Kahn order; nodes on a cycle are ranked after the rest)
    indeg = {n: len(preds[n]) for n in ids}
    ready = deque(n for n in ids if indeg[n] == 0)
    rank: dict[str, int] = {}
    order: list[str] = []
    while ready:
        n = ready.popleft()
        order.append(n)
        rank[n] = max((rank[p] + 1 for p in preds[n] if p in rank), default=0)
        for s in succs[n]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    for n in ids:
        if n not in rank:
            rank[n] = max((rank.get(p, 0) + 1 for p in preds[n]), default=0)
            order.append(n)

    # rows of real nodes and placeholders for edges that skip rows
    rows: dict[int, list[str]] = {}
    vpreds: dict[str, list[str]] = {}
    for n in order:
        rows.setdefault(rank[n], []).append(n)
        vpreds[n] = []
    spans = [max(0, rank[n] - rank[p] - 1) for n in order for p in preds[n]]
    limit = _span_limit(spans, PLACEHOLDER_BUDGET * (len(ids) + len(spans)))
    for n in order:
        for p in preds[n]:
            prev = p
            skipped = range(rank[p] + 1, rank[n]) if rank[n] - rank[p] - 1 <= limit else ()
            for r in skipped:
                dummy = f"~{p}>{n}@{r}"
                vpreds[dummy] = [prev]
                rows.setdefault(r, []).append(dummy)
                prev = dummy
            vpreds[n].append(prev)
    return rank, rows, vpreds
