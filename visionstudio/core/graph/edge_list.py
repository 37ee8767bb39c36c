"""EdgeList: ``GraphModel.edges``, a plain list that counts its changes, and EdgeIndex,
the adjacency index the graph keeps beside it.

The count tells the index whether it still describes the list, so code that edits the
list directly (tests, scripts, the loader) only makes the index stale instead of wrong.
"""

from __future__ import annotations


class EdgeList(list):
    """``GraphModel.edges``: a plain list that counts its changes, so the graph can tell
    whether its adjacency index still describes it."""

    __slots__ = ("version",)

    def __init__(self, items=()) -> None:
        super().__init__(items)
        self.version = 0

    def append(self, item) -> None:
        self.version += 1
        super().append(item)

    def extend(self, items) -> None:
        self.version += 1
        super().extend(items)

    def insert(self, index, item) -> None:
        self.version += 1
        super().insert(index, item)

    def remove(self, item) -> None:
        self.version += 1
        super().remove(item)

    def pop(self, index=-1):
        self.version += 1
        return super().pop(index)

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def sort(self, *args, **kwargs) -> None:
        self.version += 1
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        self.version += 1
        super().reverse()

    def __setitem__(self, index, value) -> None:
        self.version += 1
        super().__setitem__(index, value)

    def __delitem__(self, index) -> None:
        self.version += 1
        super().__delitem__(index)

    def __iadd__(self, items):
        self.version += 1
        return super().__iadd__(items)

    def __imul__(self, n):
        self.version += 1
        return super().__imul__(n)

    def __reduce__(self):  # pickles and deep-copies as a plain list of edges
        return (EdgeList, (list(self),))


class EdgeIndex:
    """Incoming and outgoing edges per node id, each in edge-list order, for one EdgeList.

    Valid while its version equals the list's; otherwise :meth:`tables` rebuilds it in
    one pass. The graph's mutators keep it valid edge by edge (:meth:`appended`,
    :meth:`removed`), so an edit costs the node's degree, not a rebuild.
    """

    __slots__ = ("edges", "incoming", "outgoing", "version")

    def __init__(self, edges: EdgeList) -> None:
        self.edges = edges
        self.incoming: dict[str, list] = {}
        self.outgoing: dict[str, list] = {}
        self.version = -1

    @property
    def fresh(self) -> bool:
        return self.version == self.edges.version

    def tables(self) -> tuple[dict[str, list], dict[str, list]]:
        """(incoming, outgoing), rebuilt when stale."""
        if self.version != self.edges.version:
            incoming: dict[str, list] = {}
            outgoing: dict[str, list] = {}
            for e in self.edges:
                lst = incoming.get(e.dst)
                if lst is None:
                    incoming[e.dst] = [e]
                else:
                    lst.append(e)
                lst = outgoing.get(e.src)
                if lst is None:
                    outgoing[e.src] = [e]
                else:
                    lst.append(e)
            self.incoming, self.outgoing = incoming, outgoing
            self.version = self.edges.version
        return self.incoming, self.outgoing

    def appended(self, edge) -> None:
        """``edge`` was just appended to a list this index described: last among its
        node's edges too."""
        self.incoming.setdefault(edge.dst, []).append(edge)
        self.outgoing.setdefault(edge.src, []).append(edge)
        self.version = self.edges.version

    def removed(self, edge) -> None:
        """``edge`` was just removed from a list this index described. The per-node lists
        keep edge-list order, so their first equal edge is the one the list lost."""
        for table, key in ((self.incoming, edge.dst), (self.outgoing, edge.src)):
            lst = table[key]
            lst.remove(edge)
            if not lst:
                del table[key]
        self.version = self.edges.version


def merge_back(current, removed):
    """``current`` with each ``(position, item)`` of ``removed`` (in position order) back
    at its old position: the undo of taking them out, in one pass."""
    merged = []
    rest = iter(current)
    for position, item in removed:
        while len(merged) < position:
            nxt = next(rest, None)
            if nxt is None:
                break
            merged.append(nxt)
        merged.append(item)
    merged.extend(rest)
    return merged
