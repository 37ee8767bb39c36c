"""Graph algorithms, all linear in nodes + edges: the traversals of GraphModel.

The functions take plain adjacency (node id -> successor ids) as data; GraphTraversal
gives GraphModel its traversal methods on top of them and of the graph's adjacency
index, so analysis, build, the loader and the canvas ask the graph instead of each
walking the edge list their own way. None of them recurses: a 10,000-layer chain must
not hit Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visionstudio.core.graph.model import Edge


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


class GraphTraversal:
    """Traversal methods of GraphModel, read from its adjacency index (``_adjacency``)."""

    nodes: dict[str, Any]

    def _adjacency(self) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
        raise NotImplementedError

    def inputs_of(self, node_id: str) -> list[Edge]:
        raise NotImplementedError

    def predecessors(self, node_id: str) -> list[str]:
        """The layers feeding ``node_id``, in port order."""
        return [e.src for e in self.inputs_of(node_id)]

    def successors(self, node_id: str) -> list[str]:
        """The layers ``node_id`` feeds, in edge-list order."""
        return [e.dst for e in self._adjacency()[1].get(node_id, ())]

    def successor_map(self) -> dict[str, list[str]]:
        """Node id -> successor ids, for the edges whose ends both exist."""
        incoming, outgoing = self._adjacency()
        nodes = self.nodes
        if incoming.keys() <= nodes.keys() and outgoing.keys() <= nodes.keys():
            return {src: [e.dst for e in out] for src, out in outgoing.items()}  # no dangling edge
        return {src: [e.dst for e in out if e.dst in nodes] for src, out in outgoing.items() if src in nodes}

    def topological_order(self, succ: Mapping[str, Sequence[str]] | None = None
                          ) -> tuple[list[str], set[str]]:
        """(order, stuck): Kahn's order in document order; ``stuck`` holds the layers on
        a cycle or behind one, which never became ready. ``succ``: the graph's
        ``successor_map()`` when the caller already has it (the analysis)."""
        return topological_order(self.nodes, self.successor_map() if succ is None else succ)

    def components(self, node_ids: Collection[str]) -> dict[str, int]:
        """Node -> number of its strongly connected part among ``node_ids``: an edge lies
        on a cycle exactly when both its ends share a number."""
        return strongly_connected(node_ids, self.successor_map())

    def _walk(self, start: str, upstream: bool = False) -> Iterator[str]:
        """``start``, then every layer reachable from it, each once (depth first)."""
        incoming, outgoing = self._adjacency()
        table, end = (incoming, "src") if upstream else (outgoing, "dst")
        seen, stack = {start}, [start]
        while stack:
            n = stack.pop()
            yield n
            for e in table.get(n, ()):
                nxt = getattr(e, end)
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)

    def reachable_from(self, node_id: str, *, upstream: bool = False) -> set[str]:
        """``node_id`` and every layer after it (``upstream``: every layer feeding it)."""
        return set(self._walk(node_id, upstream))

    def has_path(self, start: str, goal: str) -> bool:
        """True when ``goal`` can be reached from ``start`` along edges."""
        return any(n == goal for n in self._walk(start))

    def would_cycle(self, src: str, dst: str) -> bool:
        """True when a connection ``src -> dst`` would close a loop."""
        return src == dst or self.has_path(dst, src)

    def dangling_edges(self) -> list[Edge]:
        """Edges naming a layer that does not exist (a hand-edited edge list), found
        from the index's keys rather than a pass over every edge."""
        incoming, outgoing = self._adjacency()
        nodes = self.nodes
        if incoming.keys() <= nodes.keys() and outgoing.keys() <= nodes.keys():
            return []
        found = dict.fromkeys(e for dst, lst in incoming.items() if dst not in nodes for e in lst)
        found.update(dict.fromkeys(e for src, lst in outgoing.items() if src not in nodes for e in lst))
        return list(found)
