"""``visionstudio check-data`` end to end: one subprocess proves the entry point and the
printed counts; the JSON and exit statuses run in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core.data_check_folders import planted_folder
from tests.core.training_helpers import tiny_graph
from visionstudio.cli import main
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument, save_project

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, params: dict, key: str = "image_folder") -> Path:
    doc = ProjectDocument(name="data", graph=tiny_graph(classes=3, size=8),
                          dataset=DatasetConfig.from_dict({"key": key, "params": params}))
    path = tmp_path / "data.vsproj"
    save_project(doc, path)
    return path


def test_check_data_prints_each_finding_with_its_count(tmp_path):
    planted = planted_folder(tmp_path / "data")
    project = _project(tmp_path, {"folder": str(planted["train"]), "val_folder": str(planted["val"])})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "VISIONSTUDIO_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "visionstudio", "check-data", str(project)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr          # leakage and imbalance warn
    out = proc.stdout
    assert "warning: validation images that leak from training: 2 (exact 1, near 1)" in out
    assert "unreadable files: 1" in out
    assert "exact duplicates (the same pixels): 3 extra copies in 3 groups" in out
    assert "near duplicates (perceptual hash within 3 bits): 3 images in 3 groups" in out
    assert "warning: class imbalance" in out


def test_check_data_json_and_exit_statuses(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VISIONSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    clean = _project(tmp_path, {"samples": 40, "val_samples": 10, "image_size": 8, "classes": 3},
                     key="shapes")
    assert main(["check-data", str(clean), "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert data["images"] == 50 and {"findings", "class_counts", "histograms"} <= set(data)
    (tmp_path / "missing").mkdir()
    gone = _project(tmp_path / "missing", {"folder": str(tmp_path / "nowhere")})
    assert main(["check-data", str(gone)]) == 1
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.vsproj"
    broken.write_text("{ not json")
    assert main(["check-data", str(broken)]) == 2
    assert "visionstudio check-data:" in capsys.readouterr().err
