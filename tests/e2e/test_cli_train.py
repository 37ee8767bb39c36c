"""``python -m visionstudio train`` end to end, in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from visionstudio.core.project import load_project, save_project
from visionstudio.core.templates import load_template

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "visionstudio", "train", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def _small_project(tmp_path: Path) -> Path:
    doc = load_template("classic_cnn")
    doc.dataset = type(doc.dataset).from_dict({"key": "shapes", "params": {"samples": 200,
                                                                         "val_samples": 50}})
    path = tmp_path / "small.vsproj"
    save_project(doc, path)
    return path


def test_train_writes_checkpoint_csv_and_summary(tmp_path, capsys):
    project = _small_project(tmp_path)
    out = tmp_path / "out"
    proc = _run(str(project), "--epochs", "1", "--batch-size", "50", "--device", "cpu",
                "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Training on cpu" in proc.stderr and "epoch 1/1: loss" in proc.stderr
    assert "folded" in proc.stderr                      # the softmax note reaches the user
    assert "completed: 1 epoch(s), 4 steps" in proc.stdout
    ckpt = out / "checkpoints" / "last"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "checkpoint.json").is_file()
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "completed" and len(rows) == 1
    [epoch] = summary["history"]
    assert (rows[0]["epoch"], rows[0]["step"]) == ("1", "4") and epoch["step"] == 4
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert float(rows[0][column]) == pytest.approx(epoch[column], rel=1e-5), column
    right = epoch["val_accuracy"] * 50            # 50 validation images: a count of right answers
    assert right == pytest.approx(round(right)) and 0 <= round(right) <= 50
    # resume for one more epoch from that checkpoint, metrics to a chosen file (in-process:
    # one subprocess above proves the entry point; this spares a second torch start-up)
    from visionstudio.cli import main

    csv_file = tmp_path / "m.csv"
    assert main(["train", str(project), "--epochs", "2", "--batch-size", "50", "--device", "cpu",
                 "--out", str(out), "--resume", str(ckpt), "--metrics-csv", str(csv_file)]) == 0
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "epoch 1/2" not in err
    assert len(list(csv.DictReader(csv_file.open()))) == 2
    assert load_project(project).name  # the project file is untouched and still loads


def test_bad_project_exits_2_and_failure_exits_1(tmp_path, capsys):
    from visionstudio.cli import main

    bad = tmp_path / "bad.vsproj"
    bad.write_text("{not json")
    assert main(["train", str(bad)]) == 2
    assert "visionstudio train:" in capsys.readouterr().err
    project = _small_project(tmp_path)
    assert main(["train", str(project), "--device", "cpu", "--resume", str(tmp_path / "nope")]) == 2
    assert "checkpoint" in capsys.readouterr().err
    assert main(["train", str(project), "--lr", "1e30"]) == 2           # invalid setting
    assert "learning rate must be at most" in capsys.readouterr().err
    # SGD with a huge learning rate diverges -> training failure, exit 1
    doc = load_project(project)
    doc.training = doc.training.replace(optimizer={"key": "sgd", "params": {"lr": 100.0}},
                                        loss={"key": "cross_entropy"})
    save_project(doc, project)
    code = main(["train", str(project), "--epochs", "3", "--batch-size", "50", "--device", "cpu",
                 "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "training failed" in err and "learning rate" in err and "clipping" in err


def test_network_too_big_for_memory_exits_2_with_a_sentence_and_is_never_built(tmp_path, capsys,
                                                                             monkeypatch):
    """The crafted Dense 1,000,000→10,000 project of issue #11: no 37 GiB allocation, no
    RuntimeError traceback; the refusal names what it needs and what to change."""
    from tests.core.memory_projects import MACHINE_24_GIB, forbid_building, huge_dense_document
    from visionstudio.cli import main
    from visionstudio.core import memory

    calls = forbid_building(monkeypatch)
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    project = tmp_path / "huge.vsproj"
    save_project(huge_dense_document(), project)
    assert main(["train", str(project), "--device", "cpu", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "needs about 150 GiB for batch 64; this machine has 24 GiB free" in err
    assert "Traceback" not in err and calls == []
