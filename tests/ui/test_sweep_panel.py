"""The sweep panel as a user works it (issue #19): rows added by clicking and typing, a
tiny real sweep (built-in shapes, few images, one epoch), sorting, the two charts, Apply
best and Undo, Stop and Continue, reopening a stored study, the training rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.ui.canvas.demo import demo_document
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.sweeps import session as sweep_session
from visionstudio.ui.sweeps import studies
from visionstudio.ui.sweeps.panel import SweepPanel, next_free_name
from visionstudio.ui.sweeps.table import SweepSortProxy, SweepTableModel
from visionstudio.ui.training.run_controller import runs_for

from .test_tooltips import _offenders

SWEEP_WAIT_MS = 180_000


@dataclass(frozen=True)
class Row:   # TrialRow's shape, for the table alone
    number: int
    state: str
    params: dict = field(default_factory=dict)
    value: float | None = None
    values_per_seed: tuple = ()
    run_ids: tuple = ()
    seconds: float = 1.0
    message: str = ""


@pytest.fixture
def panel(qtbot, tmp_path):
    controller = DocumentController(demo_document())
    controller.path = tmp_path / "project.vsproj"   # its runs (and sweeps.db) in tmp_path
    controller.push(SetDatasetSettings("shapes", {"samples": 40, "val_samples": 10}))
    widget = SweepPanel(controller)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    widget.session.shutdown()


def _type(field: QWidget, text: str) -> None:
    line = field.lineEdit() if isinstance(field, (QComboBox, QSpinBox, QDoubleSpinBox)) else field
    field.setFocus()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Backspace)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def _add(qtbot, panel: SweepPanel, path: str):
    combo = panel.parameters.combo
    combo.setCurrentIndex(combo.findData(path))
    qtbot.mouseClick(panel.parameters.add_button, Qt.MouseButton.LeftButton)
    return next(r for r in panel.parameters.rows if r.choice.path == path)


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _wait_idle(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel.session.busy, timeout=SWEEP_WAIT_MS)


def test_a_parameter_row_and_its_range_by_clicking_and_typing(qtbot, panel):
    lr = _add(qtbot, panel, "optimizer.lr")
    _type(lr.low.field, "0.0005")
    _type(lr.high.field, "0.005")
    assert lr.log.isChecked()   # a learning rate starts on a log scale
    filters = _add(qtbot, panel, "layer.conv3.out_channels")
    _type(filters.low.field, "32")
    _type(filters.high.field, "96")
    _type(filters.step.field, "32")
    opt = _add(qtbot, panel, "optimizer.key")
    for key, box in opt.boxes.items():
        if box.isChecked() != (key in ("adam", "sgd")):
            qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    batch = _add(qtbot, panel, "training.batch_size")
    _type(batch.values.field, "16, 32")
    assert panel.parameters.combo.model().item(panel.parameters.combo.findData("optimizer.lr")).isEnabled() \
        is False   # not offered twice
    params = panel.current_config()["parameters"]
    assert params["optimizer.lr"] == {"type": "float", "low": 0.0005, "high": 0.005, "log": True}
    assert params["layer.conv3.out_channels"] == {"type": "int", "low": 32, "high": 96, "step": 32}
    assert params["optimizer.key"] == {"choices": ["sgd", "adam"]}
    assert params["training.batch_size"] == {"choices": [16, 32]}
    # a bad entry is refused in words, nothing starts
    _type(lr.low.field, "fast")
    _click(qtbot, panel.start_button)
    assert panel.status.text().startswith("The sweep cannot start: Adam: learning rate:")
    assert not panel.session.busy
    _type(lr.low.field, "0.01")
    _click(qtbot, panel.start_button)
    assert "must be above 'from'" in panel.status.text()
    _type(lr.low.field, "0.0005")
    qtbot.mouseClick(batch.remove_button, Qt.MouseButton.LeftButton)
    assert "training.batch_size" not in panel.current_config()["parameters"]
    assert [r.choice.path for r in panel.parameters.rows] == ["optimizer.lr", "layer.conv3.out_channels",
                                                              "optimizer.key"]


def test_a_swept_layer_that_goes_leaves_the_sweep_and_says_so(qtbot, panel):
    from visionstudio.core.graph.commands import RenameNode

    _add(qtbot, panel, "optimizer.lr")
    _add(qtbot, panel, "layer.dropout.p")
    combo = panel.parameters.combo
    combo.setCurrentIndex(combo.findData("training.batch_size"))
    dropout = panel.controller.document.graph.node_by_name("dropout")
    assert panel.controller.push(RenameNode(dropout.id, "drop"))
    assert [r.choice.path for r in panel.parameters.rows] == ["optimizer.lr"]
    assert panel.status.text() == "dropout: rate left the sweep: the project no longer has it."
    assert combo.currentData() == "training.batch_size"   # an edit keeps the user's pick
    assert combo.findData("layer.drop.p") >= 0


def test_every_control_has_a_tooltip_and_an_accessible_name(qtbot, panel):
    _add(qtbot, panel, "optimizer.lr")
    _add(qtbot, panel, "optimizer.key")
    no_tip, no_name, seen = _offenders(panel)
    assert seen > 20
    assert not no_tip and not no_name, (no_tip, no_name)
    assert panel.results.table.tabKeyNavigation() is False   # Tab leaves the table


def test_the_table_sorts_by_any_column_with_missing_values_last():
    model = SweepTableModel()
    proxy = SweepSortProxy()
    proxy.setSourceModel(model)
    model.configure(["optimizer.lr", "optimizer.key"], {"optimizer.lr": "lr"}, "val_loss", 2)
    model.set_rows([Row(0, "complete", {"optimizer.lr": 1e-3, "optimizer.key": "sgd"}, 0.5, (0.4, 0.6)),
                    Row(1, "running", {"optimizer.lr": 1e-2, "optimizer.key": "adam"}),
                    Row(2, "complete", {"optimizer.lr": 1e-4, "optimizer.key": "adam"}, 0.2, (0.2, 0.2))])
    assert model.headers() == ["Trial", "State", "lr", "optimizer.key", "val_loss (mean ± sd)", "Seconds"]
    metric = model.metric_column()
    assert model.data(model.index(0, metric)) == "0.5 ± 0.1414"

    def column(c: int) -> list[str]:
        return [proxy.index(r, c).data() for r in range(proxy.rowCount())]

    for order, expected in ((Qt.SortOrder.AscendingOrder, ["2", "0", "1"]),
                            (Qt.SortOrder.DescendingOrder, ["0", "2", "1"])):
        proxy.sort(metric, order)
        assert column(0) == expected   # the running trial has no value: last either way
    proxy.sort(2, Qt.SortOrder.AscendingOrder)
    assert column(0) == ["2", "0", "1"]
    proxy.sort(3, Qt.SortOrder.AscendingOrder)
    assert column(3) == ["adam", "adam", "sgd"]


def test_a_new_sweep_never_extends_a_stored_one_by_accident():
    assert next_free_name("sweep-1", {"sweep-1"}) == "sweep-2"
    assert next_free_name("lr", {"lr", "lr-2"}) == "lr-3"
    assert next_free_name("new", {"old"}) == "new"


def test_the_panel_knows_where_the_study_file_lives():
    from visionstudio.core.sweeps.study import STUDY_FILE

    assert sweep_session.DB_NAME == studies.DB_NAME == STUDY_FILE


def test_a_tiny_sweep_end_to_end(qtbot, panel, monkeypatch):
    """Start (2 trials), Stop during the second, Continue one more; sort, the plots,
    select a trial, Apply best + Undo, reopen the stored study."""
    from visionstudio.core.sweeps import trial as trial_module

    # The second trial keeps running until the user stops it: a tiny trial would otherwise
    # end before the click on a fast machine, and the test would race it.
    real_execute, calls = trial_module.execute, []

    def second_runs_until_stopped(plan, callbacks, control, **kwargs):
        calls.append(plan)
        deadline = time.monotonic() + SWEEP_WAIT_MS / 1000
        while len(calls) == 2 and not control.stop_requested and time.monotonic() < deadline:
            time.sleep(0.01)
        return real_execute(plan, callbacks, control, **kwargs)

    monkeypatch.setattr(trial_module, "execute", second_runs_until_stopped)
    controller = panel.controller
    _add(qtbot, panel, "optimizer.lr")
    filters = _add(qtbot, panel, "layer.conv3.out_channels")
    _type(filters.low.field, "8")
    _type(filters.high.field, "16")
    s = panel.settings
    s.sampler.setCurrentIndex(s.sampler.findData("random"))
    _type(s.trials, "2")
    _type(s.epochs, "1")
    original = controller.document.to_dict()
    _click(qtbot, panel.start_button)
    assert panel.session.busy and not panel.start_button.isEnabled()
    runs = runs_for(controller)   # a training run must wait, and is told why
    assert runs.train() is False and runs.last_failure.message == sweep_session.LOCK_REASON
    # the second trial starts once the first has finished: stop it
    qtbot.waitUntil(lambda: len(panel.results.rows()) == 2, timeout=SWEEP_WAIT_MS)
    _click(qtbot, panel.stop_button)
    _wait_idle(qtbot, panel)
    assert [r.state for r in panel.results.rows()] == ["complete", "stopped"], panel.status.text()
    assert panel.status.text().startswith("Sweep stopped: 1 trial finished, 1 stopped.")
    qtbot.waitUntil(lambda: panel.study_names == ["sweep-1"], timeout=60_000)
    _type(s.trials, "1")
    _click(qtbot, panel.continue_button)   # one more trial
    _wait_idle(qtbot, panel)
    rows = panel.results.rows()
    assert [(r.number, r.state) for r in rows] == [(0, "complete"), (1, "stopped"), (2, "complete")], \
        panel.status.text()
    assert panel.status.text().startswith("Sweep finished: 2 trials finished, 1 stopped.")
    names = [run["name"] for run in controller.document.runs]   # trials are ordinary runs
    assert names == [f"sweep sweep-1 · trial {n}" for n in (0, 1, 2)]
    # sort by the metric: click its header
    header = panel.results.table.horizontalHeader()
    metric = panel.results.model.metric_column()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(metric) + 5, 5))
    assert header.sortIndicatorSection() == metric
    shown = [panel.results.proxy.index(r, metric).data() for r in range(3)]
    values = sorted(r.value for r in rows if r.value is not None)
    if header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder:
        values = values[::-1]
    assert [float(v) for v in shown[:2]] == pytest.approx(values, rel=1e-3) and shown[2] == ""
    assert len(panel.results.parallel.trial_items) == 3
    qtbot.waitUntil(lambda: len(panel.results.importance.bar_items) == 2, timeout=60_000)
    # selecting a trial shows its run
    best = panel.results.best()
    assert panel.results.select_trial(best.number)
    assert panel.selection.display_id == best.run_ids[0]
    # Apply best, then one Undo restores the project
    _click(qtbot, panel.apply_button)
    applied = controller.document.training.optimizer["params"]["lr"]
    assert applied == pytest.approx(best.params["optimizer.lr"])
    conv3 = controller.document.graph.node_by_name("conv3")
    assert conv3.params["out_channels"] == best.params["layer.conv3.out_channels"]
    assert controller.undo()
    after = controller.document.to_dict()
    assert after["training"] == original["training"] and after["graph"] == original["graph"]
    # reopen the stored study in a fresh panel
    other = SweepPanel(controller)
    qtbot.addWidget(other)
    qtbot.waitUntil(lambda: other.study_names == ["sweep-1"], timeout=60_000)
    _click(qtbot, other.open_button)
    qtbot.waitUntil(lambda: len(other.results.rows()) == 3, timeout=60_000)
    assert [r.path for r in other.config.parameters] == ["optimizer.lr", "layer.conv3.out_channels"]
    assert [r.choice.path for r in other.parameters.rows] == ["optimizer.lr", "layer.conv3.out_channels"]
    qtbot.waitUntil(lambda: len(other.results.importance.bar_items) == 2, timeout=60_000)


def test_a_sweep_waits_for_a_training_run(qtbot, panel):
    _add(qtbot, panel, "optimizer.lr")
    runs = runs_for(panel.controller)
    runs.state = "running"   # as while a run trains
    try:
        _click(qtbot, panel.start_button)
    finally:
        runs.state = "idle"
    assert panel.status.text() == sweep_session.TRAINING_BUSY
    assert not panel.session.busy


def test_saving_an_unsaved_project_brings_its_sweeps_along(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    controller = DocumentController(demo_document())
    session = sweep_session.sweeps_for(controller)
    scratch = session.runs_root()
    scratch.mkdir(parents=True)
    (scratch / sweep_session.DB_NAME).write_bytes(b"a study")
    path = tmp_path / "saved.vsproj"
    controller.path = path
    controller.path_changed.emit(str(path))   # what Save does
    assert session.runs_root() != scratch
    assert (session.runs_root() / sweep_session.DB_NAME).read_bytes() == b"a study"
    assert not (scratch / sweep_session.DB_NAME).exists()   # moved out of the scratch folder


def test_run_on_many_machines_writes_a_bundle(qtbot, panel, tmp_path):
    _add(qtbot, panel, "optimizer.lr")
    out = tmp_path / "bundle"
    panel.ask_folder = lambda parent: str(out)
    _click(qtbot, panel.bundle_button)
    qtbot.waitUntil(lambda: panel.bundle_button.isEnabled(), timeout=120_000)
    assert panel.status.text().startswith(f"Sweep bundle written to {out}."), panel.status.text()
    sweep = json.loads((out / "sweep.json").read_text())
    assert list(sweep["parameters"]) == ["optimizer.lr"]
    assert (out / "project.vsproj").is_file() and (out / "script" / "train.py").is_file()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    panel.ask_folder = lambda parent: str(tmp_path / "taken")   # never written over
    _click(qtbot, panel.bundle_button)
    qtbot.waitUntil(lambda: panel.bundle_button.isEnabled(), timeout=60_000)
    assert "is not empty and holds no sweep bundle" in panel.status.text()


def test_closing_the_window_during_a_sweep_asks_first(qtbot, panel):
    from visionstudio.ui.sweeps.integration import SweepIntegration

    window = QWidget()
    qtbot.addWidget(window)
    window.controller = panel.controller   # what install() reads from the main window
    integration = SweepIntegration(window)
    assert integration.session is panel.session
    asked = []
    integration.ask_stop = lambda window: asked.append(window) or False
    assert integration.confirm_close() is True and not asked   # nothing runs: no question
    panel.session.state = "running"   # as while a sweep trains
    try:
        assert integration.confirm_close() is False and len(asked) == 1   # the user said no
    finally:
        panel.session.state = "idle"


# The panel built, a row added, then Start: torch must come in only then, on the sweep's thread.
SPY = r"""
import json, os, sys, threading, tempfile
os.environ["QT_QPA_PLATFORM"] = "offscreen"
first = {}
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "optuna") and name not in first:
            first[name] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Spy())
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from visionstudio.ui.canvas.demo import demo_document
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.sweeps.panel import SweepPanel
c = DocumentController(demo_document())
c.path = Path(tempfile.mkdtemp()) / "p.vsproj"
p = SweepPanel(c)
p.show()
p.parameters.add("optimizer.lr")
app.processEvents()
out = {"before": sorted(first)}
p.settings.trials.setValue(1)
p.start()
from PySide6.QtCore import QDeadlineTimer
deadline = QDeadlineTimer(120_000)
while "torch" not in first and not deadline.hasExpired():
    app.processEvents()
    p.session.task.wait(20) if p.session.task else None
p.session.stop()
p.session.wait()
out["thread"] = first.get("torch")
from visionstudio.ui.shell.tasks import wait_all
wait_all()
print(json.dumps(out))
"""


def test_torch_and_optuna_load_only_when_a_sweep_starts_on_its_thread(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    out = subprocess.run([sys.executable, "-c", SPY], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["before"] == []
    assert result["thread"].startswith("sweep-")
