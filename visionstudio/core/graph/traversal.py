"""Graph algorithms on plain adjacency (node id -> successor ids), all linear in nodes + edges.

They take the successor lists as data, not a GraphModel, so the project loader can run
them on a graph it is still checking and the analysis on the graph's own index. None
of them recurses: a 10,000-layer chain must not hit Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def topological_order(nodes: Iterable[str], succ: Mapping[str, Sequence[str]]
                      ) -> tuple[list[str], set[str]]:
    """Kahn's algorithm, ready nodes taken first-in first-out in ``nodes`` order.

    ``succ`` must only name nodes of ``nodes``. Returns (order, stuck): the nodes that
    never became ready are on a cycle or downstream of one.
    """
    indegree = dict.fromkeys(nodes, 0)
    for nid in indegree:
        for nxt in succ.get(nid, ()):
            indegree[nxt] += 1
    order = [nid for nid, d in indegree.items() if d == 0]
    i = 0
    while i < len(order):
        for nxt in succ.get(order[i], ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                order.append(nxt)
        i += 1
    if len(order) == len(indegree):
        return order, set()
    placed = set(order)
    return order, {nid for nid in indegree if nid not in placed}


def strongly_connected(nodes: Iterable[str], succ: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Node -> number of its strongly connected component (Tarjan's algorithm, iterative).

    Two nodes share a number exactly when each can reach the other, so an edge
    ``a -> b`` lies on a cycle exactly when ``a`` and ``b`` share one (or ``a == b``).
    ``succ`` may name nodes outside ``nodes``; those edges are ignored.
    """
    members = nodes if isinstance(nodes, (set, frozenset, dict)) else dict.fromkeys(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = components = 0
    for root in members:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ.get(root, ())))]
        while work:
            nid, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in members:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack and index[nxt] < low[nid]:
                    low[nid] = index[nxt]
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[nid] < low[parent]:
                    low[parent] = low[nid]
            if low[nid] == index[nid]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = components
                    if member == nid:
                        break
                components += 1
    return component
