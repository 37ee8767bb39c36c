"""A grid index of the canvas's layers and long edges, so routing never scans the scene.

A long edge (a residual skip) detours around the layers its curve would cross. Asking
the scene for the items under every curve walked every item of the scene per edge
(the scene runs without Qt's index, so each query is linear): building the canvas of a
1,000-layer / 10,000-edge project took 80 s. Here layers and the curves that may need a
detour are bucketed by grid cell, so an edge asks only for the layers in the cells its
curve spans, and a moved layer finds only the long edges whose lane it may now block or
free. Everything is in scene coordinates; the owner keeps the index in step (add,
move, remove).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QRectF

CELL = 256.0  # about one layer (196 x 78 plus margins) per cell
# Curves shorter than this never detour (EdgeItem routes them as plain S-curves).
MIN_DETOUR_DY = 80.0

Cell = tuple[int, int]


def cells_of(rect: QRectF) -> tuple[int, int, int, int]:
    """The inclusive cell range (x0, y0, x1, y1) that ``rect`` touches."""
    return (math.floor(rect.left() / CELL), math.floor(rect.top() / CELL),
            math.floor(rect.right() / CELL), math.floor(rect.bottom() / CELL))


class _Grid:
    """Objects bucketed by the cells of their rectangle; queries visit only the cells they
    touch, or the occupied cells when those are fewer (a curve across the whole canvas)."""

    def __init__(self) -> None:
        self._cells: dict[Cell, set] = {}
        self._where: dict[object, tuple[QRectF, tuple[int, int, int, int]]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def rect(self, obj) -> QRectF | None:
        entry = self._where.get(obj)
        return entry[0] if entry else None

    def put(self, obj, rect: QRectF) -> None:
        span = cells_of(rect)
        old = self._where.get(obj)
        if old is not None and old[1] == span:
            self._where[obj] = (QRectF(rect), span)
            return
        self.discard(obj)
        self._where[obj] = (QRectF(rect), span)
        for cell in _span_cells(span):
            self._cells.setdefault(cell, set()).add(obj)

    def discard(self, obj) -> None:
        old = self._where.pop(obj, None)
        if old is None:
            return
        for cell in _span_cells(old[1]):
            bucket = self._cells.get(cell)
            if bucket is not None:
                bucket.discard(obj)
                if not bucket:
                    del self._cells[cell]

    def near(self, rect: QRectF) -> set:
        """Objects whose rectangle intersects ``rect``."""
        x0, y0, x1, y1 = cells_of(rect)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= len(self._cells):
            buckets: Iterable[set] = (self._cells[c] for c in _span_cells((x0, y0, x1, y1))
                                      if c in self._cells)
        else:
            buckets = (b for (cx, cy), b in self._cells.items() if x0 <= cx <= x1 and y0 <= cy <= y1)
        found: set = set()
        for bucket in buckets:
            found.update(bucket)
        return {obj for obj in found if self._where[obj][0].intersects(rect)}


def _span_cells(span: tuple[int, int, int, int]) -> Iterator[Cell]:
    x0, y0, x1, y1 = span
    for cx in range(x0, x1 + 1):
        for cy in range(y0, y1 + 1):
            yield (cx, cy)


class RouteIndex:
    """Layers by their scene bounding rect; long edges by the bounding rect of their
    undetoured curve (the only thing their detour depends on)."""

    def __init__(self) -> None:
        self.nodes = _Grid()
        self.edges = _Grid()

    def put_node(self, item, rect: QRectF) -> QRectF | None:
        """Index ``item`` at ``rect``; return where it was before (None if new)."""
        old = self.nodes.rect(item)
        self.nodes.put(item, rect)
        return old

    def drop_node(self, item) -> None:
        self.nodes.discard(item)

    def put_edge(self, item, curve_rect: QRectF | None) -> None:
        """Index a downward edge long enough to detour by its curve; None drops it."""
        if curve_rect is not None:
            self.edges.put(item, curve_rect)
        else:
            self.edges.discard(item)

    def drop_edge(self, item) -> None:
        self.edges.discard(item)

    def nodes_near(self, rect: QRectF) -> set:
        return self.nodes.near(rect)

    def edges_near(self, rect: QRectF) -> set:
        return self.edges.near(rect)
