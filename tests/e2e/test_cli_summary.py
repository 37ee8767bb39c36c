"""`visionstudio summary` end to end, as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each run starts Python and imports torch (seconds on a busy machine).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "resources" / "templates"
KEYS = sorted(p.stem for p in TEMPLATES.glob("*.vsproj"))


def summary(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "visionstudio", "summary", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)


@pytest.mark.parametrize("key", KEYS)
def test_summary_of_every_template_file(key):
    result = summary(str(TEMPLATES / f"{key}.vsproj"))
    assert result.returncode == 0, result.stderr
    assert "Total params:" in result.stdout and "Problems" not in result.stdout
    if key == "classic_cnn":
        assert "121,930" in result.stdout and "0.12 M" in result.stdout
        for name in ("conv1", "pool1", "conv2", "pool2", "dense1", "dense2"):
            assert f"\n{name} " in result.stdout


def test_template_key_and_json(tmp_path):
    result = summary("classic_cnn", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format"] == "visionstudio.summary" and data["ok"] is True
    assert data["totals"]["params"] == 121_930 and data["totals"]["params_human"] == "0.12 M"
    assert data["input_shape"] == [1, 28, 28] and data["output_shape"] == [10]
    first = data["layers"][1]
    assert (first["name"], first["kind"], first["output_shape"], first["params"]) == \
        ("conv1", "conv2d", [32, 26, 26], 320)
    assert sum(layer["params"] for layer in data["layers"]) == 121_930


def test_graph_errors_exit_1(tmp_path):
    data = json.loads((TEMPLATES / "classic_cnn.vsproj").read_text(encoding="utf-8"))
    for node in data["graph"]["nodes"]:
        if node["name"] == "conv2":
            node["params"]["kernel_size"] = 20  # larger than its 13×13 input
    path = tmp_path / "broken.vsproj"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = summary(str(path))
    assert result.returncode == 1
    assert "conv2: kernel 20×20 is larger than its 13×13 input" in result.stdout
    assert "Total params:" in result.stdout  # the table is still printed


def test_malformed_and_missing_files_exit_2(tmp_path):
    path = tmp_path / "bad.vsproj"
    path.write_text('{"format": "visionstudio.project", "schema_version": 1, '
                    '"graph": {"nodes": [{"id": "a", "kind": "conv9d", "name": "x"}]}}', encoding="utf-8")
    result = summary(str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert f"{path}: at graph.nodes[0].kind: unknown layer kind 'conv9d'" in result.stderr
    result = summary(str(path), "--json")
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["path"] == "graph.nodes[0].kind" and error["file"] == str(path)


def test_missing_file_in_process(tmp_path, capsys):
    """The same code path without a subprocess: a missing file is exit status 2."""
    from visionstudio.cli import main

    assert main(["summary", str(tmp_path / "nope.vsproj")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_summary_gives_the_training_memory_and_says_when_it_does_not_fit(tmp_path, capsys, monkeypatch):
    from tests.core.memory_projects import MACHINE_24_GIB, huge_dense_document
    from visionstudio.cli import main
    from visionstudio.core import memory
    from visionstudio.core.project import save_project

    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    assert main(["summary", "classic_cnn"]) == 0
    out = capsys.readouterr().out
    assert "Memory for training (batch 64, adam): about 21 MiB" in out and "Does not fit" not in out
    project = tmp_path / "huge.vsproj"
    save_project(huge_dense_document(), project)
    assert main(["summary", str(project)]) == 0
    assert ("Does not fit: training needs about 150 GiB for batch 64; this machine has 24 GiB free"
            in capsys.readouterr().out)
    assert main(["summary", str(project), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["memory"]
    assert data["training"]["total_bytes"] > 149 * 2**30 and data["training"]["optimizer"] == "adam"
    assert data["available"]["bytes"] == 24 * 2**30 and data["problem"].startswith("needs about 150 GiB")
