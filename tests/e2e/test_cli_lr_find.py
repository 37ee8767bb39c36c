"""``visionstudio lr-find`` end to end: one subprocess proves the entry point; the exit
statuses run in-process (no second torch start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core.training_helpers import tiny_graph
from visionstudio.cli import main
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument, save_project
from visionstudio.core.training.config import TrainingConfig

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, size: int = 8) -> Path:
    doc = ProjectDocument(
        name="tiny", graph=tiny_graph(classes=4, size=size),
        dataset=DatasetConfig.from_dict({"key": "shapes", "params": {
            "samples": 64, "val_samples": 16, "image_size": 8, "classes": 4}}),
        training=TrainingConfig.from_dict({"batch_size": 16, "device": "cpu",
                                           "optimizer": {"key": "sgd", "params": {}}}))
    path = tmp_path / "tiny.vsproj"
    save_project(doc, path)
    return path


def test_lr_find_prints_the_suggestions(tmp_path):
    project = _project(tmp_path)
    before = project.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "visionstudio", "lr-find", str(project), "--steps", "40"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Swept" in proc.stdout and "steepest descent: " in proc.stdout and "valley: " in proc.stdout
    assert project.read_bytes() == before and not (tmp_path / "runs").exists()   # nothing written


def test_lr_find_json_and_exit_statuses(tmp_path, capsys):
    project = _project(tmp_path)
    assert main(["lr-find", str(project), "--steps", "30", "--start", "1e-4", "--end", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "visionstudio.lr_find" and data["ok"] and len(data["lrs"]) == 30
    assert abs(data["lrs"][0] - 1e-4) < 1e-12 and abs(data["lrs"][-1] - 1) < 1e-9
    assert set(data["suggestions"]) == {"steepest", "valley"}
    assert data["stopped_reason"] in ("completed", "diverged")
    # a network that does not fit its dataset: the plan's words, status 1
    (tmp_path / "misfit").mkdir()
    assert main(["lr-find", str(_project(tmp_path / "misfit", size=12)), "--steps", "10"]) == 1
    assert "does not fit the dataset" in capsys.readouterr().err
    # an unreadable project: status 2
    broken = tmp_path / "broken.vsproj"
    broken.write_text("{ not json")
    assert main(["lr-find", str(broken)]) == 2
    assert "visionstudio lr-find:" in capsys.readouterr().err
    assert main(["lr-find", str(project), "--start", "1", "--end", "0.1"]) == 1
    assert "must be below" in capsys.readouterr().err
