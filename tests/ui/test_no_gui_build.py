"""No model is ever built on the GUI thread, and a network that does not fit in memory is
refused (Train, the feature-map dock, the summary panel say why) without being built.

The attack of issue #11: a project with a Dense 1,000,000→10,000 layer (37 GiB of
weights) opened in the main window used to build the whole model on the GUI thread,
through the feature-map dock and again on Train.
"""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pyqtgraph")

from tests.core.memory_projects import MACHINE_24_GIB, huge_dense_document
from visionstudio.core import memory
from visionstudio.core.project import save_project

from .shell_helpers import make_window


@pytest.fixture
def builds(monkeypatch):
    """Every build_model call, as (on the GUI thread?, the QThread's name)."""
    from PySide6.QtCore import QThread

    import visionstudio.core.build as build

    calls: list[tuple[bool, str]] = []
    real = build.build_model

    def recording(*args, **kwargs):
        calls.append((threading.current_thread() is threading.main_thread(),
                      QThread.currentThread().objectName()))
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "build_model", recording)
    return calls


def _feature_view(window):
    from visionstudio.ui.features import FeatureMapView

    return window.findChild(FeatureMapView)


def test_huge_project_in_the_main_window_is_refused_and_never_built(qtbot, tmp_path, monkeypatch,
                                                                     builds):
    from visionstudio.ui.training.panel import TrainingPanel
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    path = tmp_path / "huge.vsproj"
    save_project(huge_dense_document(), path)
    w = make_window(qtbot, tmp_path, [str(path)], show=True, panels=True)
    qtbot.waitUntil(lambda: w.later_docks_added, timeout=20_000)
    assert w.controller.graph.node_by_name("dense1") is not None
    # the summary panel gives the estimate and says it does not fit
    assert w.summary.memory.text().startswith("⚠ Training needs about 150 GiB for batch 64")
    # the feature-map dock refuses with the sentence instead of building
    view = _feature_view(w)
    assert view.state.model() is None
    assert "feature-maps-model" not in {t.name for t in view.state._tasks}
    assert view.state.model_error.startswith("⚠ The network needs about 75 GiB to show what it "
                                             "makes of one image; this machine has 24 GiB free")
    # Train refuses before any thread, where other refusals go
    session = runs_for(w.controller)
    failures = []
    session.failed.connect(failures.append)
    assert session.train() is False and session.task is None and session.state == "idle"
    assert failures[0].kind == "setup" and failures[0].message.startswith(
        "The network needs about 150 GiB for batch 64; this machine has 24 GiB free: use fewer units")
    panel = w.findChild(TrainingPanel)
    assert "Cannot start training" in panel.message.text() and "150 GiB" in panel.message.text()
    assert w.controller.document.runs == []
    assert builds == []


def test_train_and_the_feature_maps_build_on_worker_threads(qtbot, tmp_path, monkeypatch, builds):
    from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    w = make_window(qtbot, tmp_path, show=True, panels=True)      # the classic CNN
    qtbot.waitUntil(lambda: w.later_docks_added, timeout=20_000)
    w.controller.push(SetDatasetSettings("shapes", {"samples": 48, "val_samples": 16}))
    w.controller.push(SetTrainingSettings({"epochs": 1, "batch_size": 16, "device": "cpu"}))
    w.findChild(type(w.menus["inspect"].actions()[0]), "action_feature_maps").trigger()
    view = _feature_view(w)
    qtbot.waitUntil(lambda: view.state.model() is not None, timeout=60_000)
    session = runs_for(w.controller)
    assert session.train()
    assert session.wait(120_000) and session.last_failure is None
    qtbot.waitUntil(lambda: view.state.model() is not None, timeout=60_000)   # the run's weights
    names = {name for _gui, name in builds}
    assert builds and not any(gui for gui, _name in builds), builds
    assert any(n.startswith("training-") for n in names) and "feature-maps-model" in names
    view.shutdown()
