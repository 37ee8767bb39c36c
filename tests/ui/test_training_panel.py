"""TrainingPanel settings: schema-made editors, undoable edits, device list, preview strip."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from visionstudio.ui.shell.tasks import live_tasks

from .test_training_run import make_controller


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.panel import TrainingPanel

    controller = make_controller(tmp_path, monkeypatch)
    widget = TrainingPanel(controller)
    qtbot.addWidget(widget)
    return widget


def test_edits_are_undoable_commands(panel):
    c = panel.controller
    doc = c.document
    epochs = panel.training_form.editors["epochs"]
    epochs.setValue(7)
    assert doc.training.epochs == 7
    c.undo_stack.undo()
    assert doc.training.epochs == 2 and epochs.value() == 2          # the form follows the document
    lr = panel.choice_forms["optimizer"].editors["lr"]
    lr.setText("abc")
    lr.editingFinished.emit()
    assert "number" in lr.toolTip()
    assert doc.training.optimizer["params"].get("lr", 1e-3) == pytest.approx(1e-3)
    lr.setText("0.01")
    lr.editingFinished.emit()
    assert doc.training.optimizer["params"]["lr"] == pytest.approx(0.01)
    combo = panel.choice_combos["optimizer"]
    combo.setCurrentIndex(combo.findData("sgd"))
    combo.activated.emit(combo.currentIndex())
    assert doc.training.optimizer["key"] == "sgd"
    from visionstudio.core.training.registry import OPTIMIZERS

    wanted = [p.name for p in OPTIMIZERS.get("sgd").params]
    assert list(panel.choice_forms["optimizer"].editors) == wanted   # the form was rebuilt
    samples = panel.dataset_form.editors["samples"]
    samples.setValue(128)
    assert doc.dataset.params["samples"] == 128
    c.undo_stack.undo()
    assert doc.dataset.params["samples"] == 64


def test_device_list_and_choice(qtbot, panel):
    from visionstudio.ui.training import devices

    # The probe runs off the GUI thread; the full list replaces auto + CPU when it is done.
    qtbot.waitUntil(lambda: devices._cache is not None, timeout=60_000)
    qtbot.wait(50)
    values = [panel.device_combo.itemData(i) for i in range(panel.device_combo.count())]
    assert values[0] == "auto" and "cpu" in values
    assert [d for d, _ in devices._cache] == values
    import torch

    if torch.cuda.is_available():
        assert any(v.startswith("cuda:") for v in values)
    panel.device_combo.setCurrentIndex(values.index("cpu"))
    panel.device_combo.activated.emit(values.index("cpu"))
    assert panel.controller.document.training.device == "cpu"


def test_preview_strip_loads_off_the_gui_thread_and_stops_on_hide(qtbot, panel):
    panel.show()
    qtbot.waitUntil(lambda: panel.preview.data is not None, timeout=60_000)
    data = panel.preview.data
    assert len(data["images"]) == 12 and len(data["labels"]) == 12
    assert sum(int(c) for c in data["counts"]) == data["train"] == 64
    assert "circle" in panel.preview.info.text() and panel.preview.grid.count() == 24
    panel.hide()
    assert not live_tasks()


def test_listing_devices_never_blocks_the_gui_thread(qtbot, monkeypatch):
    """The device list needs torch (seconds to import): it is probed in the background."""
    import threading

    from visionstudio.ui.training import devices

    calls = []
    monkeypatch.setattr(devices, "_cache", None)
    monkeypatch.setattr(devices, "_started", False)
    monkeypatch.setattr(devices, "_lister", None)
    monkeypatch.setattr(devices, "available_devices",
                        lambda *_: calls.append(threading.current_thread().name) or
                        [("auto", "Auto"), ("cuda:0", "cuda:0 — Test GPU (80 GiB)"), ("cpu", "CPU")])
    got = []
    first = devices.list_devices_async(got.append)
    assert first == devices.BASIC_DEVICES
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    assert calls == ["device-probe"]
    assert [v for v, _ in got[0]] == ["auto", "cuda:0", "cpu"]
    assert [v for v, _ in devices.list_devices_async(got.append)] == ["auto", "cuda:0", "cpu"]


def _wheel(widget) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    pos = QPointF(widget.rect().center())
    QApplication.sendEvent(widget, QWheelEvent(
        pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(), QPoint(0, -120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))


def test_the_wheel_over_an_unfocused_combo_changes_nothing(qtbot, panel):
    """Issue #13: scrolling the panel over the Optimizer combo must not switch optimizers."""
    panel.show()
    qtbot.waitExposed(panel)
    doc = panel.controller.document
    combo = panel.choice_combos["optimizer"]
    before, count = combo.currentIndex(), panel.controller.undo_stack.count()
    assert not combo.hasFocus() and combo.count() > before + 1
    _wheel(combo)
    assert combo.currentIndex() == before and doc.training.optimizer["key"] == combo.itemData(before)
    epochs = panel.training_form.editors["epochs"]
    _wheel(epochs)
    assert epochs.value() == doc.training.epochs == 2
    assert panel.controller.undo_stack.count() == count


def test_a_refused_entry_is_marked_until_the_document_shows_its_value(panel):
    form = panel.choice_forms["optimizer"]
    lr, spec = form.editors["lr"], form.specs["lr"]
    lr.setText("0")
    lr.editingFinished.emit()
    assert form.editor("lr").problem() == lr.toolTip()
    assert lr.toolTip().startswith("learning rate must be at least")
    form.set_values(panel.controller.document.training.optimizer["params"])
    assert form.editor("lr").problem() == "" and lr.toolTip() == spec.describe()
