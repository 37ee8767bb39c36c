"""The app trains an imported project from its imported weights: the training panel says
so, and after Train the frozen layers in the run's checkpoint are the imported ones (a
run from a fresh initialisation would differ)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch
from PySide6.QtCore import Qt
from safetensors.torch import load_file

from visionstudio.core.graph.transfer_commands import FreezeBefore
from visionstudio.core.importers import import_model, save_import
from visionstudio.core.project import load_project
from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
from visionstudio.ui.shell.controller import DocumentController

KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def test_panel_names_the_weights_and_train_starts_from_them(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.panel import TrainingPanel

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project, weights = save_import(import_model(KERAS / "mnist_cnn.keras"), tmp_path / "m.vsproj")
    doc = load_project(project)
    controller = DocumentController(doc)
    head = next(n.id for n in doc.graph.nodes.values() if n.name == "dense_1")
    controller.push(FreezeBefore(head))   # everything before the head is frozen: it keeps its weights
    controller.push(SetDatasetSettings("shapes", {**doc.dataset.params, "samples": 32, "val_samples": 16}))
    controller.push(SetTrainingSettings({"epochs": 1, "batch_size": 16, "val_split": 0.25, "device": "cpu"}))
    panel = TrainingPanel(controller)
    qtbot.addWidget(panel)
    try:
        label = panel.initial_weights
        assert label.text() == "Starts from imported weights: m.weights.safetensors"
        assert not label.isHidden()
        session = panel.training
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
        if session.active_run is not None:
            with qtbot.waitSignal(session.finished, timeout=180_000):
                pass
        assert session.last_failure is None, session.last_failure
        entry = controller.document.runs[-1]
        trained = load_file(session.store.folder(entry["id"]) / "checkpoints" / "last" / "model.safetensors")
        imported = load_file(weights)
        for key in ("conv2d.weight", "conv2d_1.weight", "dense.weight", "dense.bias"):
            assert torch.equal(trained[key], imported[key]), key
        assert not torch.equal(trained["dense_1.weight"], imported["dense_1.weight"])   # the head trained
    finally:
        panel.training.shutdown()


def test_the_line_follows_the_open_project(qtbot, tmp_path):
    from visionstudio.ui.training.panel import TrainingPanel

    controller = DocumentController()
    panel = TrainingPanel(controller)
    qtbot.addWidget(panel)
    try:
        assert panel.initial_weights.isHidden() and panel.initial_weights.text() == ""
        project, _ = save_import(import_model(KERAS / "mnist_cnn.keras"), tmp_path / "n.vsproj")
        controller.replace_document(load_project(project), project)
        assert panel.initial_weights.text() == "Starts from imported weights: n.weights.safetensors"
        assert not panel.initial_weights.isHidden()
        controller.replace_document(DocumentController().document, None)
        assert panel.initial_weights.isHidden()
    finally:
        panel.training.shutdown()


def test_start_from_scratch_is_one_undoable_click(qtbot, tmp_path):
    from visionstudio.ui.training.panel import TrainingPanel

    project, _ = save_import(import_model(KERAS / "mnist_cnn.keras"), tmp_path / "s.vsproj")
    controller = DocumentController(load_project(project))
    panel = TrainingPanel(controller)
    qtbot.addWidget(panel)
    panel.show()
    try:
        line = panel.initial_weights
        assert line.scratch.isVisible() and line.scratch.text() == "Start from scratch"
        qtbot.mouseClick(line.scratch, Qt.MouseButton.LeftButton)
        assert controller.document.initial_weights is None and line.isHidden()
        assert controller.undo_stack.undoText() == "Start from scratch"
        assert controller.undo()
        assert controller.document.initial_weights == "s.weights.safetensors"
        assert line.text() == "Starts from imported weights: s.weights.safetensors" and not line.isHidden()
        assert controller.redo() and line.isHidden()
    finally:
        panel.training.shutdown()


def test_the_export_snapshot_keeps_the_initial_weights(tmp_path):
    from visionstudio.core.export import export_project
    from visionstudio.ui.export.integration import snapshot

    project, weights = save_import(import_model(KERAS / "mnist_cnn.keras"), tmp_path / "e.vsproj")
    copy = snapshot(load_project(project), project)
    assert copy.initial_weights == "e.weights.safetensors" and copy.folder == tmp_path.resolve()
    export_project(copy, "pytorch", tmp_path / "out")
    exported, imported = load_file(tmp_path / "out" / "weights.safetensors"), load_file(weights)
    assert all(torch.equal(exported[k], imported[k]) for k in imported)
