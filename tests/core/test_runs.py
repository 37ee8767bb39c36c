"""core.runs: metric history (EMA, truncation, files), run folders, run-list commands."""

from __future__ import annotations

import math

import numpy as np
import pytest

from visionstudio.core.commands import CommandError
from visionstudio.core.project import ProjectDocument
from visionstudio.core.runs import (
    RemoveRun,
    RenameRun,
    RunHistory,
    adopt_runs,
    delete_run_files,
    make_entry,
    runs_root,
    scratch_root,
    summarize,
)
from visionstudio.core.training.records import BatchRecord, EpochRecord


def batch(step, losses, lr=0.1, rate=100.0, acc=0.5, epoch=1, events=()):
    return BatchRecord(epoch=epoch, batch=step, batches=100, step=step, loss=float(np.mean(losses)),
                       accuracy=acc, lr=lr, images_per_s=rate, elapsed_s=step * 0.1, eta_s=1.0,
                       losses=tuple(losses), lrs=tuple([lr] * len(losses)), events=tuple(events))


def epoch(n, step, val=0.5):
    return EpochRecord(epoch=n, step=step, train_loss=1.0 / n, train_accuracy=0.5, val_loss=val,
                       val_accuracy=0.6, val_top5=None, lr=0.1, images_per_s=100.0, epoch_s=1.0,
                       elapsed_s=float(n), eta_s=0.0, monitored=val, best=True)


def test_batches_expand_to_steps_with_debiased_ema():
    h = RunHistory(ema_weight=0.5)
    h.add(batch(3, [4.0, 2.0, 2.0]))
    h.add(batch(4, [1.0], events=("learning rate set to 0.01 at step 3",)))
    a = h.batch_arrays()
    assert list(a["step"]) == [1, 2, 3, 4] and list(a["loss"]) == [4, 2, 2, 1]
    assert a["loss_ema"][0] == pytest.approx(4.0)                   # debiased: first value exact
    assert a["loss_ema"][1] == pytest.approx((0.25 * 4 + 0.5 * 2) / 0.75)
    assert list(a["rate_step"]) == [3, 4] and h.steps_done == 4
    assert h.events == ["learning rate set to 0.01 at step 3"]
    v = h.version
    h.add(epoch(1, 4))
    assert h.version > v and h.epoch_series("val_loss") == (pytest.approx([4.0]), pytest.approx([0.5]))


def test_nan_losses_do_not_poison_the_ema():
    h = RunHistory()
    h.add(batch(3, [1.0, math.nan, 1.0]))
    ema = h.batch_arrays()["loss_ema"]
    assert ema[2] == pytest.approx(1.0)


def test_growth_keeps_views_consistent():
    h = RunHistory()
    for s in range(1, 5001):
        h.add_batch(batch(s, [float(s)]))
    assert h.batch_arrays()["loss"][-1] == 5000 and len(h.batch_arrays()["step"]) == 5000


def test_truncate_and_replayed_steps():
    h = RunHistory()
    h.add(batch(4, [1, 2, 3, 4]))
    h.add(epoch(1, 2))
    h.add(epoch(2, 4))
    h.truncate(2)
    assert list(h.batch_arrays()["step"]) == [1, 2] and [e["epoch"] for e in h.epochs] == [1]
    h.add(batch(3, [9.0, 9.0]))      # steps 2..3 arrive again (resume): the old step 2 is replaced
    assert list(h.batch_arrays()["step"]) == [1, 2, 3] and list(h.batch_arrays()["loss"]) == [1, 9, 9]


def test_save_and_load_round_trip(tmp_path):
    h = RunHistory()
    h.add(batch(3, [3.0, 2.0, 1.0]))
    h.add(epoch(1, 3))
    h.status = "completed"
    h.save(tmp_path / "run")
    back = RunHistory.load(tmp_path / "run")
    for k, v in h.batch_arrays().items():
        assert np.array_equal(back.batch_arrays()[k], v), k
    assert back.epochs == h.epochs and back.status == "completed"
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].startswith("epoch,step")
    assert RunHistory.load(tmp_path / "missing").steps_done == 0
    (tmp_path / "run" / "metrics.json").write_text("{broken")
    with pytest.raises(ValueError, match="metrics.json"):
        RunHistory.load(tmp_path / "run")


