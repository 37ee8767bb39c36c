"""Write Report… in the runs list: written in the background, then offered to open;
a run whose files are gone gets a sentence, not a traceback."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from visionstudio.core.runs import RunHistory, make_entry
from visionstudio.core.training.records import BatchRecord, EpochRecord
from visionstudio.ui.shell.controller import DocumentController


def _history(steps: int = 30) -> RunHistory:
    h = RunHistory()
    losses = tuple((2.0 - np.arange(steps) / steps).tolist())
    h.add(BatchRecord(epoch=1, batch=steps, batches=steps, step=steps, loss=losses[-1], accuracy=0.5,
                      lr=1e-3, images_per_s=100.0, elapsed_s=1.0, eta_s=0.0, losses=losses,
                      lrs=(1e-3,) * steps))
    h.add(EpochRecord(epoch=1, step=steps, train_loss=1.2, train_accuracy=0.6, val_loss=1.3,
                      val_accuracy=0.55, val_top5=None, lr=1e-3, images_per_s=100.0, epoch_s=1.0,
                      elapsed_s=1.0, eta_s=0.0, monitored=1.3, best=True))
    return h


def test_write_report_from_the_runs_list(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots

    plots = MetricsPlots(DocumentController())
    qtbot.addWidget(plots)
    s = plots.selection
    _history().save(s.store.root / "r1")
    plots.controller.document.set_runs([make_entry("r1", "<b>Run 1</b>", {}, status="completed"),
                                        make_entry("gone", "Gone", {}, status="completed")])
    runs = plots.runs
    opened, told = [], []
    runs.report.ask_path = lambda parent, default: str(tmp_path / "out.html")
    runs.report.offer_open = lambda parent, path, notes: opened.append((path, notes))
    runs.report.tell = told.append
    task = runs.report.write("r1")
    assert task is not None
    qtbot.waitUntil(lambda: bool(opened or told), timeout=60_000)
    assert not told
    path, notes = opened[0]
    text = path.read_text("utf-8")
    assert "&lt;b&gt;Run 1&lt;/b&gt;" in text and "<polyline" in text    # per-step curve drawn
    assert any(n.startswith("No evaluation") for n in notes)           # said, not hidden
    assert runs.report_button.isEnabled()
    # a listed run whose folder is not there: one sentence
    assert runs.report.write("gone") is None
    assert told and "not there" in told[0]
