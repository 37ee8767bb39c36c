"""The dashboard with runs of other tasks: the task's metrics and each head's loss are
series to choose, named on the plot; the run list scores a run by its task's metric."""

from __future__ import annotations

import pytest

from visionstudio.core.runs import RunHistory
from visionstudio.core.training.records import EpochRecord
from visionstudio.ui.shell.controller import DocumentController


def epoch(n: int, r2: float, box: float = 0.5) -> EpochRecord:
    return EpochRecord(epoch=n, step=10 * n, train_loss=1.0 / n, train_accuracy=0.0, val_loss=1.2 / n,
                       val_accuracy=None, val_top5=None, lr=1e-3, images_per_s=100.0, epoch_s=1.0,
                       elapsed_s=float(n), eta_s=0.0, monitored=r2, best=True,
                       val_metrics=(("r2", r2), ("mae", 2.0 / n), ("mae/size", 1.0 / n)),
                       val_head_losses=(("box", box),), train_head_losses=(("box", box + 0.1),))


@pytest.fixture
def plots(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots

    widget = MetricsPlots(DocumentController())
    widget.resize(1000, 600)
    qtbot.addWidget(widget)
    return widget


def test_epoch_metrics_become_selectable_series(plots):
    combo = plots.metric_choice
    plots.refresh()
    assert combo.isHidden()                       # a fresh dashboard: accuracy only
    history = plots.selection.history
    for n, r2 in ((1, 0.5), (2, 0.8), (3, 0.9)):
        history.add(epoch(n, r2))
    plots.refresh()
    names = [combo.itemData(i) for i in range(combo.count())]
    assert names[:4] == ["accuracy", "val_r2", "val_mae", "val_mae/size"] and "loss/box" in names
    assert not combo.isHidden() and combo.accessibleName()
    # a regression run opens on its primary metric, named on the plot and its axis
    plot = plots.plots["accuracy"]
    assert combo.currentData() == "val_r2" and "R²" in plot.titleLabel.text
    assert plot.getAxis("left").labelText == "R²"
    x, y = plots.items["val_acc"].getOriginalDataset()
    assert list(x) == [10, 20, 30] and list(y) == pytest.approx([0.5, 0.8, 0.9])
    # the user picks one head's loss: its training and validation curves
    combo.setCurrentIndex(combo.findData("loss/box"))
    combo.activated.emit(combo.currentIndex())
    assert plots.refresh() is True
    assert list(plots.items["train_acc"].getOriginalDataset()[1]) == pytest.approx([0.6] * 3)
    assert list(plots.items["val_acc"].getOriginalDataset()[1]) == pytest.approx([0.5] * 3)
    assert plot.getAxis("left").labelText == "Loss (box)"
    # and back to accuracy: the classic curves and the 0-1 range
    combo.choose("accuracy")
    plots.refresh()
    assert plot.getAxis("left").labelText == "" and "Accuracy" in plot.titleLabel.text


def test_overlaid_run_shows_the_chosen_metric(plots):
    from visionstudio.core.runs import make_entry, summarize

    shown = plots.selection
    entries = []
    for rid, r2 in (("r1", 0.3), ("r2", 0.5)):
        h = RunHistory()
        for n in (1, 2):
            h.add(epoch(n, r2 * n))
        h.save(shown.store.root / rid)
        entries.append({**make_entry(rid, rid, {}, status="completed"), "summary": summarize(h)})
    plots.controller.document.set_runs(entries)
    shown.show_run("r2")
    shown.set_overlay(["r1"])
    plots.refresh()
    assert plots.metric_choice.currentData() == "val_r2"
    item = plots.overlay_items["r1"][1]            # its curve on the metric plot
    assert list(item.getOriginalDataset()[1]) == pytest.approx([0.3, 0.6])
    assert "R² 1.000" in plots.runs.list.item(0).text()   # the list scores runs by R²


def test_run_list_scores_by_the_task_metric():
    from visionstudio.core.runs import summarize
    from visionstudio.ui.plots.runs_list import primary_score

    history = RunHistory()
    history.add(epoch(1, 0.9712))
    assert primary_score(summarize(history)) == "R² 0.971"
    detection = {"val_metrics": {"map50": 0.81, "map": 0.5}, "val_accuracy": None}
    assert primary_score(detection) == "mAP@0.5 81.0%"
    assert primary_score({"val_accuracy": 0.5, "val_metrics": {}}) == "50.0%"
    assert primary_score({}) == ""


def test_training_texts_name_the_task_metric():
    import math

    from visionstudio.core.training.records import BatchRecord
    from visionstudio.ui.training.texts import batch_score, epoch_text, final_text, run_score

    record = epoch(2, 0.9534)
    assert epoch_text(record) == "Epoch 2: R² 0.953 (validation), loss 0.6000"
    assert final_text(record.as_dict(), 2) == "Final R² 0.953 (validation) after 2 epochs"
    classic = EpochRecord(epoch=1, step=5, train_loss=0.5, train_accuracy=0.7, val_loss=0.4,
                          val_accuracy=0.75, val_top5=None, lr=1e-3, images_per_s=1.0, epoch_s=1.0,
                          elapsed_s=1.0, eta_s=0.0, monitored=0.4, best=True)
    assert epoch_text(classic) == "Epoch 1: accuracy 75.0% (validation), loss 0.4000"
    assert final_text(classic.as_dict(), 1) == "Final accuracy 75.0% (validation) after 1 epochs"
    assert run_score(record.as_dict()) == ("R² 0.953", "validation") and run_score({}) == ("", "")
    batch = BatchRecord(epoch=1, batch=1, batches=2, step=1, loss=0.3, accuracy=math.nan, lr=1e-3,
                        images_per_s=1.0, elapsed_s=1.0, eta_s=1.0, head_losses=(("cls", 0.1), ("box", 0.2)))
    assert batch_score(batch) == " (cls 0.1000 · box 0.2000)"


def test_hover_readout_follows_the_metric_shown(plots):
    from visionstudio.core.training.records import BatchRecord

    history = plots.selection.history
    history.add(BatchRecord(epoch=1, batch=10, batches=10, step=10, loss=0.5, accuracy=float("nan"),
                            lr=1e-3, images_per_s=10.0, elapsed_s=1.0, eta_s=0.0, losses=(0.5,) * 10,
                            lrs=(1e-3,) * 10))
    history.add(epoch(1, 0.75))
    plots.refresh()
    assert plots.values_at(5).endswith("epoch 1: R² 0.750") and "nan" not in plots.values_at(5)
    plots.metric_choice.choose("loss/box")
    plots.refresh()
    assert plots.values_at(5).endswith("epoch 1: Loss (box) train 0.6, Loss (box) val 0.5")


def test_a_localization_run_shows_its_accuracy_from_its_metrics(plots):
    history = plots.selection.history
    for n in (1, 2):
        history.add(EpochRecord(epoch=n, step=10 * n, train_loss=1.0, train_accuracy=float("nan"),
                                val_loss=1.0, val_accuracy=None, val_top5=None, lr=1e-3, images_per_s=1.0,
                                epoch_s=1.0, elapsed_s=1.0, eta_s=0.0, monitored=0.5, best=True,
                                val_metrics=(("iou", 0.4 * n), ("accuracy", 0.45 * n), ("box_l1", 0.1))))
    plots.refresh()
    assert plots.metric_choice.currentData() == "val_iou"
    plots.metric_choice.choose("accuracy")
    plots.refresh()
    assert list(plots.items["val_acc"].getOriginalDataset()[1]) == pytest.approx([0.45, 0.9])
    x, _y = plots.items["train_acc"].getOriginalDataset()
    assert x is None or len(x) == 0                      # NaN: not measured, not drawn
