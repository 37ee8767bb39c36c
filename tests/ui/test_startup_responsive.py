"""Start-up and quit keep the window responsive: what can be checked without timing.

PyTorch is not loaded at start (only when something needs it: tests/ui/test_startup_lazy.py),
the later panels' modules load on a worker thread after the first document is in place,
the devices are probed by a child process, and quitting neither waits for an import
nor leaves a task running. The times themselves are measured by
benchmarks/startup.py, never asserted here (the machine is noisy).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import threading

import pytest

from visionstudio import app
from visionstudio.ui.shell.tasks import live_tasks, run_task
from visionstudio.ui.training import devices

# The app's own start path in a child; a finder records on which thread torch is imported.
START = r"""
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
first = {}
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "torch" not in first:
            first["torch"] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Spy())
import subprocess
children = []
real_popen = subprocess.Popen
def popen(cmd, *args, **kwargs):
    children.append(list(cmd))
    return real_popen(cmd, *args, **kwargs)
subprocess.Popen = popen
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
qapp = QApplication([])
from visionstudio.app import create_main_window
from visionstudio.ui.training.devices import PROBE_CODE
w = create_main_window([], background=True)
seen = {}
def on_ready():
    seen["ready"] = "torch" in sys.modules
    w.menus["file"].popup(w.mapToGlobal(w.rect().center()))   # input, before torch is there
    seen["menu"] = w.menus["file"].isVisible() and "torch" not in sys.modules
    QTimer.singleShot(0, lambda: seen.setdefault("status", w.statusBar().currentMessage()))
w.initial_load_done.connect(on_ready)
def check():
    if w.later_docks_added:
        print("ready-with-torch", seen["ready"], "menu", seen["menu"], "thread", first.get("torch"))
        print("status", seen["status"])
        print("docks", sorted(k for k in w.docks))
        print("device probe in a child:", [sys.executable, "-c", PROBE_CODE] in children)
        qapp.quit()
poll = QTimer(); poll.timeout.connect(check); poll.start(50)
QTimer.singleShot(100_000, qapp.quit)
w.show()
qapp.exec()
from visionstudio.ui.shell.tasks import wait_all
wait_all()
"""


@pytest.mark.slow
def test_the_window_takes_input_and_adds_the_later_docks_without_torch():
    out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "ready-with-torch False menu True thread None", out.stdout
    assert {"trainingPanel", "metricsPlots", "featureMapView"} <= set(ast.literal_eval(lines[2][6:]))
    assert lines[3] == "device probe in a child: True"


def test_warm_imports_loads_what_the_later_docks_import():
    from visionstudio.ui.shell.docks import LATER_PANELS

    app.warm_imports()
    assert all(name in sys.modules for name in app.WARM_MODULES)
    loaded = set(sys.modules)
    for panel in LATER_PANELS:
        panel.load()
    assert set(sys.modules) == loaded   # nothing left for the GUI thread to import


def test_the_device_probe_runs_in_a_child_process(monkeypatch):
    started = []
    real = subprocess.Popen

    def spy(cmd, *args, **kwargs):
        started.append((list(cmd), threading.current_thread().name))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(devices.subprocess, "Popen", spy)
    answer = devices.probe_devices()
    assert started and started[0][0][:2] == [sys.executable, "-c"]
    assert set(answer) == {"cuda", "mps"}
    listed = devices.device_list(answer)
    assert listed[0][0] == "auto" and listed[-1] == ("cpu", "CPU")


def test_a_cancelled_device_probe_ends_its_child_and_lists_the_basics(monkeypatch):
    children = []
    real = subprocess.Popen

    def spy(cmd, *args, **kwargs):
        children.append(real([sys.executable, "-c", "import time; time.sleep(60)"], *args, **kwargs))
        return children[-1]

    class Cancelled:
        cancelled = True

    monkeypatch.setattr(devices.subprocess, "Popen", spy)
    assert devices.probe_devices(Cancelled()) == {}
    assert children[0].poll() is not None   # killed, not left behind
    assert devices.device_list({}) == [("auto", "Auto (best available)"), ("cpu", "CPU")]


def test_device_labels_name_each_gpu_and_its_memory():
    listed = devices.device_list({"cuda": [[0, "Test GPU", 80 * 2**30]], "mps": True})
    assert listed == [("auto", "Auto (best available)"), ("cuda:0", "cuda:0 — Test GPU (80 GiB)"),
                      ("mps", "Apple MPS"), ("cpu", "CPU")]


def test_a_process_that_ends_does_not_wait_for_the_pytorch_import(qtbot):
    release = threading.Event()
    warm = run_task(lambda state: release.wait(60), name=app.WARM_TASK)
    other = run_task(lambda state: [release.wait(0.01) for _ in iter(lambda: state.cancelled, True)],
                     name="some-other-task")
    try:
        assert app._end_tasks(10_000, leave_warmup=True)   # the other task was cancelled and ended
        assert other.wait(0) and warm in live_tasks()
    finally:
        release.set()
        assert app._end_tasks(10_000, leave_warmup=False)
    qtbot.waitUntil(lambda: not live_tasks(), timeout=10_000)


QUIT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
qapp = QApplication([])
def close():
    w = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")
    if not w.controller.graph.nodes:
        return
    print("closing, torch loaded:", "torch" in sys.modules, flush=True)
    w.close()
poll = QTimer(); poll.timeout.connect(close); poll.start(20)
from visionstudio.cli import main
sys.argv = ["visionstudio"]
main()
print("not reached: the app ends the process")
"""


@pytest.mark.slow
def test_quitting_while_pytorch_loads_ends_the_process_cleanly(tmp_path):
    env = {**__import__("os").environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "VISIONSTUDIO_NO_RECOVERY_PROMPT": "1"}
    out = subprocess.run([sys.executable, "-c", QUIT], capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    assert "closing, torch loaded: False" in out.stdout
    assert "not reached" not in out.stdout
    assert "QThread: Destroyed" not in out.stderr
    settings = list((tmp_path / "config").rglob("*.conf")) + list((tmp_path / "config").rglob("*.ini"))
    assert settings and "geometry" in settings[0].read_text(encoding="utf-8", errors="replace").lower()
