"""``visionstudio train`` and ``visionstudio evaluate`` for a classification and a
regression project on tiny data (in-process: test_cli_train.py proves the entry point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.training_helpers import one_thread
from visionstudio.cli import main
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph.commands import SetParam
from visionstudio.core.project import save_project
from visionstudio.core.templates import load_template

_threads = pytest.fixture(autouse=True)(one_thread)
TRAIN = ["--epochs", "1", "--batch-size", "50", "--device", "cpu", "--quiet"]


def _project(tmp_path: Path, task: str) -> Path:
    doc = load_template("classic_cnn")
    if task == "regression":
        doc.set_task("regression")
        doc.set_dataset(DatasetConfig.from_dict({"key": "shapes_regress", "params": {
            "samples": 100, "val_samples": 40, "image_size": 28, "targets": "size, x, y"}}))
        SetParam(doc.graph.node_by_name("dense2").id, "units", 3).do(doc)
        doc.set_training(doc.training.replace(loss={"key": "mse", "params": {}}))
    else:
        doc.set_dataset(DatasetConfig.from_dict({"key": "shapes", "params": {"samples": 100,
                                                                            "val_samples": 40}}))
    path = tmp_path / f"{task}.vsproj"
    save_project(doc, path)
    return path


def test_classification_train_then_evaluate_gives_the_runs_numbers(tmp_path, capsys):
    project, out = _project(tmp_path, "classification"), tmp_path / "out"
    assert main(["train", str(project), *TRAIN, "--out", str(out)]) == 0
    epoch = json.loads((out / "run.json").read_text())["history"][-1]
    capsys.readouterr()
    assert main(["evaluate", str(project), "--run", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["task"], report["checkpoint"], report["epoch"], report["images"]) == (
        "classification", "best", 1, 40)
    assert report["metrics"]["accuracy"] == pytest.approx(epoch["val_accuracy"])
    assert report["loss"] == pytest.approx(epoch["val_loss"], rel=1e-4)
    classes = report["per_class"]
    assert len(classes) == 10 and sum(c["images"] for c in classes) == 40
    assert main(["evaluate", str(project), "--run", str(out), "--checkpoint", "last"]) == 0
    text = capsys.readouterr().out
    assert "last checkpoint (after epoch 1), classification, 40 validation images" in text
    assert "accuracy" in text and "precision" in text


def test_regression_train_prints_r2_and_evaluate_undoes_the_normalisation(tmp_path, capsys):
    project, out = _project(tmp_path, "regression"), tmp_path / "out"
    assert main(["train", str(project), *TRAIN, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert " r2 " in captured.err and "final: loss" in captured.out and "r2" in captured.out
    epoch = json.loads((out / "run.json").read_text())["history"][-1]
    assert main(["evaluate", str(project), "--run", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "regression" and report["per_class"] == []
    for name in ("r2", "mae", "rmse", "r2/size", "mae/x", "rmse/y"):
        assert report["metrics"][name] == pytest.approx(epoch["val_metrics"][name], rel=1e-4, abs=1e-6)
    assert main(["evaluate", str(project), "--run", str(out)]) == 0
    assert "r2/size" in capsys.readouterr().out


def test_evaluate_says_what_is_wrong(tmp_path, capsys):
    project = _project(tmp_path, "classification")
    assert main(["evaluate", str(project)]) == 1
    assert "the project has no runs yet; train it first" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    assert main(["evaluate", str(project), "--run", str(empty)]) == 1
    assert "has no checkpoint to evaluate" in capsys.readouterr().err
    bad = tmp_path / "bad.vsproj"
    bad.write_text("{not json")
    assert main(["evaluate", str(bad)]) == 2
