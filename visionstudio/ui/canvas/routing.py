"""Edge routes around layers, and a grid index of layers and edges so routing never
scans the scene.

Routes (issue #13: edges crossed layers until Auto Layout): a downward edge is an
S-curve; when that crosses another layer, a long one (a residual skip) runs down a lane
right of what it passes (the first lane free of layers), a short or upward one (a
connection sideways or back up) leaves its output, goes round the layers on straight
runs with rounded corners, and enters its input from above. Every candidate is tested
against the layers the index holds near it, so a route costs a few grid look-ups.

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
from collections.abc import Callable, Iterable, Iterator

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

CELL = 256.0  # about one layer (196 x 78 plus margins) per cell
# Downward curves at least this tall detour down a lane; shorter ones go round.
MIN_DETOUR_DY = 80.0
LANE_GAP = 26.0   # a lane's distance beside the layers it passes
SIDE_GAP = 12.0   # a lane in the gap beside the target (layers are ~24 px apart in a row)
STUB = 20.0       # straight run out of an output and into an input before turning
CLEAR = 5.0       # half-width of the corridor a straight run must find free
CORNER = 10.0
MAX_TRIES = 6

Near = Callable[[QRectF], list[QRectF]]  # the other layers' rects that meet a rect

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


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A vertical S-curve from an output (above) to an input (below)."""
    path = QPainterPath(p1)
    dy = max(40.0, abs(p2.y() - p1.y()) * 0.5)
    path.cubicTo(p1 + QPointF(0, dy), p2 - QPointF(0, dy), p2)
    return path


def detour(p1: QPointF, p2: QPointF, x: float) -> QPainterPath:
    """Out of the output, down a vertical lane at ``x``, and into the input."""
    path = QPainterPath(p1)
    turn = min(60.0, max(20.0, (p2.y() - p1.y()) / 4))
    path.cubicTo(p1 + QPointF(0, turn), QPointF(x, p1.y()), QPointF(x, p1.y() + 2 * turn))
    if p2.y() - 2 * turn > p1.y() + 2 * turn:
        path.lineTo(x, p2.y() - 2 * turn)
    path.cubicTo(QPointF(x, p2.y()), p2 - QPointF(0, turn), p2)
    return path


def rounded(points: list[QPointF], radius: float = CORNER) -> QPainterPath:
    """A polyline through ``points`` with its corners rounded."""
    xy = [(p.x(), p.y()) for p in points]
    xy = [p for i, p in enumerate(xy) if i == 0 or p != xy[i - 1]]
    path = QPainterPath(QPointF(*xy[0]))
    for (ax, ay), (bx, by), (cx, cy) in zip(xy, xy[1:], xy[2:]):
        ab, bc = math.hypot(ax - bx, ay - by), math.hypot(cx - bx, cy - by)
        r = min(radius, ab / 2, bc / 2)
        path.lineTo(bx + (ax - bx) * r / ab, by + (ay - by) * r / ab)
        path.quadTo(bx, by, bx + (cx - bx) * r / bc, by + (cy - by) * r / bc)
    path.lineTo(*xy[-1])
    return path


