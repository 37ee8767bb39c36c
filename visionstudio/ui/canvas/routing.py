"""Edge routes around layers, and a grid index of layers and edges so routing never
scans the scene.

Routes (issue #13: edges crossed layers until Auto Layout): a downward edge is an
S-curve; when that crosses another layer, a long one (a residual skip) runs down a lane
right of what it passes (the first lane free of layers), a short or upward one (a
connection sideways or back up) leaves its output, goes round the layers on straight
runs with rounded corners, and enters its input from above. Every candidate is tested
against the layers the index holds near it, so a route costs a few grid look-ups.

Asking the scene for the items under every curve walked every item per edge (the scene
runs without Qt's index): a 1,000-layer / 10,000-edge canvas took 80 s. Here layers and
edges are bucketed by grid cell, so an edge asks only for the layers in the cells it
spans, and a moved layer finds only the edges whose route it may change. Rectangles are
(left, top, right, bottom) float tuples: a QRectF per candidate run, body and look-up
made the build three times slower than the unrouted one; only the returned path is a
QPainterPath (``plan_route`` keeps a QRectF interface). Everything is in scene
coordinates; the owner keeps the index in step (add, move, remove).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

CELL = 512.0  # edges: a few layers per cell (an edge's area spans several layers)
# Layers: flat cells, so a sideways run in the gap between rows (STUB below a body)
# visits empty cells only, and a tall query still visits a few hundred.
NODE_CELL = (256.0, 16.0)
# Downward curves at least this tall detour down a lane; shorter ones go round.
MIN_DETOUR_DY = 80.0
LANE_GAP = 26.0   # a lane's distance beside the layers it passes
SIDE_GAP = 12.0   # a lane in the gap beside the target (layers are ~24 px apart in a row)
STUB = 20.0       # straight run out of an output and into an input before turning
CLEAR = 5.0       # half-width of the corridor a straight run must find free
CORNER = 10.0
MAX_TRIES = 6

Rect = tuple[float, float, float, float]  # left, top, right, bottom; never empty
# The other layers' bodies that meet a rect; given runs inside it, only those on a run.
Near = Callable[..., list[Rect]]
Span = tuple[int, int, int, int]
_floor = math.floor


def as_rect(rect: QRectF) -> Rect:
    return (rect.left(), rect.top(), rect.right(), rect.bottom())


def as_qrect(rect: Rect) -> QRectF:
    return QRectF(rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1])


_QRECTS: dict[Rect, QRectF] = {}  # a layer's body is tested against many curves


def _qrect(rect: Rect) -> QRectF:
    found = _QRECTS.get(rect)
    if found is None:
        if len(_QRECTS) > 8192:
            _QRECTS.clear()
        found = _QRECTS[rect] = as_qrect(rect)
    return found


def meet(a: Rect, b: Rect) -> bool:
    """QRectF.intersects for rects with area: an overlap, not a shared edge."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _unite(a: Rect, b: Rect) -> Rect:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def cells_of(rect: Rect, cell: tuple[float, float] = (CELL, CELL)) -> Span:
    """The inclusive cell range (x0, y0, x1, y1) that ``rect`` touches."""
    w, h = cell
    return (_floor(rect[0] / w), _floor(rect[1] / h), _floor(rect[2] / w), _floor(rect[3] / h))


