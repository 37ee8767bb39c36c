"""The app's garbage collector (ui/shell/collector.py): cyclic garbage is freed on the GUI
thread only, and a training run keeps full collections off the app's heap.

The attack these stop: a collection in a worker thread frees Qt's Python wrappers that
became garbage, off the GUI thread, and Qt crashes (two CI runs of 2026-12-01, once in a
NaN run's memory release on the training thread)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

import pytest

from visionstudio.core import gcpause
from visionstudio.ui.shell import collector

from .test_training_run import make_controller, make_loss_diverge, wait_done

WAIT_MS = 30_000   # the first oldest collection walks the whole test process's heap


class Cycle:
    """A reference cycle that notes the thread it is freed on."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.get_ident())


@pytest.fixture
def app_parts(qtbot, tmp_path, monkeypatch):
    """The training panel and the dashboard on a tiny Shapes run (as test_training_run)."""
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.training.panel import TrainingPanel

    controller = make_controller(tmp_path, monkeypatch)
    panel, plots = TrainingPanel(controller), MetricsPlots(controller)
    qtbot.addWidget(panel)
    qtbot.addWidget(plots)
    yield controller, panel, plots
    panel.training.shutdown()


class NoButtons:
    """An earlier test may leave a simulated button pressed in Qt's state."""

    @staticmethod
    def mouseButtons():  # noqa: N802 - Qt's name
        from PySide6.QtCore import Qt

        return Qt.MouseButton.NoButton


@contextlib.contextmanager
def collecting_threads() -> Iterator[list[int]]:
    """The thread of every collection that starts inside the block (gc.callbacks)."""
    threads: list[int] = []

    def callback(phase: str, _info: dict) -> None:
        if phase == "start":
            threads.append(threading.get_ident())

    gc.callbacks.append(callback)
    try:
        yield threads
    finally:
        gc.callbacks.remove(callback)


@pytest.fixture
def installed(qtbot, monkeypatch):
    assert collector.installed() is None
    monkeypatch.setattr(collector, "QGuiApplication", NoButtons)
    was_enabled = gc.isenabled()
    got = collector.install()
    got.quiet_s = 0.0                    # the offscreen pointer never moves: always quiet
    Cycle.freed_on.clear()
    try:
        with collecting_threads() as threads:
            yield got, threads
    finally:
        collector.uninstall()
        assert gc.isenabled() == was_enabled and gc.get_freeze_count() == 0


def make_garbage_in_a_thread(count: int) -> None:
    def work() -> None:
        for _ in range(count):
            Cycle()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()


def test_cycles_made_by_a_worker_are_freed_on_the_gui_thread(qtbot, installed):
    got, threads = installed
    assert not gc.isenabled()
    make_garbage_in_a_thread(5 * gc.get_threshold()[0])   # several generation-0 rounds' worth
    # what the app does meanwhile: objects made. The count is allocations minus frees, and
    # a previous test's widgets deleted during the wait free many, which could leave it
    # under the threshold (Python's own collector would then wait for allocations too)
    alive: list[list] = []
    gui = threading.get_ident()

    def freed() -> bool:
        alive.extend([] for _ in range(gc.get_threshold()[0]))
        return len(Cycle.freed_on) >= 5 * gc.get_threshold()[0]

    qtbot.waitUntil(freed, timeout=WAIT_MS)
    assert set(Cycle.freed_on) == {gui}
    assert threads and set(threads) == {gui}
    assert sum(got.collections) >= 1


def test_a_workers_request_for_memory_is_collected_on_the_gui_thread(qtbot, installed):
    got, threads = installed
    made = []

    def work() -> None:
        made.append(Cycle())
        made.clear()                     # garbage now, held only by its own cycle
        gcpause.collect_garbage()        # what release_memory does after an OOM or NaN
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert Cycle.freed_on == [] and threads == []   # nothing collected on the worker
    qtbot.waitUntil(lambda: got.collections[2] >= 1, timeout=WAIT_MS)
    assert Cycle.freed_on == [threading.get_ident()]


