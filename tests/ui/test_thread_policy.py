"""The app's training thread follows the thread policy (core/training/thread_policy.py):
it trains on the torch thread count the GUI thread (and so the CLI) has, or the one
VISIONSTUDIO_CPU_THREADS asks for, at a lower OS priority than the GUI thread, and so do
the OpenMP helper threads it starts. Read while the run is paused, from /proc."""

from __future__ import annotations

import os
import sys
import threading

import pytest

torch = pytest.importorskip("torch")

from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings  # noqa: E402
from visionstudio.core.templates import load_template  # noqa: E402
from visionstudio.core.training.thread_policy import (  # noqa: E402
    LOWER_PRIORITY,
    THREADS_ENV,
    default_thread_count,
    thread_nice,
)
from visionstudio.ui.shell.controller import DocumentController  # noqa: E402

RUN_TIMEOUT_MS = 180_000


def _controller(tmp_path, monkeypatch) -> DocumentController:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    controller = DocumentController(load_template("classic_cnn"))
    controller.push(SetDatasetSettings("shapes", {"samples": 96, "val_samples": 0}))
    controller.push(SetTrainingSettings({"epochs": 2, "batch_size": 16, "val_split": 0.0,
                                         "device": "cpu"}))
    return controller


def _tasks() -> dict[int, tuple[str, int]]:
    """tid -> (thread name, nice) for every thread of this process."""
    out = {}
    for name in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{name}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1: text.rindex(")")]
        out[int(name)] = (comm, int(text.rsplit(")", 1)[1].split()[16]))
    return out


def _paused_run(qtbot, session):
    assert session.train(), session.last_failure
    qtbot.waitUntil(lambda: session.last_batch is not None or session.active_run is None,
                    timeout=RUN_TIMEOUT_MS)
    assert session.active_run is not None, session.last_failure
    session.pause()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=RUN_TIMEOUT_MS)
    return session.worker


def _finish(qtbot, session) -> None:
    session.resume()
    if session.active_run is not None:
        with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS):
            pass
    assert session.last_result is not None and session.last_result.ok, session.last_failure


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_training_thread_and_its_team_run_below_the_gui_with_the_asked_thread_count(
        qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.setenv(THREADS_ENV, "2")    # a team of two even on a one-core machine
    gui_tid, gui_threads = threading.get_native_id(), default_thread_count()
    gui_nice = thread_nice(gui_tid)
    expected = min(19, gui_nice + LOWER_PRIORITY)
    session = runs_for(_controller(tmp_path, monkeypatch))
    try:
        worker = _paused_run(qtbot, session)
        applied = worker.thread_policy
        assert applied is not None and applied.note is None
        assert applied.threads == 2                      # read back on the training thread
        assert applied.nice == expected
        tasks = _tasks()
        comm, nice = tasks[applied.thread_id]
        assert nice == expected
        # the OpenMP helpers the training thread started carry its name and its priority
        team = {tid: n for tid, (c, n) in tasks.items() if c == comm}
        assert len(team) >= 2, f"the training thread started no helper thread: {tasks}"
        assert set(team.values()) == {expected}, team
        assert tasks[gui_tid][1] == gui_nice             # the GUI thread's priority is untouched
        assert torch.get_num_threads() == 1              # torch runs serially there
        _finish(qtbot, session)
    finally:
        session.shutdown()
    assert default_thread_count() == gui_threads and thread_nice(gui_tid) == gui_nice


def test_by_default_training_uses_the_gui_threads_count_not_one_less(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.delenv(THREADS_ENV, raising=False)
    session = runs_for(_controller(tmp_path, monkeypatch))
    try:
        worker = _paused_run(qtbot, session)
        assert worker.thread_policy.threads == default_thread_count() == worker.default_threads
        _finish(qtbot, session)
    finally:
        session.shutdown()


def test_the_gui_thread_never_makes_an_openmp_team_a_run_would_share(qtbot, tmp_path, monkeypatch):
    """A feature-map forward pass on the GUI thread gave it an OpenMP team for good, and
    from then on every run's team slept at its barriers (more OpenMP threads than CPUs):
    torch runs serially on the GUI thread once a run starts or a viewer gets a network."""
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.delenv(THREADS_ENV, raising=False)
    before = default_thread_count()
    session = runs_for(_controller(tmp_path, monkeypatch))
    try:
        worker = _paused_run(qtbot, session)
        assert torch.get_num_threads() == 1
        assert worker.default_threads == before          # the run still trains on all cores
        threads = set(os.listdir("/proc/self/task"))
        conv = torch.nn.Conv2d(16, 32, 3)
        with torch.no_grad():
            conv(torch.randn(16, 16, 64, 64)).sum()       # big enough to run in parallel
        assert set(os.listdir("/proc/self/task")) <= threads   # no new OpenMP helper
        _finish(qtbot, session)
    finally:
        session.shutdown()
