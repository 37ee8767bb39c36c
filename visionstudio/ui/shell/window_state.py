"""A strict check of QMainWindow.saveState() data before QMainWindow.restoreState() sees it.

Qt trusts this blob: ``QDockAreaLayout::restoreState`` indexes its four dock areas with a
position read from the data, unchecked, so one changed byte in the saved layout (the
``window/state`` setting) segfaults the app at every start. Qt's own checks only run
after that. This walks the format as Qt 6 writes it (qmainwindow.cpp, qmainwindowlayout.cpp,
qdockarealayout.cpp, qtoolbararealayout.cpp; QDataStream big-endian) and accepts only
data that Qt could have written: known markers, dock area and corner values in range,
counts that fit in the data, bounded nesting, well-formed strings, nothing left over.
"""

from __future__ import annotations

import struct

VERSION_MARKER = 0xFF              # QMainWindowLayout::VersionMarker
DOCK_STATE_MARKER = 0xFD           # QDockAreaLayout::DockWidgetStateMarker
FLOATING_TAB_MARKER = 0xF9         # QDockAreaLayout::FloatingDockWidgetTabMarker
SEQUENCE_MARKER = 0xFC             # QDockAreaLayoutInfo::SequenceMarker
TAB_MARKER = 0xFA                  # QDockAreaLayoutInfo::TabMarker
WIDGET_MARKER = 0xFB               # QDockAreaLayoutInfo::WidgetMarker
TOOLBAR_MARKER, TOOLBAR_MARKER_EX = 0xFE, 0xFC  # QToolBarAreaLayout::ToolBarStateMarker(Ex)
DOCK_COUNT = 4                     # QInternal::DockCount: left, right, top, bottom
DOCK_AREAS = (1, 2, 4, 8)          # Qt::DockWidgetArea values a corner may take
MAX_DEPTH = 16                     # nested splits; Qt layouts a person makes stay far below
MAX_COORD = 1 << 26                # 4 x QWIDGETSIZE_MAX: maxima are written with margins added
MAX_NAME_BYTES = 1024              # an objectName, UTF-16


class StateError(ValueError):
    """The data is not a main-window state this app's Qt could have written."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise StateError(f"it ends inside {what} (byte {self.pos})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def i32(self, what: str, low: int = -MAX_COORD, high: int = MAX_COORD) -> int:
        value = struct.unpack(">i", self.take(4, what))[0]
        if not low <= value <= high:
            raise StateError(f"{what} is {value}, outside {low}..{high} (byte {self.pos - 4})")
        return value

    def u32(self, what: str) -> int:
        return struct.unpack(">I", self.take(4, what))[0]

    def count(self, what: str, min_item_bytes: int) -> int:
        left = len(self.data) - self.pos - 4
        return self.i32(what, 0, max(0, left // min_item_bytes))

    def qstring(self, what: str) -> None:
        n = self.u32(what)
        if n == 0xFFFFFFFF:
            return  # a null string
        if n % 2 or n > MAX_NAME_BYTES:
            raise StateError(f"{what} has an impossible length {n} (byte {self.pos - 4})")
        self.take(n, what)


def _dock_info(r: _Reader, depth: int) -> None:
    """QDockAreaLayoutInfo::restoreState: one split or tab group, recursively."""
    if depth > MAX_DEPTH:
        raise StateError(f"dock splits nest deeper than {MAX_DEPTH}")
    marker = r.u8("a dock group marker")
    if marker == TAB_MARKER:
        r.i32("a current tab index", -1, MAX_COORD)
    elif marker != SEQUENCE_MARKER:
        raise StateError(f"unknown dock group marker 0x{marker:02x} (byte {r.pos - 1})")
    orientation = r.u8("an orientation")
    if orientation not in (1, 2):  # Qt::Horizontal, Qt::Vertical
        raise StateError(f"orientation is {orientation} (byte {r.pos - 1})")
    for _ in range(r.count("a dock item count", 18)):
        item = r.u8("a dock item marker")
        if item == WIDGET_MARKER:
            r.qstring("a dock name")
            r.u8("dock flags")
            for field in ("x or position", "y or size", "width or minimum", "height or maximum"):
                r.i32(f"a dock {field}")
        elif item == SEQUENCE_MARKER:
            for field in ("position", "size", "minimum", "maximum"):
                r.i32(f"a split {field}")
            _dock_info(r, depth + 1)
        else:
            raise StateError(f"unknown dock item marker 0x{item:02x} (byte {r.pos - 1})")


def _dock_areas(r: _Reader) -> None:
    """QDockAreaLayout::restoreState: the four areas around the central widget."""
    seen: set[int] = set()
    for _ in range(r.i32("the dock area count", 0, DOCK_COUNT)):
        pos = r.i32("a dock area", 0, DOCK_COUNT - 1)  # the index Qt does not check
        if pos in seen:
            raise StateError(f"dock area {pos} appears twice")
        seen.add(pos)
        r.i32("a dock area width")
        r.i32("a dock area height")
        _dock_info(r, 0)
    r.i32("the central width")
    r.i32("the central height")
    for corner in range(4):
        value = r.i32("a corner")
        if value not in DOCK_AREAS:
            raise StateError(f"corner {corner} is dock area {value}")


def _toolbars(r: _Reader, marker: int) -> None:
    """QToolBarAreaLayout::restoreState: lines of toolbars per area."""
    per_item = 13 + (8 if marker == TOOLBAR_MARKER_EX else 0)
    for _ in range(r.count("the toolbar line count", 8)):
        r.i32("a toolbar area", 0, DOCK_COUNT - 1)
        for _ in range(r.count("a toolbar count", per_item)):
            r.qstring("a toolbar name")
            r.u8("toolbar flags")
            r.i32("a toolbar position")
            r.i32("a toolbar size")
            if marker == TOOLBAR_MARKER_EX:
                r.u32("a toolbar geometry")
                r.u32("a toolbar geometry")


def state_problem(data: bytes, version: int) -> str | None:
    """Why ``data`` must not reach ``restoreState(data, version)``; None when it may."""
    r = _Reader(bytes(data))
    try:
        if r.i32("the header", -(1 << 31), (1 << 31) - 1) != VERSION_MARKER:
            return "it does not start with Qt's main-window state marker"
        if r.i32("the version", -(1 << 31), (1 << 31) - 1) != version:
            return f"it is a layout of another version (not {version})"
        seen: set[int] = set()
        while r.pos < len(r.data):
            marker = r.u8("a section marker")
            kind = "toolbars" if marker in (TOOLBAR_MARKER, TOOLBAR_MARKER_EX) else marker
            if kind in seen and marker != FLOATING_TAB_MARKER:
                return f"section 0x{marker:02x} appears twice"
            seen.add(kind)
            if marker == DOCK_STATE_MARKER:
                _dock_areas(r)
            elif marker == FLOATING_TAB_MARKER:
                for field in ("left", "top", "right", "bottom"):
                    r.i32(f"a floating group's {field}")
                _dock_info(r, 0)
            elif kind == "toolbars":
                _toolbars(r, marker)
            else:
                return f"unknown section marker 0x{marker:02x} (byte {r.pos - 1})"
    except StateError as exc:
        return str(exc)
    return None
