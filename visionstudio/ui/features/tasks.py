"""BackgroundTask: run a plain function on a tracked QThread, results back on the GUI thread.

The function gets a ``TaskState`` (Orange's pattern): ``progress(f)`` reports 0..1,
``cancelled()`` says when the user asked to stop. It must not touch widgets; it returns
plain data. Errors come back as ``failed(message)``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from visionstudio.ui.shell.threads import keep_alive, track


class TaskState:
    def __init__(self, worker: _Worker) -> None:
        self._worker = worker
        self.cancel_requested = False

    def progress(self, fraction: float) -> None:
        self._worker.progress.emit(float(fraction))

    def cancelled(self) -> bool:
        return self.cancel_requested


class _Worker(QObject):
    progress = Signal(float)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[TaskState], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.state = TaskState(self)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self.state)
        except InterruptedError:
            self.failed.emit("cancelled")
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.failed.emit(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        else:
            self.done.emit(result)
        finally:
            QThread.currentThread().quit()


class BackgroundTask(QObject):
    """One run of ``fn`` on its own QThread; emits progress / done / failed, then ended."""

    progress = Signal(float)
    done = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, fn: Callable[[TaskState], Any], name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = _Worker(fn)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progress.connect(self.progress)
        self.worker.done.connect(self.done)
        self.worker.failed.connect(self.failed)
        self.thread.finished.connect(self._on_thread_finished)
        track(self.thread)
        keep_alive(self.thread, self.worker)  # the view may close while this runs

    def start(self) -> BackgroundTask:
        self.thread.start()
        return self

    def cancel(self) -> None:
        self.worker.state.cancel_requested = True

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, ms: int = 30_000) -> bool:
        return self.thread.wait(ms)

    def _on_thread_finished(self) -> None:
        self.ended.emit()
