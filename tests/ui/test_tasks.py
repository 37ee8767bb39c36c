"""The background-task helper: results, progress and partials on the GUI thread, in
order; cancel; exceptions to the error reporter; tasks outlive their owners."""

from __future__ import annotations

import gc
import threading
import time

import pytest
from PySide6.QtCore import QObject, QThread

from visionstudio.ui.shell import tasks
from visionstudio.ui.shell.tasks import BackgroundTask, held_tasks, live_tasks, run_task, wait_all


@pytest.fixture
def reported():
    calls: list[tuple] = []
    tasks.set_error_reporter(lambda t, v, tb, where="": calls.append((t, v, where)))
    yield calls
    tasks.set_error_reporter(None)


def _wait_done(qtbot, task: BackgroundTask) -> None:
    with qtbot.waitSignal(task.done, timeout=10_000):
        pass


def test_result_arrives_on_the_gui_thread(qtbot):
    seen = []
    gui = QThread.currentThread()

    def work(state, a, b=0):
        seen.append((threading.current_thread().name, threading.get_native_id()))
        return a + b

    task = BackgroundTask(work, 2, b=3, name="add")
    got = []
    task.finished.connect(lambda v: got.append((v, QThread.currentThread() is gui, task.is_running())))
    with qtbot.waitSignal(task.done, timeout=10_000):
        task.start()
    assert got == [(5, True, False)]
    assert seen[0][0] == "add" and seen[0][1] != threading.get_native_id()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=5_000)


def test_progress_and_partials_arrive_in_order(qtbot):
    def work(state):
        for i in range(50):
            state.emit(i)
            state.set_progress((i + 1) / 50, f"step {i + 1}")
        return "end"

    events = []
    task = run_task(work, name="stream", on_partial=lambda x: events.append(("partial", x)),
                    on_progress=lambda f, t: events.append(("progress", f, t)),
                    on_finished=lambda v: events.append(("finished", v)))
    task.done.connect(lambda: events.append(("done",)))
    _wait_done(qtbot, task)
    partials = [e[1] for e in events if e[0] == "partial"]
    progress = [e[1] for e in events if e[0] == "progress"]
    assert partials == list(range(50))
    assert progress and progress == sorted(progress) and progress[-1] == 1.0
    assert ("progress", 1.0, "step 50") in events
    assert events[-2:] == [("finished", "end"), ("done",)]


def test_cancel_stops_the_function_and_is_not_reported(qtbot, reported):
    def work(state):
        while not state.cancelled:
            time.sleep(0.005)
        raise InterruptedError("stopped")

    failed = []
    task = run_task(work, name="loop", on_failed=failed.append)
    qtbot.wait(30)
    assert task.is_running()
    task.cancel()
    assert task.cancel_requested
    _wait_done(qtbot, task)
    assert len(failed) == 1 and isinstance(failed[0], InterruptedError)
    assert reported == []


def test_an_exception_goes_to_the_error_reporter(qtbot, reported):
    def work(state):
        raise ValueError("bad input")

    failed, finished = [], []
    task = run_task(work, name="broken", on_failed=failed.append, on_finished=finished.append)
    _wait_done(qtbot, task)
    assert finished == []
    assert isinstance(failed[0], ValueError) and str(failed[0]) == "bad input"
    assert failed[0].__traceback__ is not None
    assert [(t, str(v), where) for t, v, where in reported] == [(ValueError, "bad input", "broken")]


def test_report_errors_false_only_fails(qtbot, reported):
    task = run_task(lambda state: 1 / 0, name="quiet", report_errors=False)
    failed = []
    task.failed.connect(failed.append)
    _wait_done(qtbot, task)
    assert isinstance(failed[0], ZeroDivisionError) and reported == []


def test_task_outlives_its_deleted_owner(qtbot):
    owner = QObject()
    release = threading.Event()
    got = []

    def work(state):
        release.wait(10)
        return 1

    run_task(work, name="orphan", parent=owner, on_finished=got.append)
    assert len(live_tasks()) == 1
    owner.deleteLater()  # as when a panel is closed mid-load
    del owner
    qtbot.wait(20)
    gc.collect()
    assert len(live_tasks()) == 1 and live_tasks()[0].is_running()
    release.set()
    qtbot.waitUntil(lambda: not live_tasks() and held_tasks() == 0, timeout=10_000)
    assert got == []  # the owner is gone: nobody is told


def test_unreferenced_task_still_delivers(qtbot):
    got = []
    run_task(lambda state: time.sleep(0.05) or "kept", name="fire-and-forget", on_finished=got.append)
    gc.collect()
    qtbot.waitUntil(lambda: got == ["kept"], timeout=10_000)
    qtbot.waitUntil(lambda: held_tasks() == 0, timeout=5_000)


def test_wait_and_wait_all(qtbot):
    gate = threading.Event()

    def until_cancelled(state):
        deadline = time.monotonic() + 10
        while not state.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)

    a = run_task(lambda state: gate.wait(10), name="a")
    b = run_task(until_cancelled, name="b")
    assert not a.wait(20)          # still blocked
    gate.set()
    assert a.wait(5_000)
    assert wait_all(10_000)        # cancels b, which ends early
    assert b.cancel_requested and a.wait(0) and b.wait(0)
    qtbot.waitUntil(lambda: not live_tasks(), timeout=5_000)


def test_a_task_starts_once(qtbot):
    task = run_task(lambda state: None, name="once")
    with pytest.raises(RuntimeError):
        task.start()
    _wait_done(qtbot, task)
