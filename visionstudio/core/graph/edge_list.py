"""EdgeList: ``GraphModel.edges``, a plain list that counts its changes.

The graph keeps an adjacency index beside the list; the count tells it whether the
index still describes the list, so code that edits the list directly (tests, scripts,
the loader) only makes the index stale instead of wrong.
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