def test_one_metrics_csv_for_the_app_the_command_line_and_the_importer(tmp_path):
    """The run folder's metrics.csv (RunHistory), the command line's (MetricsCSV) and what
    the importer reads are one format: METRIC_COLUMNS, declared once in records.py."""
    from types import SimpleNamespace

    from visionstudio.core.export.metrics import import_metrics_csv
    from visionstudio.core.training.records import METRIC_COLUMNS
    from visionstudio.core.training.run_files import MetricsCSV

    records = [epoch(1, 3), epoch(2, 6, val=0.25)]
    h = RunHistory()
    for r in records:
        h.add(r)
    MetricsCSV(tmp_path / "cli.csv").on_epoch_end(SimpleNamespace(history=records), records[-1])
    text = h.epoch_csv()
    assert text == (tmp_path / "cli.csv").read_text()
    assert text.splitlines()[0] == ",".join(METRIC_COLUMNS)
    assert text.splitlines()[2] == "2,6,0.5,0.5,0.25,0.6,,0.1,100,1,2,True"
    (tmp_path / "app.csv").write_text(text)
    rows = import_metrics_csv(tmp_path / "app.csv")
    assert [(r["epoch"], r["val_loss"], r["best"]) for r in rows] == [(1, 0.5, True), (2, 0.25, True)]


def test_batch_csv():
    h = RunHistory()
    h.add(batch(2, [0.5, 0.25], lr=0.01))
    rows = h.batch_csv().splitlines()
    assert rows[0] == "step,loss,loss_ema,lr" and rows[2].startswith("2,0.25,")


