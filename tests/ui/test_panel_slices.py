"""The metrics and feature-map panels built in steps, one per event-loop turn.

Built in one turn they froze the window 0.2-0.65 s when their tab first showed; in
steps they must end up the same panel as the lean (one-call) build. Turns are counted
here, never timed (benchmarks/startup.py --show-tab and benchmarks/panel_steps.py time
them).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer

from visionstudio.ui.shell.controller import DocumentController

from .shell_helpers import ini_settings
from .test_training_plots import fill


def _points(item) -> int:
    x = item.getOriginalDataset()[0]
    return 0 if x is None else len(x)


def _close(window) -> None:
    from visionstudio.ui.shell.tasks import wait_all

    window.close()   # the panels end their tasks (the close guards)
    wait_all()


def _staged(cls, qtbot):
    widget = cls(DocumentController(), staged=True)
    qtbot.addWidget(widget)
    steps = sum(1 for _ in widget.build_steps)
    return widget, steps


def test_metrics_built_in_steps_is_the_lean_panel_and_draws(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import GROUPS, MetricsPlots

    lean = MetricsPlots(DocumentController())
    qtbot.addWidget(lean)
    staged, steps = _staged(MetricsPlots, qtbot)
    assert steps >= len(GROUPS) + 1          # the bar and runs list, then one plot per step
    assert set(vars(staged)) == set(vars(lean))
    assert list(staged.plots) == list(lean.plots) == list(GROUPS)
    assert set(staged.items) == set(lean.items) and set(staged.cursor_lines) == set(lean.cursor_lines)
    assert staged.plots["lr"].getViewBox().linkedView(0) is staged.plots["loss"].getViewBox()
    assert staged.timer.isActive()
    vb = staged.plots["loss"].getViewBox()
    assert vb.menu is None and vb.menuEnabled()   # made on the first right-click
    assert "View All" in [a.text() for a in vb.getContextMenus(None)] and vb.menu is not None
    fill(staged.selection.history, 2000)
    assert staged.refresh(force=True)
    assert _points(staged.items["loss_raw"]) == 2000 and _points(staged.items["val_acc"]) == 1


def test_feature_maps_built_in_steps_are_the_lean_view(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.features import FeatureMapView

    lean = FeatureMapView(DocumentController())
    qtbot.addWidget(lean)
    staged, steps = _staged(FeatureMapView, qtbot)
    assert steps >= 6                         # the header and tabs, then a plot widget a step
    assert set(vars(staged)) == set(vars(lean))
    titles = [[v.tabs.tabText(i) for i in range(v.tabs.count())] for v in (lean, staged)]
    assert titles[0] == titles[1] == ["Feature maps", "Filters", "Prediction", "Grad-CAM", "Evaluation"]
    assert staged.layer_combo.count() == lean.layer_combo.count() >= 1   # the layers filled in
    assert staged.grid_scroll.widget() is staged.grid
    staged.tabs.setCurrentIndex(1)            # wired: the tab switch refreshes the Filters tab
    assert staged.tabs.currentIndex() == 1


def _spy_steps(monkeypatch, cls, marks: list, seen: list) -> None:
    """Wrap ``cls``'s steps: each posts a zero-time marker and records how many markers
    had run when it started. A step that started in the same turn as the one before
    would see that one's marker still waiting."""
    inner_steps = cls._build_steps

    def steps(self):
        inner = inner_steps(self)
        while True:
            seen.append(len(marks))
            QTimer.singleShot(0, lambda: marks.append(1))
            if next(inner, StopIteration) is StopIteration:
                return
            yield

    monkeypatch.setattr(cls, "_build_steps", steps)


def test_a_shown_metrics_dock_builds_its_panel_one_step_per_turn(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.main_window import MainWindow

    marks, seen = [], []
    _spy_steps(monkeypatch, MetricsPlots, marks, seen)
    window = MainWindow(settings=ini_settings(tmp_path), recovery_dir=tmp_path / "recovery",
                        build_when_shown=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.later_docks_added, timeout=30_000)
    dock = window.docks["metricsPlots"]
    dock.raise_()   # the user picks its tab
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
    assert window.findChild(MetricsPlots) is None              # half built: not in the window yet
    assert dock.widget().objectName() == "metricsPlotsPending"
    qtbot.waitUntil(lambda: "metricsPlots" not in window.later.unbuilt, timeout=10_000)
    assert seen == list(range(len(seen))) and len(seen) >= 6   # every step in a turn of its own
    plots = window.findChild(MetricsPlots)
    assert dock.isAncestorOf(plots) and list(plots.plots) == ["loss", "accuracy", "lr", "throughput"]
    _close(window)


@pytest.mark.parametrize("key", ["featureMapView"])   # what an Inspect action asks for
def test_asking_for_a_panel_mid_build_completes_it_at_once(qtbot, tmp_path, monkeypatch, key):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.shell.main_window import MainWindow

    window = MainWindow(settings=ini_settings(tmp_path), recovery_dir=tmp_path / "recovery",
                        build_when_shown=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.later_docks_added, timeout=30_000)
    pending = window.later.unbuilt[key]
    pending.start()                            # the first step, the rest would follow per turn
    panel = window.later_panel(key)            # e.g. an Inspect action: needs it whole, now
    assert key not in window.later.unbuilt and window.docks[key].isAncestorOf(panel)
    assert panel is pending.widget
    _close(window)