class _Grid:
    """Objects bucketed by the cells of their rectangle, cells by row (each bucket maps
    object -> rect, so a query tests rects without a second look-up). A query visits the
    rows it spans and, in each, the cells it touches or the row's occupied cells when
    those are fewer: a run in the empty gap between rows of layers costs one look-up."""

    def __init__(self, cell: tuple[float, float] = (CELL, CELL)) -> None:
        self.cell = cell
        self._rows: dict[int, dict[int, dict]] = {}
        self._where: dict[object, tuple[Rect, Span]] = {}

    def box(self, obj) -> Rect | None:
        entry = self._where.get(obj)
        return entry[0] if entry else None

    def rect(self, obj) -> QRectF | None:
        entry = self._where.get(obj)
        return as_qrect(entry[0]) if entry else None

    def put(self, obj, rect: Rect) -> None:
        span = cells_of(rect, self.cell)
        old = self._where.get(obj)
        if old is not None and old[1] != span:
            self.discard(obj)
        self._where[obj] = (rect, span)
        rows = self._rows
        for cy in range(span[1], span[3] + 1):
            row = rows.get(cy)
            if row is None:
                row = rows[cy] = {}
            for cx in range(span[0], span[2] + 1):
                bucket = row.get(cx)
                if bucket is None:
                    row[cx] = {obj: rect}
                else:
                    bucket[obj] = rect

    def discard(self, obj) -> None:
        old = self._where.pop(obj, None)
        if old is None:
            return
        x0, y0, x1, y1 = old[1]
        for cy in range(y0, y1 + 1):
            row = self._rows.get(cy)
            if row is None:
                continue
            for cx in range(x0, x1 + 1):
                bucket = row.get(cx)
                if bucket is not None:
                    bucket.pop(obj, None)
                    if not bucket:
                        del row[cx]
            if not row:
                del self._rows[cy]

    def meeting(self, rects: list[Rect], skip: tuple = ()) -> dict:
        """{object: rect} for the objects not in ``skip`` whose rect meets one of ``rects``."""
        (w, h), rows, found = self.cell, self._rows, {}
        for x0, y0, x1, y1 in rects:
            cx0, cy0, cx1, cy1 = _floor(x0 / w), _floor(y0 / h), _floor(x1 / w), _floor(y1 / h)
            if cy1 - cy0 >= len(rows):
                spanned = [row for cy, row in rows.items() if cy0 <= cy <= cy1]
            else:
                spanned = [rows[cy] for cy in range(cy0, cy1 + 1) if cy in rows]
            for row in spanned:  # (an empty row is dropped)
                if cx1 - cx0 >= len(row):
                    buckets = [b for cx, b in row.items() if cx0 <= cx <= cx1]
                else:
                    buckets = [row.get(cx) for cx in range(cx0, cx1 + 1)]
                for bucket in buckets:
                    if bucket:
                        for obj, o in bucket.items():
                            if o[0] < x1 and x0 < o[2] and o[1] < y1 and y0 < o[3] and obj not in skip:
                                found[obj] = o
        return found

    def near(self, rect: Rect) -> set:
        """Objects whose rectangle meets ``rect``."""
        return set(self.meeting([rect]))


class RouteIndex:
    """Layers by their drawn body (their shadow may be crossed); edges by the area whose
    layers decided their route (a layer entering or leaving it may change the route)."""

    def __init__(self) -> None:
        self.nodes = _Grid(NODE_CELL)
        self.edges = _Grid()
        self._inset: Rect | None = None

    def put_node(self, item, rect: QRectF) -> QRectF | None:
        """Index ``item`` (a NodeItem) by its body inside its scene bounding ``rect``;
        return where that body was before (None if new)."""
        if self._inset is None:  # the same for every layer: measured once
            outer, body = item.boundingRect(), item.body_rect()
            self._inset = (body.left() - outer.left(), body.top() - outer.top(),
                           body.right() - outer.right(), body.bottom() - outer.bottom())
        old = self.nodes.rect(item)
        il, it, ir, ib = self._inset
        self.nodes.put(item, (rect.left() + il, rect.top() + it, rect.right() + ir, rect.bottom() + ib))
        return old

    def drop_node(self, item) -> None:
        self.nodes.discard(item)

    def put_edge(self, item, area: Rect | None) -> None:
        """Index an edge by the area that decided its route; None drops it."""
        if area is not None:
            self.edges.put(item, area)
        else:
            self.edges.discard(item)

    def drop_edge(self, item) -> None:
        self.edges.discard(item)

    def bodies_near(self, rects: list[Rect], skip: tuple = ()) -> list[Rect]:
        """The bodies of the layers not in ``skip`` that meet one of ``rects``, each once."""
        return list(self.nodes.meeting(rects, skip).values())

    def edges_near(self, rect: QRectF) -> set:
        return self.edges.near(as_rect(rect))


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A vertical S-curve from an output (above) to an input (below)."""
    path = QPainterPath(p1)
    dy = max(40.0, abs(p2.y() - p1.y()) * 0.5)
    path.cubicTo(p1.x(), p1.y() + dy, p2.x(), p2.y() - dy, p2.x(), p2.y())
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


_ROUNDED: dict[tuple, QPainterPath] = {}  # by shape: a regular layout repeats a few


def rounded(points: list[tuple[float, float]], radius: float = CORNER) -> QPainterPath:
    """A polyline through ``points`` (x, y), each run horizontal or vertical, with its
    corners rounded: made once per shape (the points relative to the first), then moved."""
    ox, oy = points[0]
    key = (radius, *((x - ox, y - oy) for x, y in points))
    shape = _ROUNDED.get(key)
    if shape is None:
        if len(_ROUNDED) > 4096:
            _ROUNDED.clear()
        shape = _ROUNDED[key] = _rounded(key[1:], radius)
    return shape.translated(ox, oy)


def _rounded(points: tuple[tuple[float, float], ...], radius: float) -> QPainterPath:
    """rounded() itself (a run's length is the sum of its sides: it is straight)."""
    xy = [points[0]]
    for p in points:
        if p != xy[-1]:
            xy.append(p)
    path = QPainterPath(QPointF(*xy[0]))
    line, quad = path.lineTo, path.quadTo
    for (ax, ay), (bx, by), (cx, cy) in zip(xy, xy[1:], xy[2:]):
        ab, bc = abs(ax - bx) + abs(ay - by), abs(cx - bx) + abs(cy - by)
        r = min(radius, ab / 2, bc / 2)
        line(bx + (ax - bx) * r / ab, by + (ay - by) * r / ab)
        quad(bx, by, bx + (cx - bx) * r / bc, by + (cy - by) * r / bc)
    line(*xy[-1])
    return path


def _segment_meets(a: QPointF, b: QPointF, rect: Rect) -> bool:
    """Liang-Barsky: does the segment a-b touch ``rect``?"""
    x0, y0, dx, dy = a.x(), a.y(), b.x() - a.x(), b.y() - a.y()
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - rect[0]), (dx, rect[2] - x0), (-dy, y0 - rect[1]), (dy, rect[3] - y0)):
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