def test_roots_and_adoption(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    scratch = scratch_root("s1")
    assert scratch == tmp_path / "state" / "VisionStudio" / "unsaved-runs" / "s1"
    assert runs_root(None, scratch) == scratch
    assert runs_root(tmp_path / "a.vsproj") == tmp_path / "a.vsproj.runs"
    entries = [make_entry("r1", "Run 1", {}), make_entry("r2", "Run 2", {})]
    (scratch / "r1").mkdir(parents=True)
    (scratch / "r1" / "metrics.csv").write_text("x")
    dst = runs_root(tmp_path / "a.vsproj")
    assert adopt_runs(entries, scratch, dst, move=True) == []        # r2 has no files: skipped
    assert (dst / "r1" / "metrics.csv").read_text() == "x" and not (scratch / "r1").exists()
    copy_dst = runs_root(tmp_path / "b.vsproj")
    adopt_runs(entries, dst, copy_dst, move=False)
    assert (dst / "r1").is_dir() and (copy_dst / "r1").is_dir()
    delete_run_files(copy_dst, entries[0])
    assert not (copy_dst / "r1").exists()


def test_summary_is_json_ready():
    h = RunHistory()
    h.add(batch(2, [1.0, 1.0]))
    h.add(epoch(1, 2, val=float("nan")))
    s = summarize(h)
    assert s["epochs"] == 1 and s["steps"] == 2 and s["val_loss"] is None


def test_rename_and_remove_commands_undo():
    doc = ProjectDocument()
    doc.set_runs([make_entry("a", "Run 1", {}), make_entry("b", "Run 2", {})])
    seen = []
    doc.settings_changed.connect(seen.append)
    rename = RenameRun("a", "  baseline ")
    rename.do(doc)
    assert doc.runs[0]["name"] == "baseline" and "runs" in seen
    rename.undo(doc)
    assert doc.runs[0]["name"] == "Run 1"
    with pytest.raises(CommandError):
        RenameRun("a", "   ").do(doc)
    with pytest.raises(CommandError):
        RenameRun("zzz", "x").do(doc)
    remove = RemoveRun("a")
    remove.do(doc)
    assert [r["id"] for r in doc.runs] == ["b"]
    remove.undo(doc)
    assert [r["id"] for r in doc.runs] == ["a", "b"]


def test_add_and_update_run_commands_undo_and_refuse():
    from visionstudio.core.runs import AddRun, UpdateRun

    doc = ProjectDocument()
    add = AddRun(make_entry("a", "Run 1", {}))
    add.do(doc)
    assert [r["id"] for r in doc.runs] == ["a"] and doc.runs[0]["status"] == "running"
    with pytest.raises(CommandError, match="already"):
        AddRun(make_entry("a", "Run 1 again", {})).do(doc)
    update = UpdateRun("a", status="completed", summary={"epochs": 2})
    update.do(doc)
    assert doc.runs[0]["status"] == "completed" and doc.runs[0]["summary"] == {"epochs": 2}
    assert doc.runs[0]["name"] == "Run 1"                 # only the fields it names
    update.undo(doc)
    assert doc.runs[0]["status"] == "running" and doc.runs[0]["summary"] == {}
    with pytest.raises(ValueError, match="name"):
        UpdateRun("a", name="x")                          # renaming is RenameRun's
    with pytest.raises(CommandError):
        UpdateRun("zzz", status="failed").do(doc)
    add.undo(doc)
    assert doc.runs == []


def test_run_store_folders_histories_and_moves(tmp_path):
    from visionstudio.core.runs import RunStore

    doc = ProjectDocument()
    doc.set_runs([make_entry("a", "Run 1", {}, status="completed")])
    store = RunStore(doc, None, scratch=tmp_path / "scratch")
    assert store.root == tmp_path / "scratch" and store.next_name() == "Run 2"
    h = RunHistory()
    h.add(batch(2, [1.0, 0.5]))
    h.save(store.folder("a"))
    assert store.history("a").steps_done == 2 and store.history("a") is store.history("a")
    assert store.history("missing") is None and store.latest_id() == "a"
    problems = []
    (store.folder("a") / "metrics.json").write_text("{broken")
    store.forget("a")
    assert store.history("a", problems.append).steps_done == 0 and "metrics.json" in problems[0]
    store.history("a", problems.append)
    assert len(problems) == 1                              # said once, not on every redraw
    assert store.set_project_path(tmp_path / "net.vsproj") == []
    assert store.root == tmp_path / "net.vsproj.runs" and (store.root / "a" / "history.npz").is_file()
    assert not (tmp_path / "scratch" / "a").exists()       # moved out of the scratch folder
    assert store.delete_files(doc.runs[0]) == [] and not (store.root / "a").exists()


def test_the_metrics_csv_gets_the_tasks_own_columns(tmp_path):
    """A regression or detection run's metrics.csv carries its metrics and per-head losses
    after the shared columns, in the app's, the command line's and the importer's file."""
    import dataclasses
    from types import SimpleNamespace

    from visionstudio.core.export.metrics import import_metrics_csv
    from visionstudio.core.training.records import METRIC_COLUMNS
    from visionstudio.core.training.run_files import MetricsCSV

    records = [dataclasses.replace(epoch(i, 3 * i), val_metrics=(("r2", 0.5 + i / 10), ("mae", 2.0)),
                                   val_head_losses=(("box", 0.25),)) for i in (1, 2)]
    h = RunHistory()
    for r in records:
        h.add(r)
    MetricsCSV(tmp_path / "cli.csv").on_epoch_end(SimpleNamespace(history=records), records[-1])
    text = h.epoch_csv()
    assert text == (tmp_path / "cli.csv").read_text()
    assert text.splitlines()[0] == ",".join((*METRIC_COLUMNS, "val_r2", "val_mae", "val_loss/box"))
    (tmp_path / "app.csv").write_text(text)
    rows = import_metrics_csv(tmp_path / "app.csv")
    assert [(r["epoch"], r["val_r2"], r["val_loss/box"]) for r in rows] == [(1, 0.6, 0.25), (2, 0.7, 0.25)]
