"""Refcount stress: PySide6 6.12.0 on CPython 3.11 corrupts reference counts of
signal arguments and return values of void methods ("Fatal Python error:
bool_dealloc"), which crashes the app under live plots. The loop runs in a child
process, so such a crash fails this test with a clear message instead of killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import PySide6

N = 200_000

SCRIPT = textwrap.dedent(f"""
    import sys
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QWidget

    class Source(QObject):
        flag = Signal(bool)
        count = Signal(int)
        payload = Signal(object)
        mixed = Signal(bool, int, object)

    app = QApplication([])
    src, widget = Source(), QWidget()
    seen = [0, 0, 0, 0]
    def on_flag(v): seen[0] += v is True or v is False
    def on_count(v): seen[1] += 1
    def on_payload(v): seen[2] += 1
    def on_mixed(b, i, o): seen[3] += 1
    src.flag.connect(on_flag)
    src.count.connect(on_count)
    src.payload.connect(on_payload)
    src.mixed.connect(on_mixed)
    obj = {{"loss": 0.5}}
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range({N}):
        src.flag.emit(i % 2 == 0)
        src.count.emit(i)
        src.payload.emit(obj)
        src.mixed.emit(bool(i & 1), i, obj)
        widget.update()          # void methods return None: its refcount must survive
        widget.setEnabled(True)
        if i % 5000 == 0:
            app.processEvents()
    app.processEvents()
    assert seen == [{N}] * 4, seen
    assert sys.getrefcount(obj) < 10, sys.getrefcount(obj)
    print("ok", before, (sys.getrefcount(True), sys.getrefcount(False)))
""")


def test_signals_and_void_calls_do_not_corrupt_refcounts(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600)
    output = (proc.stdout + proc.stderr)[-3000:]
    if proc.returncode != 0:
        crashed = proc.returncode < 0 or "Fatal Python error" in output
        what = (f"the interpreter CRASHED (exit {proc.returncode})" if crashed
                else f"the stress script failed (exit {proc.returncode})")
        raise AssertionError(
            f"{what} after emitting Qt signals with bool/int/object arguments {N:,} times "
            f"(PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}). PySide6 6.12.0 on "
            "CPython 3.11 is known to corrupt refcounts ('Fatal Python error: bool_dealloc'): "
            "use PySide6 6.11.x, or Python 3.12+.\n--- output ---\n" + output)
    assert proc.stdout.startswith("ok"), output
