"""The app's start builds little and loads no torch: what can be checked without timing.

The window opens with every later dock in place (View menu, saved layout, Reset
Panels) but builds each panel when its dock first shows, and imports torch only when
something needs it (Train), on a worker thread, saying so in the status bar. The
times are measured by benchmarks/startup.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QAction

from visionstudio.ui.shell import torch_loader

from .shell_helpers import ini_settings
from .test_training_plots import fill

# The app's own start path in a child (torch must not be in it yet): the window shown,
# the later docks added; then Reset Panels, then Train.
START = r"""
import json, os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
first = {}
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "torch" not in first:
            first["torch"] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Spy())
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication
qapp = QApplication([])
from visionstudio.app import create_main_window
from visionstudio.core.project.commands import SetDatasetSettings
w = create_main_window([], background=True)
w.resize(1280, 800)
out = {}
def docks_in():
    out["torch_after_start"] = "torch" in sys.modules
    out["unbuilt"] = sorted(w.later.unbuilt)
    out["menu"] = sorted(a.objectName() for a in w.menus["panels"].actions())
    w.reset_layout()
    qapp.processEvents()
    out["min_width_after_reset"] = w.minimumSizeHint().width()
    out["docks_after_reset"] = sorted(k for k, d in w.docks.items() if d.isVisible())
    w.docks["featureMapView"].raise_()   # the user picks the Feature maps tab
    QTimer.singleShot(100, train)
def train():
    out["status_on_features"] = w.statusBar().currentMessage()
    out["features_wait"] = "featureMapView" in w.later.unbuilt
    runs = w.later_panel("trainingPanel").training
    w.controller.push(SetDatasetSettings("shapes", {"samples": 40, "val_samples": 10}))   # quick
    runs.state_changed.connect(lambda state: out.setdefault("first_state", state))
    w.findChild(QAction, "action_train").trigger()
    out["status_on_train"] = w.statusBar().currentMessage()
    out["state_right_after_train"] = runs.state
    def started():
        if runs.state != "idle" and "featureMapView" not in w.later.unbuilt:
            out["torch_thread"] = first.get("torch")
            runs.stop()
            runs.wait()
            print(json.dumps(out))
            qapp.exit(0)   # not quit(): that asks the window, which asks to save
        else:
            QTimer.singleShot(50, started)
    started()
def poll():
    ready = w.later_docks_added and "trainingPanel" not in w.later.unbuilt
    QTimer.singleShot(50, docks_in if ready else poll)
poll()
QTimer.singleShot(150_000, qapp.quit)
w.show()
qapp.exec()
from visionstudio.ui.shell.tasks import wait_all
wait_all()
"""


@pytest.fixture(scope="module")
def started_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
           "VISIONSTUDIO_NO_RECOVERY_PROMPT": "1"}
    out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, timeout=240,
                         env=dict(os.environ, **env))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_opening_the_app_imports_no_torch_and_builds_only_the_shown_panels(started_app):
    assert started_app["torch_after_start"] is False
    # tabbed behind others: built when first shown
    assert started_app["unbuilt"] == ["dataPanel", "featureMapView", "layerHealth", "metricsPlots",
                                       "sweepPanel"]
    assert {"action_toggle_trainingPanel", "action_toggle_metricsPlots",
            "action_toggle_featureMapView"} <= set(started_app["menu"])


@pytest.mark.slow
def test_reset_panels_works_with_panels_not_built_yet(started_app):
    assert {"trainingPanel", "metricsPlots", "featureMapView"} <= set(started_app["docks_after_reset"])
    assert started_app["min_width_after_reset"] <= 1024


@pytest.mark.slow
def test_train_and_the_feature_maps_load_torch_on_a_worker_thread_and_say_so(started_app):
    assert started_app["features_wait"] is True   # shown: built once torch is there
    assert started_app["status_on_features"] == torch_loader.LOADING_MESSAGE
    assert started_app["status_on_train"] == torch_loader.LOADING_MESSAGE
    assert started_app["state_right_after_train"] == "idle"   # the click returned first
    assert started_app["torch_thread"] == torch_loader.TASK_NAME
    assert started_app["first_state"] == "preparing"


def _points(item) -> int:
    x = item.getOriginalDataset()[0]
    return 0 if x is None else len(x)


def _close(window) -> None:
    from visionstudio.ui.shell.tasks import wait_all

    window.close()   # the panels end their tasks (the close guards)
    wait_all()


def test_a_panel_built_when_first_shown_is_complete(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.main_window import MainWindow

    window = MainWindow(settings=ini_settings(tmp_path), recovery_dir=tmp_path / "recovery",
                        build_when_shown=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.later_docks_added, timeout=30_000)
    assert window.findChild(MetricsPlots) is None and "metricsPlots" in window.later.unbuilt
    dock = window.docks["metricsPlots"]
    dock.raise_()   # the user picks its tab
    qtbot.waitUntil(lambda: window.findChild(MetricsPlots) is not None, timeout=10_000)
    plots = window.findChild(MetricsPlots)
    assert "metricsPlots" not in window.later.unbuilt and dock.isAncestorOf(plots)
    assert set(plots.plots) >= {"loss", "accuracy", "lr", "throughput"}
    fill(plots.selection.history, 2000)   # what a run records; the plots' own timer draws it
    qtbot.waitUntil(lambda: _points(plots.items["loss_raw"]) == 2000, timeout=10_000)
    # one plot per timer tick: the accuracy plot draws on a later tick than the loss
    qtbot.waitUntil(lambda: _points(plots.items["val_acc"]) == 1, timeout=10_000)
    _close(window)


def test_an_inspect_action_builds_the_feature_maps_it_shows(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.features import FeatureMapView
    from visionstudio.ui.shell.main_window import MainWindow

    window = MainWindow(settings=ini_settings(tmp_path), recovery_dir=tmp_path / "recovery",
                        build_when_shown=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.later_docks_added, timeout=30_000)
    assert window.findChild(FeatureMapView) is None
    window.findChild(QAction, "action_filters").trigger()
    view = window.findChild(FeatureMapView)
    assert view is not None and view.tabs.currentIndex() == 1   # Inspect › Conv Filters
    _close(window)


def test_when_torch_loaded_runs_at_once_when_it_is_there():
    import torch  # noqa: F401 - the case under test: torch already imported

    ran = []
    assert torch_loader.when_torch_loaded(lambda: ran.append(1), ran.append) is True
    assert ran == [1]   # no loading message either


@pytest.mark.parametrize("params, val_split", [({"samples": 60, "val_samples": 20}, 0.1),
                                               ({"samples": 50, "val_samples": 0}, 0.2)])
def test_the_shapes_preview_drawn_without_torch_is_what_training_gets(params, val_split):
    import numpy as np

    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.data.registry import load_dataset, preview_dataset

    config = DatasetConfig("shapes", params)
    shown = preview_dataset(config, 12, val_split=val_split, seed=3)
    loaded = load_dataset(config, val_split=val_split, seed=3)
    assert np.array_equal(shown["images"], loaded.train_images[:12].numpy())
    assert np.array_equal(shown["labels"], loaded.train_labels[:12].numpy())
    assert np.array_equal(shown["counts"], np.bincount(loaded.train_labels.numpy(), minlength=10))
    assert (shown["train"], shown["val"]) == (loaded.num_train, loaded.num_val)
    assert preview_dataset(DatasetConfig("mnist", {}), 12) is None   # loaded (with torch) instead
