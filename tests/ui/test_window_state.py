"""The saved dock layout is checked before QMainWindow.restoreState sees it.

Qt indexes its dock areas with a number read from the layout data, unchecked: one changed
byte in the ``window/state`` setting segfaulted the app at every start. The check accepts
every layout the app writes and refuses that one; a seeded fuzz restores every mutated
layout it accepts (a crash here fails the run).
"""

from __future__ import annotations

import logging
import random
import struct

from PySide6.QtCore import QByteArray, QSettings

from visionstudio.ui.shell.main_window import STATE_VERSION
from visionstudio.ui.shell.window_state import MAX_DEPTH, state_problem

from .shell_helpers import make_window


def _layouts(window) -> list[bytes]:
    """The default layout, one with two docks tabbed together and one with a floating dock."""
    states = [bytes(window.saveState(STATE_VERSION).data())]
    docks = list(window.docks.values())
    window.tabifyDockWidget(docks[0], docks[1])
    states.append(bytes(window.saveState(STATE_VERSION).data()))
    docks[2].setFloating(True)
    states.append(bytes(window.saveState(STATE_VERSION).data()))
    window.reset_layout()
    return states


def _dock_area_byte(state: bytes) -> int:
    """Offset of the first dock area's index: header (8), marker (1), area count (4)."""
    assert state[8] == 0xFD
    return 13


def test_every_layout_the_app_writes_is_accepted(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    for state in _layouts(w):
        assert state_problem(state, STATE_VERSION) is None
        assert w.restoreState(state, STATE_VERSION)


def test_a_dock_area_out_of_range_is_refused(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    state = bytearray(_layouts(w)[0])
    at = _dock_area_byte(state)
    state[at:at + 4] = struct.pack(">i", 4)  # Qt writes docks[4]: past its array of four
    assert "dock area is 4" in state_problem(bytes(state), STATE_VERSION)


def test_malformed_layouts_are_refused(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    state = _layouts(w)[0]
    assert "ends inside" in state_problem(state[:-3], STATE_VERSION)
    assert "unknown section" in state_problem(state + b"\x01", STATE_VERSION)
    assert "another version" in state_problem(state, STATE_VERSION + 1)
    assert "marker" in state_problem(b"garbage!", STATE_VERSION)
    # splits nested past the limit: sequence items inside sequence groups
    group = b"\xfc\x01" + struct.pack(">i", 1) + b"\xfc" + struct.pack(">4i", 0, 10, 0, 10)
    deep = (struct.pack(">ii", 0xFF, STATE_VERSION) + b"\xfd" + struct.pack(">i", 1)
            + struct.pack(">3i", 0, 10, 10) + group * (MAX_DEPTH + 2))
    assert "nest deeper" in state_problem(deep, STATE_VERSION)


def test_the_window_starts_with_the_crashing_layout_in_its_settings(qtbot, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="visionstudio.settings")
    probe = make_window(qtbot, tmp_path / "probe", show=True)
    state = bytearray(probe.saveState(STATE_VERSION).data())
    state[13:17] = struct.pack(">i", 1 << 26)
    writer = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    writer.setValue("window/state", QByteArray(bytes(state)))
    writer.sync()
    del writer
    w = make_window(qtbot, tmp_path, show=True)
    assert w.isVisible()
    (line,) = [r.getMessage() for r in caplog.records if "window/state" in r.getMessage()]
    assert "is unusable" in line and "dock area" in line


def test_mutated_layouts_that_pass_the_check_restore_without_crashing(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    layouts = _layouts(w)
    rng = random.Random(11)
    accepted = 0
    for _ in range(400):
        data = bytearray(rng.choice(layouts))
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.choice([0, 1, 2, 4, 8, 0xFA, 0xFB, 0xFC, 0xFF,
                                                         rng.randrange(256)])
        if state_problem(bytes(data), STATE_VERSION) is None:
            accepted += 1
            w.restoreState(bytes(data), STATE_VERSION)
    assert accepted > 50  # the fuzz reached Qt, not only the check
