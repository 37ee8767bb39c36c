"""`visionstudio import` then `visionstudio train`: the run starts from the imported
weights (the model the run builds predicts what Keras predicts), and an epoch trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from visionstudio import cli
from visionstudio.core.project import load_project
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.plan import PlanProblems, execute, plan_run

KERAS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "keras"
EXPECTED = np.load(KERAS / "expected.npz")


class _Predict(Callback):
    """The run's model before its first step, on the inputs Keras predicted."""

    def on_fit_start(self, trainer, record):
        model = trainer.model
        was = model.training
        model.eval()
        x = torch.from_numpy(EXPECTED["mnist_cnn_x"]).permute(0, 3, 1, 2).to(next(model.parameters()).device)
        with torch.no_grad():
            self.y = model(x).cpu().numpy()
        model.train(was)
        self.notes = record.notes


def test_import_then_train_starts_from_the_imported_weights(tmp_path, capsys):
    project = tmp_path / "mnist.vsproj"
    assert cli.main(["import", str(KERAS / "mnist_cnn.keras"), "-o", str(project)]) == 0
    data = json.loads(project.read_text())
    assert data["initial_weights"] == "mnist.weights.safetensors"
    data["dataset"]["params"].update(samples=64, val_samples=16)   # small: the test trains an epoch
    project.write_text(json.dumps(data))

    plan = plan_run(load_project(project), {"epochs": 1, "device": "cpu"})
    assert not isinstance(plan, PlanProblems), plan
    seen = _Predict()
    assert execute(plan, [seen]).ok
    np.testing.assert_allclose(seen.y, EXPECTED["mnist_cnn_y"], atol=1e-5, rtol=0)
    assert "Starts from the initial weights mnist.weights.safetensors" in seen.notes

    capsys.readouterr()
    out = tmp_path / "run"
    assert cli.main(["train", str(project), "--epochs", "1", "--device", "cpu", "--quiet",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "note: Starts from the initial weights mnist.weights.safetensors" in printed.err
    assert "completed: 1 epoch(s)" in printed.out
    assert (out / "checkpoints" / "last").is_dir()