def crosses(path: QPainterPath, rect: Rect) -> bool:
    """Whether the drawn line of ``path`` meets ``rect``. QPainterPath.intersects counts
    the area an open path encloses, so a route round a layer would always "meet" it; it
    stays as the fast rejection, the flattened line decides."""
    if not path.intersects(_qrect(rect)):
        return False
    for polygon in path.toSubpathPolygons():
        points = [polygon.at(i) for i in range(polygon.size())]
        if any(_segment_meets(a, b, rect) for a, b in zip(points, points[1:])):
            return True
    return False


def _pad(rect: QRectF, by: float = 1.0) -> Rect:
    """As a tuple, ``by`` larger each side (a straight vertical curve's rect has no width)."""
    return (rect.left() - by, rect.top() - by, rect.right() + by, rect.bottom() + by)


def plan_route(p1: QPointF, p2: QPointF, src: QRectF, dst: QRectF,
               near: Callable[[QRectF], list[QRectF]]) -> tuple[QPainterPath, QRectF]:
    """(the edge's path, the area whose layers decided it: a layer entering or leaving
    it may change the route). ``near`` gives the other layers' bodies (not src, dst)."""
    def near_t(rect: Rect, runs: list[Rect] | None = None) -> list[Rect]:
        bodies = [as_rect(r) for r in near(as_qrect(rect))]
        return [b for b in bodies if any(meet(r, b) for r in runs)] if runs else bodies

    path, area = route_edge(p1, p2, as_rect(src), as_rect(dst), near_t)
    return path, as_qrect(area)


def route_edge(p1: QPointF, p2: QPointF, src: Rect, dst: Rect, near: Near) -> tuple[QPainterPath, Rect]:
    """plan_route on tuples: ``near`` gives the other layers' bodies that meet a rect."""
    x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
    if y2 < y1:  # up or sideways: the S-curve would loop through its own layers
        return _around(p1, p2, src, dst, near, (min(x1, x2) - 1, y2 - 1, max(x1, x2) + 1, y1 + 1))
    straight = curve(p1, p2)
    area = _pad(straight.boundingRect())
    # (the layers beside the ends only touch the curve's rect: not asked about)
    hits = [r for r in near((area[0], area[1] + 1, area[2], area[3] - 1)) if crosses(straight, r)]
    if not hits:
        return straight, area
    if y2 - y1 >= MIN_DETOUR_DY:
        return _lane(p1, p2, hits, near, area)
    return _around(p1, p2, src, dst, near, area)