def test_without_the_collector_only_the_main_thread_collects_on_request():
    """The command line and the tests: a worker's request collects nothing (its collection
    freed a garbage Qt widget on the training thread and deadlocked the suite)."""
    assert collector.installed() is None
    with collecting_threads() as threads:
        worker = threading.Thread(target=gcpause.collect_garbage)
        worker.start()
        worker.join()
        gcpause.collect_garbage()
    assert worker.ident not in threads and threading.get_ident() in threads


def test_uninstall_hands_back_frozen_objects_and_collects_here(qtbot, installed):
    got, _threads = installed
    got.hold_heap()
    got.hold_heap()                      # two runs at once share one freeze
    assert gc.get_freeze_count() > 0 and got.holding
    got.release_heap()
    assert gc.get_freeze_count() > 0     # still held by the other
    collector.uninstall()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    collector.install()                  # the fixture's own uninstall then finds one


def test_a_run_holds_the_heap_and_the_gui_thread_collects_after_it(qtbot, installed, app_parts):
    got, threads = installed
    controller, panel, plots = app_parts
    session = panel.training
    during: list[int] = []
    session.batch.connect(lambda _record: during.append(gc.get_freeze_count()))
    assert session.train()
    wait_done(qtbot, session)
    assert during and min(during) > 0
    assert not got.holding
    full = got.collections[2]
    qtbot.waitUntil(lambda: got.collections[2] > full, timeout=WAIT_MS)   # what it left, after it
    assert set(threads) == {threading.get_ident()}


def test_a_nan_runs_memory_release_collects_on_the_gui_thread(qtbot, installed, app_parts,
                                                               monkeypatch):
    got, threads = installed
    controller, panel, plots = app_parts
    session = panel.training
    make_loss_diverge(monkeypatch)
    failures = []
    session.failed.connect(failures.append)
    assert session.train()
    wait_done(qtbot, session)
    assert failures and failures[0].kind == "nan"
    qtbot.waitUntil(lambda: got.collections[2] >= 1, timeout=WAIT_MS)
    assert set(threads) == {threading.get_ident()}


def test_a_cycle_among_frozen_objects_waits_for_a_whole_heap_collection(qtbot, installed):
    """Survivors of each oldest-generation collection are frozen; a cycle among them is
    freed by a whole-heap collection, once the frozen part grew by a quarter, never while a
    run holds the heap."""
    got, threads = installed
    kept = [Cycle()]
    got.request_full()
    got.tick()                            # the cycle survives (kept) and is frozen
    assert gc.get_freeze_count() > 0
    kept.clear()                          # now garbage, but frozen
    wholes = got.whole_heap
    got.hold_heap()
    padding = [[] for _ in range(gc.get_freeze_count())]   # the frozen part doubles
    got.request_full()
    got.tick()
    assert Cycle.freed_on == [] and got.whole_heap == wholes   # a run trains: not now
    got.release_heap()
    got.tick()                            # the run's end asked for it
    assert Cycle.freed_on == [threading.get_ident()] and got.whole_heap == wholes + 1
    assert set(threads) == {threading.get_ident()}
    del padding


def test_a_runs_start_and_end_alone_set_off_no_whole_heap_collection(qtbot, installed):
    """The run's start freezes young objects too; that is not growth of the old heap (it
    set off a 467 ms whole-heap collection on the GUI thread after every run)."""
    got, _threads = installed
    got.request_full()
    got.tick()                            # the base the quarter rule compares with
    wholes = got.whole_heap
    young = [[] for _ in range(max(10_000, gc.get_freeze_count()))]   # the heap doubles
    got.hold_heap()
    got.release_heap()
    got.tick()
    assert got.whole_heap == wholes
    del young


def test_a_due_whole_heap_collection_waits_until_the_pointer_rests(qtbot, installed):
    got, _threads = installed
    got.request_full()
    got.tick()                            # the base
    kept = [Cycle()]
    got.request_full()
    got.tick()                            # frozen
    kept.clear()
    wholes = got.whole_heap
    padding = [[] for _ in range(max(10_000, 2 * got._long_lived))]
    got.quiet_s = 3600.0                  # the user is moving the mouse
    got.request_full()
    got.tick()
    assert got.whole_heap == wholes and Cycle.freed_on == []   # due, not run
    got.quiet_s = 0.0                     # the pointer rests
    got.tick()
    assert got.whole_heap == wholes + 1 and Cycle.freed_on == [threading.get_ident()]
    del padding
