"""The one way to run work off the GUI thread (Orange's TaskState is the model).

``run_task(fn, *args, name=...)`` runs ``fn(state, *args, **kwargs)`` on its own thread.
The function gets a ``TaskState``: it reads ``state.cancelled`` (a flag, checked as often
as it likes), reports ``state.set_progress(fraction, text)`` and streams partial results
with ``state.emit(item)``. It returns plain data and never touches a widget. Progress,
partials, the result and an exception all reach the GUI thread through queued signals,
in the order the function produced them, then ``done`` fires last.

Why a helper and not a QThread per panel: a QThread owned only by a panel dies with it,
and a panel closed or a document replaced while a load still runs would then abort the
whole app ("QThread: Destroyed while thread is still running"). Every task and its
thread are held here until the thread has finished, whatever happens to the owner; an
owner that is gone simply gets no signals. Shutdown calls ``wait_all``.

An exception goes to the app's error reporter (``set_error_reporter``; before one is
installed, ``sys.excepthook``) unless the task was started with ``report_errors=False``
(a panel that shows the failure in its own words) or it was raised after ``cancel()``
(a stopped task is not an error). ``failed`` carries the exception either way.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

log = logging.getLogger("visionstudio")

Reporter = Callable[..., None]  # (exc_type, exc_value, exc_tb, where="") like ErrorReporter.report
_reporter: Reporter | None = None


def set_error_reporter(report: Reporter | None) -> None:
    """Where task exceptions go: the app installs ``ErrorReporter.report`` at start."""
    global _reporter
    _reporter = report


def _report(exc: BaseException, where: str) -> None:
    log.error("background task %r failed: %s: %s", where, type(exc).__name__, exc)
    if _reporter is not None:
        _reporter(type(exc), exc, exc.__traceback__, where=where)
    else:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def one_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message, for a panel's status text."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class _Relay(QObject):
    """Carries the worker's news to the GUI thread; outlives the task it reports to."""

    progressed = Signal()         # the newest progress is read from the state (coalesced)
    partial = Signal(object)
    result = Signal(bool, object)  # ok, return value or exception


class TaskState:
    """What the function sees, on its thread: the cancel flag and two ways to report."""

    def __init__(self, relay: _Relay) -> None:
        self._relay = relay
        self._cancel = threading.Event()
        self._progress: tuple[float, str] = (0.0, "")
        self._progress_pending = False

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def set_progress(self, fraction: float, text: str = "") -> None:
        """Report how far the work is (0..1). Cheap to call per batch: while the GUI has
        not shown the last value yet, a newer one replaces it instead of queueing."""
        self._progress = (min(1.0, max(0.0, float(fraction))), str(text))
        if not self._progress_pending:
            self._progress_pending = True
            self._relay.progressed.emit()

    def emit(self, item: Any) -> None:
        """Send one partial result to the GUI thread; every item arrives, in order."""
        self._relay.partial.emit(item)

    def _take_progress(self) -> tuple[float, str]:
        self._progress_pending = False  # first: a value set after this posts again
        return self._progress


