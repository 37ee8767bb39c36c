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


def test_the_governor_counts_every_paint_since_the_last_tick(plots, monkeypatch):
    from visionstudio.ui.plots import metrics

    monkeypatch.setattr(plots.training, "state", "running")
    plots.graphics.paint_s = 0.0
    plots._adapt_rate(0.001)
    alone = plots.timer.interval()
    assert alone == pytest.approx(1 / metrics.TRAINING_BUDGET, abs=1)
    plots.graphics.paint_s = 0.0012 + 0.0008      # two paints after one tick (an axis moved)
    plots._adapt_rate(0.001)
    expected = min(metrics.TRAINING_MAX_INTERVAL_MS, 3 / metrics.TRAINING_BUDGET)
    assert plots.timer.interval() == pytest.approx(expected, abs=1) and expected > alone
    assert plots.graphics.paint_s == 0.0          # taken: the next tick starts from nothing


def test_while_training_the_loss_is_drawn_every_other_tick(plots, monkeypatch):
    drawn: list[str] = []
    monkeypatch.setattr(plots, "_draw_group", drawn.append)
    monkeypatch.setattr(plots, "_adapt_rate", lambda seconds: None)
    history = plots.selection.history

    def ticks(n: int) -> list[str]:
        drawn.clear()
        for _ in range(n):
            history.version += 1                  # a new batch record before every tick
            plots._tick()
        return list(drawn)

    monkeypatch.setattr(plots.training, "state", "running")
    assert ticks(8) == ["loss", "accuracy", "loss", "lr", "loss", "throughput", "loss", "accuracy"]
    monkeypatch.setattr(plots.training, "state", "idle")
    got = ticks(4)                                # idle: plain round robin, each plot in turn
    assert sorted(got) == sorted(["loss", "accuracy", "lr", "throughput"])


def test_unchanged_epoch_series_are_not_fed_again(qtbot):
    import numpy as np
    import pyqtgraph as pg

    from visionstudio.ui.plots.style import set_if_changed

    item = pg.PlotDataItem()
    fed = []
    original = item.setData
    item.setData = lambda *a, **k: fed.append(a) or original(*a, **k)
    x, y = np.array([10.0, 20.0]), np.array([0.5, np.nan])
    set_if_changed(item, x, y)
    set_if_changed(item, x.copy(), y.copy())      # the same values (NaN included): skipped
    assert len(fed) == 1
    y[1] = 0.25                                   # changed in place: the kept copy differs
    set_if_changed(item, x, y)
    set_if_changed(item, np.array([10.0, 20.0, 30.0]), np.array([0.5, 0.25, 0.2]))
    assert len(fed) == 3
    assert list(item.getData()[1]) == [0.5, 0.25, 0.2]
    item._fed_series = None                       # fed elsewhere: the next one is fed again
    set_if_changed(item, np.array([10.0, 20.0, 30.0]), np.array([0.5, 0.25, 0.2]))
    assert len(fed) == 4


def test_behind_another_dock_tab_the_plots_draw_nothing_until_shown(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QLabel, QTabWidget

    from visionstudio.ui.plots.metrics import MetricsPlots

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    plots = MetricsPlots(DocumentController())
    tabs.addTab(QLabel("Model summary"), "Model summary")
    tabs.addTab(plots, "Metrics")
    tabs.show()
    qtbot.waitExposed(tabs)
    drawn: list[str] = []
    monkeypatch.setattr(plots, "_draw_group", drawn.append)
    plots.selection.history.version += 1
    for _ in range(4):
        plots._tick()
    assert drawn == []                            # behind the other tab: nothing drawn
    tabs.setCurrentWidget(plots)                  # shown: everything that changed, at once
    assert sorted(drawn) == ["accuracy", "loss", "lr", "throughput"]
