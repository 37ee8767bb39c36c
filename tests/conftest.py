"""Suite-wide set-up: headless Qt, isolated settings, no dangling threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")

import sys

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Settings, recovery files and downloaded data never touch the real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("VISIONSTUDIO_DATA_DIR", str(home / "datasets"))
    yield


@pytest.fixture(autouse=True)
def _main_thread_torch_count_restored():
    """A test that started a run made torch serial on this (the GUI) thread, as the app
    does for good (ui/shell/torch_loader.serial_gui_torch): give the next test the count
    it would have had alone."""
    yield
    loader = sys.modules.get("visionstudio.ui.shell.torch_loader")
    if loader is None or not loader._serial:
        return
    from visionstudio.core.training import thread_policy

    count = thread_policy.default_thread_count()
    loader._serial.clear()
    thread_policy._process_threads.clear()
    sys.modules["torch"].set_num_threads(count)


@pytest.fixture(autouse=True)
def _no_dangling_qthreads(request):
    """Fail a Qt test that leaves a QThread running (DESIGN: no thread left behind)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    running = [t for t in app.findChildren(QThread) if t.isRunning()]
    # Background tasks' threads are parentless and held by the helper's registry. A task
    # still busy when the test's window went is what a user who quits mid-work leaves:
    # the app cancels every task and waits for it (tasks.wait_all at shutdown), so the
    # test does the same and fails only on a task that does not end when cancelled.
    from visionstudio.ui.shell.tasks import live_tasks, wait_all

    late = [task.name for task in live_tasks()]
    ended = wait_all(30_000, cancel=True)
    tasks = live_tasks()
    if running or tasks or not ended:
        for t in running:
            t.quit()
            t.wait(5000)
        names = ", ".join(task.name for task in tasks) or "QThreads"
        pytest.fail(f"{len(running) + len(tasks)} thread(s) still running after the test: {names}"
                    f" (busy at the end: {', '.join(late) or 'none'})")
