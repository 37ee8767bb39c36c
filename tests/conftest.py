"""Suite-wide set-up: headless Qt, isolated settings, no dangling threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")

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
    # Threads are often parentless; the registry of live workers is checked too.
    try:
        from visionstudio.ui.shell.threads import live_threads
    except ImportError:
        live = []
    else:
        live = [t for t in live_threads() if t.isRunning()]
    leftovers = running + [t for t in live if t not in running]
    if leftovers:
        for t in leftovers:
            t.quit()
            t.wait(5000)
        pytest.fail(f"{len(leftovers)} QThread(s) still running after the test")
