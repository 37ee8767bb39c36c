"""While a run trains in the app, the GUI thread takes less from it: the dashboard's
governor draws on a smaller share of a core, and the worker asks the trainer for fewer
batch records (each still carries every step's loss). Behaviour only, no timings."""

from __future__ import annotations

import threading

import pytest

from visionstudio.ui.shell.controller import DocumentController


@pytest.fixture
def plots(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots

    widget = MetricsPlots(DocumentController())
    widget.resize(800, 500)
    qtbot.addWidget(widget)
    return widget


def test_the_governor_draws_less_often_while_a_run_trains(plots, monkeypatch):
    from visionstudio.ui.plots import metrics

    monkeypatch.setattr(plots.graphics, "paint_s", 0.0)
    plots._adapt_rate(0.004)                       # a 4 ms plot, nothing training
    idle = plots.timer.interval()
    assert idle == pytest.approx(4 / metrics.BUDGET, abs=1)
    monkeypatch.setattr(plots.training, "state", "running")
    plots._adapt_rate(0.004)
    training = plots.timer.interval()
    assert training == pytest.approx(4 / metrics.TRAINING_BUDGET, abs=1) and training > 4 * idle
    plots._adapt_rate(1.0)                         # a starved machine: bounded, still drawing
    assert plots.timer.interval() == metrics.TRAINING_MAX_INTERVAL_MS
    monkeypatch.setattr(plots.training, "state", "idle")
    plots._adapt_rate(0.004)
    assert plots.timer.interval() == idle          # back to the normal rate after the run


def test_the_worker_asks_for_throttled_records(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    from visionstudio.core.training import plan as training_plan
    from visionstudio.core.training.config import TrainingConfig
    from visionstudio.core.training.control import TrainerControl
    from visionstudio.ui.training import worker as worker_module

    seen: dict = {}

    def fake_execute(plan, callbacks, control, **kwargs):
        seen.update(kwargs)
        return "done"

    monkeypatch.setattr(training_plan, "execute", fake_execute)

    class Plan:
        device = "cpu"
        config = TrainingConfig().replace(layer_health=False)

    class State:
        cancelled = False

        def emit(self, item) -> None: ...
        def set_progress(self, fraction, text) -> None: ...

    worker = worker_module.TrainingWorker(Plan(), TrainerControl(), tmp_path)
    out: list = []
    # on a thread of its own: the worker lowers the priority of the thread it runs on
    thread = threading.Thread(target=lambda: out.append(worker(State())))
    thread.start()
    thread.join()
    assert out == ["done"]
    assert seen["report_interval_s"] >= 0.1        # at most ~10 records a second
    assert seen["metrics_csv"] is False
