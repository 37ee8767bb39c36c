"""Book-keeping of worker QThreads, so shutdown and tests can prove none is left running,
and so that no QThread is ever destroyed while it still runs.

A QThread (or a worker moved to it) owned only by a Python attribute dies with its
owner: a panel closed, or a document replaced, while a background load is still
running would then abort the whole app ("QThread: Destroyed while thread is still
running"). ``keep_alive`` holds such objects until the thread has really finished.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QObject, Qt, QThread, Slot

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


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


class _Reaper(QObject):
    """Lives on the GUI thread; releases held threads once they have finished."""

    def __init__(self) -> None:
        super().__init__()
        self._held: dict[QThread, tuple[QObject, ...]] = {}

    def hold(self, thread: QThread, companions: tuple[QObject, ...]) -> None:
        self._held[thread] = companions
        thread.finished.connect(self._release, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _release(self) -> None:
        for thread in [t for t in self._held if t.isFinished()]:
            thread.wait()  # returns at once: run() is over, only the last bookkeeping is left
            del self._held[thread]

    def held(self) -> int:
        return len(self._held)


_reaper: _Reaper | None = None


def keep_alive(thread: QThread, *companions: QObject) -> QThread:
    """Keep ``thread`` (and e.g. the worker moved to it) alive until it has finished.

    Call from the GUI thread before ``thread.start()``.
    """
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    _reaper.hold(thread, companions)
    return thread


def held_threads() -> int:
    return _reaper.held() if _reaper is not None else 0