class _TaskThread(QThread):
    def __init__(self, call: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._call, self._relay = call, relay

    def run(self) -> None:  # the worker thread
        threading.current_thread().name = self.objectName()  # for logs and faulthandler
        try:
            value = self._call()
        except BaseException as exc:  # noqa: BLE001 - every error crosses to the GUI thread as `failed`
            self._relay.result.emit(False, exc)
        else:
            self._relay.result.emit(True, value)


class BackgroundTask(QObject):
    """One run of ``fn(state, *args, **kwargs)`` on its own thread."""

    progressed = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)   # the return value
    failed = Signal(object)     # the exception
    done = Signal()             # always, last

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str, parent: QObject | None = None,
                 report_errors: bool = True, **kwargs: Any) -> None:
        super().__init__(parent)
        self.name, self.report_errors = name, report_errors
        self._relay = _Relay()
        self.state = TaskState(self._relay)
        state = self.state
        self._thread = _TaskThread(lambda: fn(state, *args, **kwargs), self._relay)
        self._thread.setObjectName(name)  # Qt names the OS thread after it
        self._running = False
        q = Qt.ConnectionType.QueuedConnection
        self._relay.progressed.connect(self._on_progressed, q)
        self._relay.partial.connect(self._on_partial, q)
        self._relay.result.connect(self._on_result, q)

    def start(self, priority: QThread.Priority = QThread.Priority.InheritPriority) -> BackgroundTask:
        """Start the thread (call once, from the GUI thread)."""
        if self._running or self._thread.isFinished():
            raise RuntimeError(f"task {self.name!r} was already started")
        self._running = True
        _hold(self)
        self._thread.start(priority)
        return self

    def cancel(self) -> None:
        """Ask the function to stop; it sees ``state.cancelled`` the next time it looks."""
        self.state._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self.state.cancelled

    def is_running(self) -> bool:
        """True from ``start`` until the result has been delivered (``done``)."""
        return self._running

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the thread has ended; True if it did within ``timeout_ms``. The
        result still arrives through the event loop afterwards."""
        return self._thread.wait(max(0, int(timeout_ms)))

    # Plain Python attributes only above this line: the methods work even when an owner
    # deleted this object's C++ side (shutdown still cancels and waits through them).

    @Slot()
    def _on_progressed(self) -> None:
        self.progressed.emit(*self.state._take_progress())

    @Slot(object)
    def _on_partial(self, item: Any) -> None:
        self.partial.emit(item)

    @Slot(bool, object)
    def _on_result(self, ok: bool, value: Any) -> None:
        self._running = False
        if ok:
            self.finished.emit(value)
        else:
            if self.report_errors and not self.state.cancelled:
                _report(value, self.name)
            self.failed.emit(value)
        self.done.emit()


def run_task(fn: Callable[..., Any], *args: Any, name: str, parent: QObject | None = None,
             report_errors: bool = True, on_finished: Callable[[Any], None] | None = None,
             on_failed: Callable[[BaseException], None] | None = None,
             on_progress: Callable[[float, str], None] | None = None,
             on_partial: Callable[[Any], None] | None = None, **kwargs: Any) -> BackgroundTask:
    """Start ``fn(state, *args, **kwargs)`` on its own thread; the callbacks run on the
    GUI thread. With a ``parent`` the callbacks stop when the parent is deleted."""
    task = BackgroundTask(fn, *args, name=name, parent=parent, report_errors=report_errors, **kwargs)
    for signal, slot in ((task.finished, on_finished), (task.failed, on_failed),
                         (task.progressed, on_progress), (task.partial, on_partial)):
        if slot is not None:
            signal.connect(slot)
    return task.start()


# -- keep-alive ------------------------------------------------------------------------------

_held: dict[_TaskThread, BackgroundTask] = {}


class _Reaper(QObject):
    """Lives on the GUI thread; lets go of a task once its thread has finished. Its
    queued ``finished`` arrives after the task's result, which was posted first."""

    @Slot()
    def release(self) -> None:
        for thread in [t for t in _held if t.isFinished()]:
            thread.wait()  # returns at once: run() is over, only Qt's bookkeeping is left
            del _held[thread]


_reaper: _Reaper | None = None


def _hold(task: BackgroundTask) -> None:
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    _held[task._thread] = task
    task._thread.finished.connect(_reaper.release, Qt.ConnectionType.QueuedConnection)


def live_tasks() -> list[BackgroundTask]:
    """Tasks whose thread is still running (shutdown waits for these; tests expect none)."""
    return [task for thread, task in list(_held.items()) if not thread.isFinished()]


def held_tasks() -> int:
    """How many tasks are still held: running, or finished with the release still queued."""
    return len(_held)


def wait_all(timeout_ms: int = 10_000, *, cancel: bool = True) -> bool:
    """Cancel (unless told not to) and wait for every live task: at shutdown, so no thread
    outlives the app. True if all threads ended within ``timeout_ms`` in total."""
    tasks = live_tasks()
    if cancel:
        for task in tasks:
            task.cancel()
    deadline = time.monotonic() + timeout_ms / 1000
    ok = True
    for task in tasks:
        left_ms = int((deadline - time.monotonic()) * 1000)
        ok = task.wait(max(0, left_ms)) and ok
    return ok
