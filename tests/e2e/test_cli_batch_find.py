"""``visionstudio batch-find`` end to end: one subprocess proves the entry point; the exit
statuses and the JSON run in-process (no second torch start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.training_helpers import tiny_graph
from visionstudio.cli import main
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument, save_project
from visionstudio.core.training.config import TrainingConfig

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, size: int = 8, batch_size: int = 16) -> Path:
    doc = ProjectDocument(
        name="tiny", graph=tiny_graph(classes=4, size=size),
        dataset=DatasetConfig.from_dict({"key": "shapes", "params": {
            "samples": 64, "val_samples": 16, "image_size": 8, "classes": 4}}),
        training=TrainingConfig.from_dict({"batch_size": batch_size, "device": "cpu"}))
    path = tmp_path / "tiny.vsproj"
    save_project(doc, path)
    return path


def test_batch_find_prints_the_largest_batch(tmp_path):
    project = _project(tmp_path)
    before = project.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "visionstudio", "batch-find", str(project), "--max", "40"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Largest batch that fits (estimated): 40" in proc.stdout
    assert "batch     32: fits" in proc.stdout
    assert project.read_bytes() == before and not (tmp_path / "runs").exists()   # nothing written


def test_batch_find_json_and_exit_statuses(tmp_path, capsys):
    # a batch setting far beyond memory does not stop the search: it is planned at batch 1
    project = _project(tmp_path, batch_size=65_536)
    assert main(["batch-find", str(project), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "visionstudio.batch_find" and data["ok"] and data["how"] == "estimated"
    assert data["batch"] == data["cap"] == 64                    # Shapes' 64 training images
    assert [t["batch"] for t in data["tried"]] == [1, 2, 4, 8, 16, 32, 64]
    (tmp_path / "misfit").mkdir()
    assert main(["batch-find", str(_project(tmp_path / "misfit", size=12))]) == 1
    assert "does not fit the dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_max:             # argparse refuses a batch below 1
        main(["batch-find", str(project), "--max", "0"])
    assert bad_max.value.code == 2 and "must be 1 to 65536" in capsys.readouterr().err
    broken = tmp_path / "broken.vsproj"
    broken.write_text("{ not json")
    assert main(["batch-find", str(broken)]) == 2
    assert "visionstudio batch-find:" in capsys.readouterr().err