def _segment_meets(a: QPointF, b: QPointF, rect: QRectF) -> bool:
    """Liang-Barsky: does the segment a-b touch ``rect``?"""
    x0, y0, dx, dy = a.x(), a.y(), b.x() - a.x(), b.y() - a.y()
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - rect.left()), (dx, rect.right() - x0),
                 (-dy, y0 - rect.top()), (dy, rect.bottom() - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        u = q / p
        if p < 0:
            lo = max(lo, u)
        else:
            hi = min(hi, u)
        if lo > hi:
            return False
    return True


def crosses(path: QPainterPath, rect: QRectF) -> bool:
    """Whether the drawn line of ``path`` meets ``rect``. QPainterPath.intersects counts
    the area an open path encloses, so a route round a layer would always "meet" it; it
    stays as the fast rejection, the flattened line decides."""
    if not path.intersects(rect):
        return False
    for polygon in path.toSubpathPolygons():
        points = [polygon.at(i) for i in range(polygon.size())]
        if any(_segment_meets(a, b, rect) for a, b in zip(points, points[1:])):
            return True
    return False


def _pad(rect: QRectF, by: float = 1.0) -> QRectF:
    return rect.adjusted(-by, -by, by, by)  # a straight vertical curve's rect has no width


def plan_route(p1: QPointF, p2: QPointF, src: QRectF, dst: QRectF,
               near: Near) -> tuple[QPainterPath, QRectF]:
    """(the edge's path, the area whose layers decided it: a layer entering or leaving
    it may change the route). ``near`` gives the other layers' rects (not src, dst)."""
    if p2.y() < p1.y():  # up or sideways: the S-curve would loop through its own layers
        return _around(p1, p2, src, dst, near, _pad(QRectF(p1, p2).normalized()))
    straight = curve(p1, p2)
    area = _pad(straight.boundingRect())
    hits = [r for r in near(area) if crosses(straight, r)]
    if not hits:
        return straight, area
    if p2.y() - p1.y() >= MIN_DETOUR_DY:
        return _lane(p1, p2, hits, near, area)
    return _around(p1, p2, src, dst, near, area)


def _lane(p1: QPointF, p2: QPointF, hits: list[QRectF], near: Near,
          area: QRectF) -> tuple[QPainterPath, QRectF]:
    """Down the first free lane right of the layers the curve crossed: just past them,
    else in the gap before the next layer, else past that one too."""
    right = max(r.right() for r in hits)
    x, best = right + LANE_GAP, None
    for _ in range(MAX_TRIES):
        path = detour(p1, p2, x)
        box = _pad(path.boundingRect())
        area = area.united(box)
        blocked = [r for r in near(box) if crosses(path, r)]
        if not blocked:
            return path, area
        if best is None or len(blocked) < best[0]:
            best = (len(blocked), path)
        ahead = [r.left() for r in blocked if r.left() > right]
        gap = (right + min(ahead)) / 2 if ahead else None
        if gap is not None and min(ahead) - right >= 4 * CLEAR and abs(gap - x) > 1:
            x = gap
        else:
            right = max(right, max(r.right() for r in blocked))
            x = right + LANE_GAP
    return best[1], area


def _runs(points: list[QPointF]) -> list[QRectF]:
    """The straight runs between the stubs, each widened to its corridor."""
    runs = []
    for a, b in zip(points[1:-2], points[2:-1]):
        runs.append(_pad(QRectF(a, b).normalized(), CLEAR))
    return runs


def _around(p1: QPointF, p2: QPointF, src: QRectF, dst: QRectF, near: Near,
            area: QRectF) -> tuple[QPainterPath, QRectF]:
    """Down out of the output, sideways, up or down a lane, over to the input, down in:
    first in the gap beside the target or the source, then outside both; when a layer
    sits on a sideways run, that run passes below (or above) it instead."""
    y_out, y_in = p1.y() + STUB, p2.y() - STUB
    if dst.left() >= src.right():
        lanes = [dst.left() - SIDE_GAP, src.right() + SIDE_GAP]
    elif dst.right() <= src.left():
        lanes = [dst.right() + SIDE_GAP, src.left() - SIDE_GAP]
    else:
        lanes = []
    lanes += [max(src.right(), dst.right()) + LANE_GAP, min(src.left(), dst.left()) - LANE_GAP]
    tries = [(x, y_out, y_in) for x in lanes]
    best, varied = None, False
    for _ in range(MAX_TRIES + 3):
        if not tries:
            break
        x, low, high = tries.pop(0)
        points = [p1, QPointF(p1.x(), low), QPointF(x, low), QPointF(x, high), QPointF(p2.x(), high), p2]
        runs = _runs(points)
        box = runs[0].united(runs[1]).united(runs[2])
        area = area.united(box)
        blocked = [r for r in near(box) + [src, dst] if any(run.intersects(r) for run in runs)]
        if not blocked:
            return rounded(points), area
        if best is None or len(blocked) < best[0]:
            best = (len(blocked), points)
        if not tries and not varied:  # pass under / over what blocked, beside the target
            varied = True
            others = [r for r in blocked if r is not src and r is not dst] or blocked
            under = max(max(r.bottom() for r in others), src.bottom()) + SIDE_GAP
            over = min(min(r.top() for r in others), dst.top()) - SIDE_GAP
            tries = [(lanes[0], under, y_in), (lanes[0], y_out, over), (lanes[0], under, over)]
        elif not tries:  # past everything that blocked this one, on its side
            out = x >= p1.x()
            tries.append((max(r.right() for r in blocked) + LANE_GAP if out
                          else min(r.left() for r in blocked) - LANE_GAP, low, high))
    return rounded(best[1]), area
