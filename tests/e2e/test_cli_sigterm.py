"""SIGTERM during ``visionstudio train`` (a scheduler's timeout, ``kill``, a container
stop) saves a checkpoint exactly as Ctrl+C does, exits 143, and the run resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.training_helpers import tiny_graph
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument, save_project
from visionstudio.core.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _tiny_project(folder: Path) -> Path:
    doc = ProjectDocument(graph=tiny_graph(classes=4, size=8), name="tiny")
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 8, "classes": 4, "samples": 64, "val_samples": 8}})
    doc.training = doc.training.replace(batch_size=8, device="cpu")
    path = folder / "tiny.vsproj"
    save_project(doc, path)
    return path


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32",
                    reason="POSIX signals")
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(tmp_path, capsys):
    project = _tiny_project(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # far more epochs than can run before the signal: the run is always interrupted
    proc = subprocess.Popen([sys.executable, "-m", "visionstudio", "train", str(project),
                             "--epochs", "100000", "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = []
    try:
        for line in proc.stderr:          # the first epoch's line: training is under way
            seen.append(line)
            if line.startswith("epoch 1/"):
                break
        assert seen and seen[-1].startswith("epoch 1/"), "".join(seen)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = "".join(seen) + stderr
    assert proc.returncode == 143, stderr
    assert "Stopping after this batch (SIGTERM" in stderr and "Traceback" not in stderr
    match = re.search(r"stopped: (\d+) epoch\(s\), (\d+) steps", stdout)
    assert match, stdout
    epochs, steps = int(match.group(1)), int(match.group(2))
    ckpt = out / "checkpoints" / "last"
    meta = load_checkpoint(ckpt).meta
    assert meta["step"] == steps and len(meta["history"]) == epochs
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    # resume (in-process: the subprocess above proves the signal path) for one more epoch
    from visionstudio.cli import main

    capsys.readouterr()
    assert main(["train", str(project), "--epochs", str(epochs + 1), "--out", str(out),
                 "--resume", str(ckpt), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert f"epoch {epochs + 1}/{epochs + 1}" in captured.err
    assert f"completed: {epochs + 1} epoch(s)" in captured.out
