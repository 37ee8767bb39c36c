"""TensorBoard event files of a run: the same scalars as metrics.csv, read back with
TensorBoard's own reader; without the package the run is refused with the pip command."""

from __future__ import annotations

import csv

import pytest

from visionstudio.core.templates import load_template
from visionstudio.core.training import tensorboard_log
from visionstudio.core.training.plan import PlanProblems, execute, plan_run


def _tiny():
    doc = load_template("classic_cnn")
    doc.dataset = type(doc.dataset).from_dict({"key": "shapes", "params": {"samples": 60,
                                                                         "val_samples": 20}})
    return doc


def test_missing_package_refuses_the_run_naming_pip(monkeypatch):
    monkeypatch.setattr(tensorboard_log, "available", lambda: False)
    plan = plan_run(_tiny(), {"tensorboard": True, "device": "cpu"})
    assert isinstance(plan, PlanProblems) and "pip install tensorboard" in plan.message
    assert not isinstance(plan_run(_tiny(), {"device": "cpu"}), PlanProblems)   # off: no need


def test_a_run_writes_the_metrics_csv_scalars_as_events(tmp_path):
    pytest.importorskip("tensorboard")   # an optional dependency (the dev extra installs it)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plan = plan_run(_tiny(), {"tensorboard": True, "device": "cpu", "epochs": 2, "batch_size": 20})
    assert not isinstance(plan, PlanProblems), plan
    result = execute(plan, run_dir=tmp_path / "run")
    assert result.ok, result.failure
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        events = acc.Scalars(f"epoch/{column}")
        assert [e.step for e in events] == [int(r["step"]) for r in rows]
        assert [e.value for e in events] == pytest.approx([float(r[column]) for r in rows], rel=1e-5)
    steps = [e.step for e in acc.Scalars("train/loss_step")]
    assert steps == list(range(1, int(rows[-1]["step"]) + 1))       # every step, once
    assert {"train/lr_step", "epoch/images_per_s"} <= tags
    # deleting the run removes what the app wrote there, the event files included
    from visionstudio.core.runs.paths import delete_run_files

    (tmp_path / "run" / "report.html").write_text("<html></html>")
    assert delete_run_files(tmp_path, {"id": "run"}) == []
    assert not (tmp_path / "run").exists()


def test_a_planted_link_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "tensorboard").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="outside"):
        tensorboard_log.TensorBoardLog(run)