def _lane(p1: QPointF, p2: QPointF, hits: list[Rect], near: Near, area: Rect) -> tuple[QPainterPath, Rect]:
    """Down the first free lane right of the layers the curve crossed: just past them,
    else in the gap before the next layer, else past that one too."""
    right = max(r[2] for r in hits)
    x, best = right + LANE_GAP, None
    for _ in range(MAX_TRIES):
        path = detour(p1, p2, x)
        box = _pad(path.boundingRect())
        area = _unite(area, box)
        blocked = [r for r in near(box) if crosses(path, r)]
        if not blocked:
            return path, area
        if best is None or len(blocked) < best[0]:
            best = (len(blocked), path)
        ahead = [r[0] for r in blocked if r[0] > right]
        gap = (right + min(ahead)) / 2 if ahead else None
        if gap is not None and min(ahead) - right >= 4 * CLEAR and abs(gap - x) > 1:
            x = gap
        else:
            right = max(right, max(r[2] for r in blocked))
            x = right + LANE_GAP
    return best[1], area


def _blocked(x1: float, x2: float, x: float, low: float, high: float, src: Rect, dst: Rect,
             near: Near) -> tuple[list[Rect], Rect]:
    """(the bodies on the three straight runs between the stubs: across at ``low`` from
    ``x1`` to the lane ``x``, along it to ``high``, across to ``x2``; each run widened to
    its corridor; the rect of those corridors)."""
    top, bottom = min(low, high) - CLEAR, max(low, high) + CLEAR
    runs = [(min(x1, x) - CLEAR, low - CLEAR, max(x1, x) + CLEAR, low + CLEAR),
            (x - CLEAR, top, x + CLEAR, bottom),
            (min(x, x2) - CLEAR, high - CLEAR, max(x, x2) + CLEAR, high + CLEAR)]
    box = (min(x1, x2, x) - CLEAR, top, max(x1, x2, x) + CLEAR, bottom)
    blocked = near(box, runs)
    for own in (src, dst):
        if meet(runs[0], own) or meet(runs[1], own) or meet(runs[2], own):
            blocked.append(own)
    return blocked, box


def _around(p1: QPointF, p2: QPointF, src: Rect, dst: Rect, near: Near,
            area: Rect) -> tuple[QPainterPath, Rect]:
    """Down out of the output, sideways, up or down a lane, over to the input, down in:
    first in the gap beside the target or the source, then outside both; when a layer
    sits on a sideways run, that run passes below (or above) it instead."""
    x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
    y_out, y_in = y1 + STUB, y2 - STUB
    if dst[0] >= src[2]:
        lanes = [dst[0] - SIDE_GAP, src[2] + SIDE_GAP]
    elif dst[2] <= src[0]:
        lanes = [dst[2] + SIDE_GAP, src[0] - SIDE_GAP]
    else:
        lanes = []
    lanes += [max(src[2], dst[2]) + LANE_GAP, min(src[0], dst[0]) - LANE_GAP]
    tries = [(x, y_out, y_in) for x in lanes]
    best, varied = None, False
    for _ in range(MAX_TRIES + 3):
        if not tries:
            break
        x, low, high = tries.pop(0)
        blocked, box = _blocked(x1, x2, x, low, high, src, dst, near)
        area = _unite(area, box)
        if not blocked:
            return rounded([(x1, y1), (x1, low), (x, low), (x, high), (x2, high), (x2, y2)]), area
        if best is None or len(blocked) < best[0]:
            best = (len(blocked), [(x1, y1), (x1, low), (x, low), (x, high), (x2, high), (x2, y2)])
        if not tries and not varied:  # pass under / over what blocked, beside the target
            varied = True
            others = [r for r in blocked if r is not src and r is not dst] or blocked
            under = max(max(r[3] for r in others), src[3]) + SIDE_GAP
            over = min(min(r[1] for r in others), dst[1]) - SIDE_GAP
            tries = [(lanes[0], under, y_in), (lanes[0], y_out, over), (lanes[0], under, over)]
        elif not tries:  # past everything that blocked this one, on its side
            tries.append((max(r[2] for r in blocked) + LANE_GAP if x >= x1
                          else min(r[0] for r in blocked) - LANE_GAP, low, high))
    return rounded(best[1]), area
