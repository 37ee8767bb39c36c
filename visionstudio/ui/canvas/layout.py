"""Auto-layout: layers top to bottom by longest path from the input, branches side by side.

Plain Python on the graph's nodes and edges (no Qt), so it is easy to test. Long edges
(a residual skip) get placeholder slots in the rows they cross, which pushes the
branch they bypass to one side instead of drawing the skip through it.
"""

from __future__ import annotations

from ...core.graph import GraphModel
from .style import COLUMN_SPACING, ROW_SPACING


def layered_positions(graph: GraphModel, *, origin: tuple[float, float] = (0.0, 0.0),
                      row: float = ROW_SPACING, column: float = COLUMN_SPACING) -> dict[str, tuple[float, float]]:
    """Node centres for a layered top-to-bottom layout of ``graph``."""
    ids = list(graph.nodes)
    if not ids:
        return {}
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for e in sorted(graph.edges, key=lambda e: e.port):
        if e.src in preds and e.dst in preds:
            preds[e.dst].append(e.src)
            succs[e.src].append(e.dst)

    # longest-path ranks (Kahn order; nodes on a cycle are ranked after the rest)
    indeg = {n: len(preds[n]) for n in ids}
    ready = [n for n in ids if indeg[n] == 0]
    rank: dict[str, int] = {}
    order: list[str] = []
    while ready:
        n = ready.pop(0)
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
    for n in order:
        for p in preds[n]:
            prev = p
            for r in range(rank[p] + 1, rank[n]):
                dummy = f"~{p}>{n}@{r}"
                vpreds[dummy] = [prev]
                rows.setdefault(r, []).append(dummy)
                prev = dummy
            vpreds[n].append(prev)

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
    return {n: (ox + round(x[n], 1), oy + rank[n] * row) for n in ids}
