"""Book-keeping of worker QThreads, so shutdown and tests can prove none is left running."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QThread

_threads: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    _threads.add(thread)
    return thread


def live_threads() -> list[QThread]:
    out = []
    for t in list(_threads):
        try:
            if t.isRunning():
                out.append(t)
        except RuntimeError:  # the C++ object is gone
            continue
    return out
