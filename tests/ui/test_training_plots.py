"""MetricsPlots without training: fed RunHistory data directly (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from visionstudio.core.runs import RunHistory
from visionstudio.core.training.records import BatchRecord, EpochRecord
from visionstudio.ui.shell.controller import DocumentController


def fill(history: RunHistory, steps: int, per_record: int = 1000) -> None:
    rng = np.random.default_rng(0)
    for end in range(per_record, steps + 1, per_record):
        steps_here = np.arange(end - per_record, end)
        losses = tuple((2.0 / np.sqrt(steps_here + 1) + 0.05 * rng.random(per_record)).tolist())
        history.add(BatchRecord(epoch=1, batch=end, batches=steps, step=end, loss=losses[-1], accuracy=0.5,
                                lr=1e-3, images_per_s=1000.0, elapsed_s=end / 100, eta_s=1.0,
                                losses=losses, lrs=(1e-3,) * per_record))
    history.add(EpochRecord(epoch=1, step=steps, train_loss=0.3, train_accuracy=0.8, val_loss=0.35,
                            val_accuracy=0.75, val_top5=None, lr=1e-3, images_per_s=1000.0, epoch_s=1.0,
                            elapsed_s=1.0, eta_s=0.0, monitored=0.35, best=True))


@pytest.fixture
def plots(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots

    widget = MetricsPlots(DocumentController())
    widget.resize(1000, 600)
    qtbot.addWidget(widget)
    return widget


def test_timer_redraws_only_when_the_history_changed(qtbot, plots):
    from visionstudio.ui.plots.metrics import GROUPS
    assert 10 <= 1000 / (plots.timer.interval() * len(GROUPS)) <= 30 and plots.timer.isActive()
    fill(plots.selection.history, 500)
    for _ in GROUPS:
        plots._tick()                      # one plot per tick, round robin
    assert plots.refresh() is False         # all four drawn: nothing left to do
    plots.refresh()
    assert plots.refresh() is False
    fill(plots.selection.history, 2000)
    assert plots.refresh() is True and plots.refresh() is False
    x, y = plots.items["loss_raw"].getOriginalDataset()
    assert len(x) == 2000 and y[0] == pytest.approx(plots.selection.history.batch_arrays()["loss"][0])
    assert len(plots.items["val_acc"].getOriginalDataset()[0]) == 1


def test_items_are_reused_and_downsampled(plots):
    item = plots.items["loss_raw"]
    fill(plots.selection.history, 100_000, per_record=10_000)
    plots.refresh()
    assert plots.items["loss_raw"] is item
    for name in ("loss_raw", "loss_ema", "lr", "throughput"):
        opts = plots.items[name].opts
        assert opts["autoDownsample"] and opts["clipToView"] and opts["downsampleMethod"] == "peak"


def test_log_scale_toggle_and_hover_readout(qtbot, plots):
    fill(plots.selection.history, 3000)
    plots.refresh()
    plots.log_check.setChecked(True)
    assert plots.items["loss_raw"].opts["logMode"][1] is True
    assert plots.items["lr"].opts["logMode"][1] is True              # always logarithmic
    plots.log_check.setChecked(False)
    assert plots.items["loss_raw"].opts["logMode"][1] is False
    text = plots.values_at(1500.4)
    assert "step 1501" in text and "loss" in text and "lr 0.001" in text and "val 75.0%" in text
    plots.show()
    qtbot.waitExposed(plots)
    loss_plot = plots.plots["loss"]
    pos = loss_plot.vb.mapViewToScene(loss_plot.vb.viewRect().center())
    plots._on_scene_mouse_moved((pos,))
    assert plots.readout.text().startswith("step ") and plots.cursor_lines["lr"].isVisible()


def test_export_csv_and_png(plots, tmp_path):
    fill(plots.selection.history, 2000)
    paths = plots.export_csv(tmp_path / "curves.csv")
    lines = paths[0].read_text().splitlines()
    assert lines[0] == "step,loss,loss_ema,lr" and len(lines) == 2001
    assert paths[1].name == "curves-epochs.csv" and "val_accuracy" in paths[1].read_text()
    assert plots.export_png(tmp_path / "plots.png")
    assert (tmp_path / "plots.png").read_bytes()[:4] == b"\x89PNG"


def test_overlay_of_other_runs(qtbot, plots, tmp_path):
    shown = plots.selection
    doc = plots.controller.document
    from visionstudio.core.runs import make_entry

    for rid in ("r1", "r2"):
        h = RunHistory()
        fill(h, 1000)
        h.save(shown.store.root / rid)
    doc.set_runs([make_entry("r1", "first", {}, status="completed"),
                  make_entry("r2", "second", {}, status="completed")])
    shown.show_run("r2")
    assert plots.runs.list.count() == 2
    shown.set_overlay(["r1", "r2"])                # the shown run is not overlaid on itself
    plots.refresh()
    assert list(plots.overlay_items) == ["r1"]
    assert len(plots.overlay_items["r1"][0].getOriginalDataset()[0]) == 1000
    shown.set_overlay([])
    plots.refresh()
    assert plots.overlay_items == {}
