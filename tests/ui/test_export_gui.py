"""File > Export…: the dialog, the worker thread, the result and failure messages."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import QThread
from PySide6.QtGui import QKeySequence
from safetensors.torch import load_file

from visionstudio.core.project import document_from_dict
from visionstudio.ui.export import integration as export_integration
from visionstudio.ui.export.integration import install

from .shell_helpers import make_window

WAIT_MS = 60_000


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))   # unsaved-run scratch
    w = make_window(qtbot, tmp_path)
    yield w
    integration = getattr(w, "_export_integration", None)
    if integration is not None:
        integration.wait()


def _export(qtbot, w, folder, fmt="pytorch", weights=None):
    integration = install(w)
    integration.message_box = None
    integration.action.trigger()
    dialog = integration.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.set_format(fmt)
    dialog.set_folder(folder)
    if weights is not None:
        dialog.select_weights(weights)
    dialog.export_button.click()
    assert integration.busy or integration.message_box is not None
    qtbot.waitUntil(lambda: not integration.busy and integration.message_box is not None,
                    timeout=WAIT_MS)
    return integration, dialog


def test_export_action_in_the_file_menu(window):
    integration = install(window)
    assert install(window) is integration
    names = [a.objectName() for a in window.menus["file"].actions()]
    assert names.count("action_export") == 1
    assert names.index("action_save_as") < names.index("action_export") < names.index("action_close")
    assert integration.action.shortcut() == QKeySequence("Ctrl+E")
    every = [s.toString() for a in window.findChildren(type(integration.action)) for s in a.shortcuts()]
    assert every.count("Ctrl+E") == 1


def test_export_pytorch_off_the_gui_thread(qtbot, window, tmp_path, monkeypatch):
    import visionstudio.core.export as core_export

    threads = []
    real = core_export.export_project

    def spy(*args, **kwargs):
        threads.append(QThread.currentThread())
        return real(*args, **kwargs)

    monkeypatch.setattr(core_export, "export_project", spy)
    opened = []

    class Desktop:
        @staticmethod
        def openUrl(url):  # noqa: N802 - Qt's name
            opened.append(url.toLocalFile())
            return True

    monkeypatch.setattr(export_integration, "QDesktopServices", Desktop)
    out = tmp_path / "out"
    integration, dialog = _export(qtbot, window, out)
    assert threads and threads[0] is not QThread.currentThread()
    assert (out / "model.py").is_file() and (out / "weights.safetensors").is_file()
    box = integration.message_box
    assert box.objectName() == "exportResultBox" and box.isVisible()
    assert "Exported PyTorch code" in box.text() and "initial (untrained)" in box.text()
    assert str(out) in box.informativeText()
    open_button = next(b for b in box.buttons() if b.text() == "Open Folder")
    open_button.click()
    assert opened == [str(out)]
    assert integration.action.isEnabled()
    assert "Exported to" in window.statusBar().currentMessage()
    # The format and the folder are offered again next time.
    integration.message_box = None
    integration.action.trigger()
    again = integration.dialog
    assert again.format() == "pytorch" and again.folder_edit.text() == str(out)
    again.reject()


def test_export_a_run_checkpoint(qtbot, window, tmp_path):
    from visionstudio.core.build import build_model
    from visionstudio.core.runs import make_entry
    from visionstudio.core.training.checkpoint import save_checkpoint
    from visionstudio.ui.training.run_controller import runs_for

    doc = window.controller.document
    entry = make_entry("abc123", "Run 1", {}, status="completed")
    entry["summary"] = {"epochs": 3, "best_epoch": 2}
    doc.set_runs([entry])
    state = build_model(doc.graph, seed=7).state_dict()
    folder = runs_for(window.controller).store.root / "abc123" / "checkpoints" / "best"
    save_checkpoint(folder, model_state=state, tensors={}, meta={"epoch": 2})
    integration = install(window)
    integration.action.trigger()
    labels = integration.dialog.weights_labels()
    assert labels[0].startswith("Initial weights") and "Run 1: best checkpoint, epoch 2" in labels
    assert not any("last checkpoint" in label for label in labels)   # no files: not offered
    integration.dialog.reject()
    out = tmp_path / "trained"
    integration, _ = _export(qtbot, window, out, "script", weights="Run 1: best checkpoint, epoch 2")
    assert "trained weights" in integration.message_box.text()
    saved = load_file(str(out / "weights.safetensors"))
    assert all(torch.equal(saved[k], state[k]) for k in state)
    assert (out / "train.py").is_file() and (out / "augmentation.py").is_file()


def test_invalid_graph_lists_the_diagnostics(qtbot, window, tmp_path):
    bad = document_from_dict({"name": "bad", "graph": {
        "nodes": [{"id": "a", "kind": "input", "name": "input",
                   "params": {"channels": 1, "height": 4, "width": 4}},
                  {"id": "b", "kind": "dense", "name": "dense1", "params": {"units": 3}}],
        "edges": [{"src": "a", "dst": "b"}]}})
    window.controller.replace_document(bad, None)
    out = tmp_path / "never"
    integration, _ = _export(qtbot, window, out)
    box = integration.message_box
    assert box.objectName() == "exportFailureBox"
    assert "network has problems" in box.text()
    assert "dense1" in box.informativeText() and box.informativeText().startswith("• ")
    assert not (out / "model.py").exists()
    assert integration.task is None and integration.action.isEnabled()
    assert "Export failed" in window.statusBar().currentMessage()


def test_unreadable_weights_name_the_file(qtbot, window, tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage")
    integration, dialog = _export(qtbot, window, tmp_path / "out", "onnx", weights=corrupt)
    box = integration.message_box
    assert box.text() == "The weights cannot be exported"
    assert "corrupt.safetensors" in box.informativeText()


def test_dialog_needs_a_folder_and_choosing_weights_can_be_cancelled(qtbot, window, tmp_path):
    integration = install(window)
    integration.action.trigger()
    dialog = integration.dialog
    dialog.set_folder("")
    assert not dialog.export_button.isEnabled()
    dialog.accept()
    assert dialog.isVisible() and "Choose a folder" in dialog.note.text()
    dialog.choose_folder = lambda parent, start: str(tmp_path)
    dialog.findChild(type(dialog.export_button), "exportBrowse").click()
    assert dialog.folder_edit.text() == str(tmp_path) and dialog.export_button.isEnabled()
    dialog.choose_weights = lambda parent, kind: ""
    choose = dialog.weights_labels().index("Choose a checkpoint folder…")
    dialog.weights.setCurrentIndex(choose)
    dialog.weights.activated.emit(choose)
    assert dialog.weights.currentIndex() == 0 and dialog.request().weights is None
    dialog.choose_weights = lambda parent, kind: str(tmp_path / f"{kind}.safetensors")
    choose = dialog.weights_labels().index("Choose a .safetensors file…")
    dialog.weights.setCurrentIndex(choose)
    dialog.weights.activated.emit(choose)
    request = dialog.request()
    assert request.weights == tmp_path / "file.safetensors" and request.folder == tmp_path
    assert dialog.weights_labels()[-2:] == ["Choose a .safetensors file…", "Choose a checkpoint folder…"]
    dialog.reject()
    assert not integration.busy


def test_import_metrics_csv_as_run(qtbot, window, tmp_path):
    from visionstudio.core.training.records import METRIC_COLUMNS
    from visionstudio.ui.training.run_controller import runs_for

    integration = install(window)
    names = [a.objectName() for a in window.menus["file"].actions()]
    assert names.index("action_export") + 1 == names.index("action_import_metrics")
    csv_path = tmp_path / "script" / "out" / "metrics.csv"
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text(",".join(METRIC_COLUMNS) + "\n1,10,2.3,0.1,2.2,0.2,,0.001,250,2.0,2.0,True\n",
                        encoding="utf-8")
    integration.ask_csv_path = lambda parent: str(csv_path)
    integration.import_action.trigger()
    runs = window.controller.document.runs
    assert [r["name"] for r in runs] == ["script (imported)"]
    store = runs_for(window.controller).store
    assert [e["epoch"] for e in store.history(runs[0]["id"]).epochs] == [1]
    assert window.isWindowModified() or not window.controller.undo_stack.isClean()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert integration.import_metrics(str(bad)) is None
    box = integration.message_box
    assert box.windowTitle() == "Cannot import" and "bad.csv: not a metrics CSV" in box.informativeText()
    assert len(window.controller.document.runs) == 1


def test_closing_the_window_waits_for_a_running_export(qtbot, window, tmp_path, monkeypatch):
    import time

    import visionstudio.core.export as core_export

    real = core_export.export_project

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(core_export, "export_project", slow)
    integration = install(window)
    integration.action.trigger()
    integration.dialog.set_folder(tmp_path / "out")
    integration.dialog.export_button.click()
    assert integration.busy and not integration.action.isEnabled()
    assert integration.open_dialog() is None   # one export at a time
    integration.message_box = None
    window.close()
    assert not integration.busy and (tmp_path / "out" / "model.py").is_file()
    assert integration.message_box is None and not integration._quiet   # status bar only
    assert "Exported to" in window.statusBar().currentMessage()


def _checkpoint(window, run_id, kind):
    from visionstudio.core.build import build_model
    from visionstudio.core.training.checkpoint import save_checkpoint
    from visionstudio.ui.training.run_controller import runs_for

    folder = runs_for(window.controller).store.root / run_id / "checkpoints" / kind
    save_checkpoint(folder, model_state=build_model(window.controller.document.graph, seed=1).state_dict(),
                    tensors={}, meta={"epoch": 1})
    return folder


def test_weights_default_to_the_best_checkpoint_of_the_latest_finished_run(qtbot, window):
    from visionstudio.core.runs import make_entry

    doc = window.controller.document
    runs = [make_entry("r1", "Run 1", {}, status="completed"), make_entry("r2", "Run 2", {}, status="failed")]
    doc.set_runs(runs)
    best1 = _checkpoint(window, "r1", "best")
    _checkpoint(window, "r1", "last")
    _checkpoint(window, "r2", "best")          # a failed run's weights are not offered first
    integration = install(window)
    integration.action.trigger()
    dialog = integration.dialog
    assert dialog.weights.currentText() == "Run 1: best checkpoint"
    assert dialog.request().weights == best1
    dialog.reject()
    qtbot.waitUntil(lambda: integration.dialog is None)
    doc.set_runs([*runs, make_entry("r3", "Run 3", {}, status="stopped")])
    last3 = _checkpoint(window, "r3", "last")   # no best checkpoint: its last one
    integration.action.trigger()
    assert integration.dialog.request().weights == last3
    integration.dialog.reject()


def test_no_finished_run_keeps_the_initial_weights(qtbot, window):
    from visionstudio.core.runs import make_entry

    window.controller.document.set_runs([make_entry("r1", "Run 1", {}, status="failed")])
    _checkpoint(window, "r1", "best")
    integration = install(window)
    integration.action.trigger()
    assert integration.dialog.weights.currentIndex() == 0 and integration.dialog.request().weights is None
    integration.dialog.reject()


def test_saved_untitled_project_exports_under_its_file_name(qtbot, window, tmp_path):
    window.controller.document.name = "Untitled"        # the name a new project has
    assert window.files.save_to(tmp_path / "mnist-net.vsproj")
    out = tmp_path / "named"
    _export(qtbot, window, out)
    source = (out / "model.py").read_text()
    assert "class MnistNet(nn.Module):" in source and "the project 'mnist-net'" in source
    assert "Untitled" not in source
    # a project with a name of its own keeps it
    window.controller.document.name = "Tiny digits v2"
    out2 = tmp_path / "named2"
    _export(qtbot, window, out2)
    assert "class TinyDigitsV2(nn.Module):" in (out2 / "model.py").read_text()
