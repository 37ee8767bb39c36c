"""`visionstudio import` end to end: a real subprocess for the import a user runs, the
exit codes of the refusals in-process (they stop before torch does any work)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from visionstudio import cli
from visionstudio.core.build import build_model
from visionstudio.core.project import load_project
from visionstudio.core.training.checkpoint_fit import load_weights

REPO = Path(__file__).resolve().parents[2]
KERAS = REPO / "tests" / "fixtures" / "keras"


@pytest.mark.slow
def test_import_a_keras_file_then_summarise_it(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    project = tmp_path / "mnist.vsproj"
    done = subprocess.run([sys.executable, "-m", "visionstudio", "import", str(KERAS / "mnist_cnn.keras"),
                           "-o", str(project)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "8 layers, 121,930 values" in done.stdout and "mnist.weights.safetensors" in done.stdout
    model = build_model(load_project(project).graph)
    load_weights(tmp_path / "mnist.weights.safetensors", model)
    assert cli.main(["summary", str(project), "--json"]) == 0


def test_refusals_and_their_exit_codes(tmp_path, capsys):
    out = tmp_path / "p.vsproj"
    assert cli.main(["import", str(tmp_path / "model.tflite"), "-o", str(out)]) == 2
    assert "cannot tell what to import" in capsys.readouterr().err
    assert cli.main(["import", str(KERAS / "mnist_cnn.keras"), "-o", str(tmp_path / "p.json")]) == 2
    assert "must end in .vsproj" in capsys.readouterr().err
    out.write_text("{}")
    assert cli.main(["import", str(KERAS / "mnist_cnn.keras"), "-o", str(out)]) == 2
    assert "already exists; give --force" in capsys.readouterr().err
    assert out.read_text() == "{}"


def test_unsupported_layers_exit_1_and_write_nothing(tmp_path, capsys):
    source = tmp_path / "lstm.keras"
    with zipfile.ZipFile(KERAS / "mnist_cnn.keras") as zin, zipfile.ZipFile(source, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][3]["class_name"] = "LSTM"
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)
    out = tmp_path / "p.vsproj"
    assert cli.main(["import", str(source), "-o", str(out), "--force"]) == 1
    assert "1 layer cannot be imported: LSTM at conv2d_1 (layer 4)" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "p.weights.safetensors").exists()
