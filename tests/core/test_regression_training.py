"""Regression end to end on tiny in-memory data: the loss falls, R² is reported per target,
the target normalisation is saved with the run and undone by predict, a resumed run is the
run it continues; and a project whose dataset gives the wrong labels is refused."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.core.training_helpers import Recorder, chain, config, one_thread
from visionstudio.core.build import build_model
from visionstudio.core.data.base import LoadedDataset
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph.commands import SetParam
from visionstudio.core.tasks.heads import HeadPlan
from visionstudio.core.tasks.objective import ObjectiveError
from visionstudio.core.tasks.objectives import make_objective
from visionstudio.core.templates import load_template
from visionstudio.core.training.checkpoint import read_meta
from visionstudio.core.training.plan import PlanProblems, RunPlan, execute, plan_run
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)
CPU = torch.device("cpu")
NAMES = ["level", "bars"]


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8×8 images: a grey level (target 1, 20..200) with its first k columns brighter
    (target 2 = 10·k, far from the first's scale)."""
    g = torch.Generator().manual_seed(seed)
    level = torch.randint(20, 150, (n,), generator=g)
    k = torch.randint(0, 5, (n,), generator=g)
    x = level.view(n, 1, 1, 1).expand(n, 1, 8, 8).clone()
    cols = torch.arange(8).view(1, 1, 1, 8)
    x = x + (cols < k.view(n, 1, 1, 1)) * 90
    x = (x + torch.randint(0, 4, x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    return x, torch.stack([level.float(), 10.0 * k.float()], 1)


def _loaded(n: int = 128, n_val: int = 48) -> LoadedDataset:
    x, y = _images(n, 0)
    vx, vy = _images(n_val, 1)
    return LoadedDataset(x, y, vx, vy, [], (0.5,), (0.3,), [], task="regression", target_names=list(NAMES))


def _model(seed: int = 0):
    return build_model(chain(("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
                             ("dense", {"units": 2})), seed=seed)


def _cfg(**kw):
    return config(loss={"key": "mse", "params": {}}, batch_size=32,
                  optimizer={"key": "adam", "params": {"lr": 0.03}}, early_stopping_metric="val_metric", **kw)


def test_a_regression_run_learns_reports_r2_and_saves_its_normalisation(tmp_path):
    rec = Recorder()
    data = _loaded()
    trainer = Trainer(_model(), _cfg(epochs=12), callbacks=[rec], checkpoint_dir=tmp_path)
    result = trainer.fit(data)
    assert result.ok, result.failure
    first, last = result.history[0], result.history[-1]
    assert last.train_loss < first.train_loss / 4
    metrics = dict(last.val_metrics)
    assert {"mae", "rmse", "r2", "r2/level", "r2/bars", "mae/bars"} <= set(metrics)
    assert metrics["r2"] > 0.9
    assert metrics["r2"] == pytest.approx((metrics["r2/level"] + metrics["r2/bars"]) / 2)
    assert math.isnan(last.train_accuracy) and last.val_accuracy is None
    assert result.metric == "val_metric" and last.monitored == metrics["r2"]
    assert max(r.monitored for r in result.history) == result.best_metric   # R²: higher is better
    # the scatter of the validation images, in the dataset's units
    scatter = rec.of("on_validation_end")[-1].scatter
    assert [s[0] for s in scatter] == NAMES and len(scatter[0][1]) == 48
    assert scatter[1][1] == pytest.approx(data.val_labels[:, 1].tolist())
    # mean/std fitted on the training targets, saved in the checkpoint, undone by predict
    saved = read_meta(tmp_path / "last")["trainer"]["objective"]
    assert saved["mean"] == pytest.approx(data.train_labels.mean(0).tolist(), rel=1e-5)
    assert saved["std"] == pytest.approx(data.train_labels.std(0, unbiased=False).tolist(), rel=1e-5)
    with torch.no_grad():
        trainer.model.eval()
        out = trainer.model(trainer.val_feed.x)
    predicted = trainer.objective.predict((out,))
    assert (predicted - data.val_labels).abs().mean(0).tolist() == pytest.approx(
        [metrics["mae/level"], metrics["mae/bars"]], rel=1e-4)
    assert json.loads(json.dumps(result.history[-1].as_dict()))["train_accuracy"] is None


def test_a_resumed_regression_run_is_the_run_it_continues(tmp_path):
    straight = Trainer(_model(), _cfg(epochs=3)).fit(_loaded())
    Trainer(_model(), _cfg(epochs=1), checkpoint_dir=tmp_path).fit(_loaded())
    resumed_trainer = Trainer(_model(seed=5), _cfg(epochs=3), checkpoint_dir=tmp_path)
    resumed = resumed_trainer.fit(_loaded(), resume=tmp_path / "last")
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in straight.history]
    assert [r.val_metrics for r in resumed.history] == [r.val_metrics for r in straight.history]
    assert resumed_trainer.objective.state_dict() == read_meta(tmp_path / "last")["trainer"]["objective"]


def test_regression_losses_compare_standardised_targets_and_refuse_class_losses():
    head = HeadPlan("values", "values", {"key": "huber", "params": {"delta": 0.5}}, 2.0, (2,))
    objective = make_objective("regression", [head], 0, CPU, NAMES)
    y = torch.tensor([[10.0, 0.0], [30.0, 40.0], [50.0, 20.0]])
    objective.fit(y)
    out = torch.zeros(3, 2)
    total, per_head = objective.loss((out,), y)
    norm = (y - y.mean(0)) / y.std(0, unbiased=False)
    assert per_head is None
    assert torch.allclose(total, 2.0 * torch.nn.functional.huber_loss(out, norm, delta=0.5))
    assert torch.allclose(objective.predict((norm,)), y, atol=1e-5)
    with pytest.raises(ObjectiveError, match="does not compare numbers"):
        make_objective("regression", [HeadPlan("v", "values", {"key": "cross_entropy", "params": {}},
                                               1.0, (2,))], 0, CPU, NAMES)
    with pytest.raises(ObjectiveError, match="2 finite numbers"):
        objective.load_state_dict({"mean": [0.0], "std": [1.0, 1.0]})
    with pytest.raises(ObjectiveError, match="positive"):
        objective.load_state_dict({"mean": [0.0, 0.0], "std": [1.0, -1.0]})


def test_a_dataset_that_does_not_serve_the_task_is_refused_in_words():
    doc = load_template("classic_cnn")
    doc.set_task("regression")                # Shapes gives classes, not values
    problems = plan_run(doc, {"device": "cpu", "epochs": 1})
    assert isinstance(problems, PlanProblems)
    assert problems.message.startswith("The dataset Shapes")
    assert "a regression project needs regression labels" in problems.message
    assert "Shapes regression" in problems.message
    doc.set_task("classification")
    doc.set_dataset(DatasetConfig.from_dict({"key": "shapes_regress", "params": {"samples": 20}}))
    problems = plan_run(doc, {"device": "cpu", "epochs": 1})
    assert isinstance(problems, PlanProblems)
    assert "gives regression labels; a classification project needs classification labels" in problems.message


def test_a_regression_project_plans_and_trains_through_execute(tmp_path):
    doc = load_template("classic_cnn")
    doc.set_task("regression")
    doc.set_dataset(DatasetConfig.from_dict({"key": "shapes_regress", "params": {
        "samples": 64, "val_samples": 16, "image_size": 28, "targets": "size"}}))
    dense2 = doc.graph.node_by_name("dense2")
    wrong = plan_run(doc, {"device": "cpu", "epochs": 1, "loss": {"key": "mse", "params": {}}})
    assert isinstance(wrong, PlanProblems) and "must output 1 number" in wrong.message
    SetParam(dense2.id, "units", 1).do(doc)
    plan = plan_run(doc, {"device": "cpu", "epochs": 1, "batch_size": 32,
                          "loss": {"key": "mse", "params": {}}})
    assert isinstance(plan, RunPlan), plan
    assert plan.task == "regression" and [h.target for h in plan.heads] == ["values"]
    result = execute(plan, run_dir=tmp_path)
    assert result.ok, result.failure
    assert "r2" in dict(result.fit.history[-1].val_metrics)
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["task"] == "regression" and len(summary["objective"]["mean"]) == 1


@pytest.mark.parametrize("objective, words", [
    ({"mean": [0.0, 0.0], "std": [1.0, 0.0]}, "std must be positive"),
    ({"mean": [1e30], "std": [1.0]}, "2 finite numbers"),
    ({"mean": {"deep": [1]}, "std": [1.0, 1.0]}, "objective.mean"),
    ({"mean": ["x" * 300, 0.0], "std": [1.0, 1.0]}, "objective.mean"),
    ({f"k{i}": 0 for i in range(101)}, "at most 100"),
])
def test_a_crafted_target_normalisation_is_refused_before_anything_is_loaded(tmp_path, objective, words):
    from visionstudio.core.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    Trainer(_model(), _cfg(epochs=1), checkpoint_dir=tmp_path).fit(_loaded())
    saved = load_checkpoint(tmp_path / "last")
    meta = {**saved.meta, "objective": objective}
    save_checkpoint(tmp_path / "last", model_state=saved.model_state, tensors=saved.tensors, meta=meta)
    model = _model(seed=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=words):
        Trainer(model, _cfg(epochs=2)).fit(_loaded(), resume=tmp_path / "last")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
