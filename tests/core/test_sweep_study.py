"""Small sweeps end to end on a few Shapes images: grid, random with repeated seeds, TPE
with median pruning, a stop in the middle of a trial and its continuation on the same
SQLite study; every trial is an ordinary run (folder, checkpoints, curves, entry)."""

from __future__ import annotations

import json
import statistics

import optuna
import pytest

from tests.core.sweep_helpers import tiny_project
from tests.core.training_helpers import one_thread
from visionstudio.core.runs import AddRun
from visionstudio.core.sweeps.config import SweepConfig
from visionstudio.core.sweeps.study import (
    SweepError,
    SweepRunner,
    load_study_rows,
    parameter_importance,
    study_storage_url,
)
from visionstudio.core.training.control import TrainerControl

_threads = pytest.fixture(autouse=True)(one_thread)
optuna.logging.set_verbosity(optuna.logging.ERROR)


def sweep(tmp_path, data, **kw):
    config = SweepConfig.from_dict({"epochs": 1, **data})
    entries: list[dict] = []
    runner = SweepRunner(kw.pop("document", None) or tiny_project(), config, runs_root=tmp_path / "runs",
                         on_run=entries.append, **kw)
    return runner, entries


def test_grid_trials_are_runs_of_the_project(tmp_path):
    doc = tiny_project()
    before = json.dumps(doc.to_dict(), sort_keys=True)
    runner, entries = sweep(tmp_path, {"sampler": "grid", "name": "g", "parameters": {
        "optimizer.lr": [0.001, 0.01], "layer.conv1.out_channels": [4]}}, document=doc)
    summary = runner.run()
    assert json.dumps(doc.to_dict(), sort_keys=True) == before
    assert [r.state for r in summary.rows] == ["complete", "complete"]
    assert sorted(r.params["optimizer.lr"] for r in summary.rows) == [0.001, 0.01]
    assert summary.best.value == min(r.value for r in summary.rows) and not summary.stopped
    assert runner.storage == study_storage_url(tmp_path / "runs")
    assert (tmp_path / "runs" / "sweeps.db").is_file()
    for row, entry in zip(summary.rows, entries):
        assert entry["name"] == f"sweep g · trial {row.number}" and entry["status"] == "completed"
        assert row.run_ids == (entry["id"],) and row.seeds == (0,)
        assert entry["settings"]["sweep"] == {"sweep": "g", "trial": row.number, "params": row.params,
                                              "seed": 0}
        assert entry["settings"]["training"]["optimizer"]["params"]["lr"] == row.params["optimizer.lr"]
        assert entry["summary"]["val_loss"] == pytest.approx(row.value)
        folder = tmp_path / "runs" / entry["id"]
        assert (folder / "metrics.csv").is_file() and (folder / "checkpoints" / "last").is_dir()
        AddRun(entry).do(doc)   # what the CLI and the panel do with each entry
    assert len(doc.runs) == 2
    first = optuna.load_study(study_name="g", storage=runner.storage).trials[0]
    assert first.user_attrs["visionstudio.trial"]["settings"] == {   # reproducible from the study alone
        k: entries[0]["settings"][k] for k in ("training", "dataset")}
    importance = parameter_importance(runner.storage, "g")
    assert set(importance) <= {"optimizer.lr", "layer.conv1.out_channels"} and importance


def test_repeats_give_a_value_per_seed_and_their_mean(tmp_path):
    space = {"optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True}, "repeat.res_1": {"low": 1, "high": 2}}
    runner, entries = sweep(tmp_path, {"sampler": "random", "trials": 2, "repeats": 2, "seed": 5,
                                       "parameters": space})
    summary = runner.run()
    for row in summary.rows:
        assert row.state == "complete" and row.seeds == (5, 6) and len(row.values_per_seed) == 2
        assert row.value == pytest.approx(statistics.fmean(row.values_per_seed))
        assert row.spread is not None and len(row.run_ids) == 2 and row.seconds >= row.training_s > 0
    names = [f"sweep sweep · trial {n} · seed {s}" for n in (0, 1) for s in (5, 6)]
    assert [e["name"] for e in entries] == names
    assert [e["settings"]["training"]["seed"] for e in entries] == [5, 6, 5, 6]
    assert load_study_rows(runner.storage, "sweep") == list(summary.rows)


def test_tpe_with_median_pruning(tmp_path):
    runner, _ = sweep(tmp_path, {"sampler": "tpe", "trials": 5, "epochs": 2, "pruner": "median",
                                 "name": "tpe",
                                 "parameters": {"optimizer.lr": {"low": 1e-5, "high": 0.3, "log": True}}})
    summary = runner.run()
    states = [r.state for r in summary.rows]
    assert len(states) == 5 and set(states) == {"complete", "pruned"}, states
    study = optuna.load_study(study_name="tpe", storage=runner.storage)
    for trial in study.trials:   # every epoch reported; a pruned trial stopped after its first
        assert len(trial.intermediate_values) == (2 if trial.state.name == "COMPLETE" else 1)
    pruned = [r for r in summary.rows if r.state == "pruned"]
    assert all(r.value is None and r.message.startswith("Pruned after epoch") for r in pruned)


def test_stop_in_a_trial_then_continue_the_same_study(tmp_path):
    control = TrainerControl()
    seen: list[str] = []

    def on_record(run_id, record):
        if type(record).__name__ == "BatchRecord" and run_id not in seen:
            seen.append(run_id)
            if len(seen) == 2:   # the second trial's first batch
                control.request_stop()

    data = {"sampler": "random", "trials": 3, "name": "s",
            "parameters": {"optimizer.lr": {"low": 1e-3, "high": 1e-2}}}
    runner, _ = sweep(tmp_path, data, on_record=on_record)
    first = runner.run(control)
    assert first.stopped and [r.state for r in first.rows] == ["complete", "stopped"]
    assert "not counted" in first.rows[1].message
    runner2, _ = sweep(tmp_path, data)
    second = runner2.run(TrainerControl())
    assert [r.state for r in second.rows] == ["complete", "stopped", "complete", "complete"]
    assert second.rows[0] == first.rows[0] and not second.stopped
    again = sweep(tmp_path, data)[0].run()   # the budget is spent: nothing more runs
    assert len(again.rows) == 4
    with pytest.raises(SweepError, match="other settings"):
        sweep(tmp_path, {**data, "parameters": {"optimizer.lr": [0.1, 0.2]}})[0].run()


def test_trials_that_cannot_give_a_value_fail_in_words(tmp_path):
    runner, entries = sweep(tmp_path, {"sampler": "grid", "objective": {"metric": "val_r2"},
                                       "parameters": {"optimizer.lr": [0.001]}})
    (row,) = runner.run().rows
    assert row.state == "failed" and "records no val_r2" in row.message and "val_loss" in row.message
    assert entries[0]["status"] == "failed"
    runner, entries = sweep(tmp_path, {"sampler": "grid", "name": "wide",
                                       "parameters": {"block.residual.channels": [8]}})
    (row,) = runner.run().rows   # 8 channels cannot be added to the block's 4-channel input
    assert row.state == "failed" and "problems" in row.message and entries == [] and row.run_ids == ()
