"""``visionstudio export``: happy paths and the errors a user meets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from safetensors.torch import save_file

from visionstudio.cli import main
from visionstudio.core.project import save_project
from visionstudio.core.templates import load_template


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "classic.vsproj"
    save_project(load_template("classic_cnn"), path)
    return path


def test_export_pytorch_and_script(tmp_path, project, capsys):
    assert main(["export", str(project), "--format", "pytorch", "--out", str(tmp_path / "py")]) == 0
    assert (tmp_path / "py" / "model.py").is_file() and (tmp_path / "py" / "weights.safetensors").is_file()
    assert "initial (untrained) weights" in capsys.readouterr().out
    weights = tmp_path / "py" / "weights.safetensors"
    assert main(["export", "classic_cnn", "--format", "script", "--out", str(tmp_path / "s"),
                 "--weights", str(weights)]) == 0
    out = capsys.readouterr().out
    assert "with trained weights" in out and "train.py" in out
    cfg = json.loads((tmp_path / "s" / "config.json").read_text(encoding="utf-8"))
    assert cfg["model"]["class"] == "ClassicCNN"


def test_export_torchscript_via_subprocess(tmp_path, project):
    proc = subprocess.run([sys.executable, "-m", "visionstudio", "export", str(project), "-f",
                           "torchscript", "-o", str(tmp_path / "ts")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ts" / "model.torchscript.pt").is_file()
    assert "Warning" not in proc.stderr


def test_unreadable_project_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.vsproj"
    bad.write_text("{ not json", encoding="utf-8")
    assert main(["export", str(bad), "--format", "onnx", "--out", str(tmp_path / "o")]) == 2
    assert "bad.vsproj" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.vsproj"), "--format", "onnx",
                 "--out", str(tmp_path / "o")]) == 2


def test_invalid_graph_prints_diagnostics(tmp_path, capsys):
    doc = load_template("classic_cnn")
    flatten = next(n for n in doc.graph.nodes.values() if n.kind == "flatten")
    doc.graph.edges = [e for e in doc.graph.edges if e.dst != flatten.id]
    path = tmp_path / "broken.vsproj"
    save_project(doc, path)
    assert main(["export", str(path), "--format", "pytorch", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "problem(s)" in err and f"{flatten.name}: its input is not connected" in err
    assert not (tmp_path / "o" / "model.py").exists()


def test_missing_corrupt_and_mismatched_weights_exit_1(tmp_path, project, capsys):
    args = ["export", str(project), "--format", "pytorch", "--out", str(tmp_path / "o")]
    assert main(args + ["--weights", str(tmp_path / "nope.safetensors")]) == 1
    assert "nope.safetensors: checkpoint not found" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"12345678garbage")
    assert main(args + ["--weights", str(corrupt)]) == 1
    assert "corrupt.safetensors: not a readable safetensors weights file" in capsys.readouterr().err
    import torch

    other = tmp_path / "other.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2)}, str(other))
    assert main(args + ["--weights", str(other)]) == 1
    err = capsys.readouterr().err
    assert "do not fit this network" in err and "missing conv1.weight" in err


def test_unknown_format_is_a_usage_error(tmp_path, project):
    with pytest.raises(SystemExit) as info:
        main(["export", str(project), "--format", "tflite", "--out", str(tmp_path)])
    assert info.value.code == 2
