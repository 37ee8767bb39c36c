"""The exported train.py sets the app's learning rate at every step, for every schedule.

The bundle carries the app's lr_schedule.py verbatim; these tests import the exported
train.py from a folder, build its schedule from the exported config.json and compare it
step by step with the schedule the app's Trainer builds from the same project, under
several warm-ups, epoch counts and steps per epoch (reduce-on-plateau fed the same
validation losses on both sides)."""

from __future__ import annotations

import copy
import inspect
import json
import sys

import pytest
import torch
from torch.utils.data import TensorDataset

from visionstudio.core.export import schedule_source
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.export.script import bundle_files, config_bytes, training_config
from visionstudio.core.export.weights import ExportError
from visionstudio.core.training import lr_schedule
from visionstudio.core.training.registry import SCHEDULERS
from visionstudio.core.training.trainer import Trainer

from .export_graphs import template_projects
from .support import import_file, torch_threads
from .training_helpers import config, tiny_data, tiny_model

SETTINGS = {
    "constant": [{}],
    "step": [{}, {"step_size": 1, "gamma": 0.5}, {"step_size": 2, "gamma": 0.9}],
    "multistep": [{}, {"milestones": [1, 3], "gamma": 0.5}, {"milestones": [2], "gamma": 0.25}],
    "exponential": [{}, {"gamma": 0.8}],
    "cosine": [{}, {"warmup_epochs": 1.0, "min_lr_ratio": 0.1}, {"warmup_epochs": 0.5},
               {"warmup_epochs": 2.5, "min_lr_ratio": 0.5}],
    "one_cycle": [{}, {"pct_start": 0.5, "div_factor": 10.0, "final_div_factor": 100.0},
                  {"pct_start": 0.1}],
    "reduce_on_plateau": [{}, {"patience": 0, "factor": 0.5}, {"patience": 1, "factor": 0.3,
                                                               "min_lr": 0.01}],
}
RUNS = [(1, 1), (3, 7), (5, 4), (2, 33)]  # (epochs, steps per epoch)
VAL_LOSSES = [1.0, 0.9, 0.95, 0.95, 0.91, 0.96]


class _LearningRates:
    """Records every step's learning rate the Trainer reports (its other hooks do nothing)."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_batch_end(self, trainer, record) -> None:
        self.lrs.extend(record.lrs)

    def __getattr__(self, hook):
        return lambda *args: None


@pytest.fixture(scope="module")
def doc():
    return dict(template_projects())["classic_cnn"]


@pytest.fixture(scope="module")
def train_py(doc, tmp_path_factory):
    """The exported train.py, imported from its bundle folder (its imports found there)."""
    folder = tmp_path_factory.mktemp("bundle")
    for name, data in bundle_files(doc, generate_model_source(doc.graph, project_name=doc.name)):
        (folder / name).write_bytes(data)
    sys.path.insert(0, str(folder))
    try:
        yield import_file(folder / "train.py", "train_parity"), import_file(folder / "train_data.py",
                                                                              "train_data_parity")
    finally:
        sys.path.remove(str(folder))
        for name in ("lr_schedule", "train_data", "shapes_data", "augmentation"):
            sys.modules.pop(name, None)


def _exported_config(doc, key: str, params: dict, lr: float = 0.05):
    """(the project with this schedule, its exported config.json read back)."""
    project = copy.deepcopy(doc)
    project.training = doc.training.replace(scheduler={"key": key, "params": params},
                                            optimizer={"key": "sgd_momentum", "params": {"lr": lr}})
    generated = generate_model_source(project.graph, project_name=project.name)
    cfg = training_config(project, generated.class_name, generated.softmax_output, generated.input_shape)
    return project, json.loads(config_bytes(cfg))


def test_the_registry_and_the_shared_rules_name_the_same_schedules():
    assert set(SCHEDULERS) == set(lr_schedule.RULES)


def test_the_bundle_carries_the_apps_schedule_module(doc):
    files = dict(bundle_files(doc, generate_model_source(doc.graph, project_name=doc.name)))
    assert files["lr_schedule.py"].decode("utf-8") == inspect.getsource(lr_schedule)


def test_a_schedule_module_with_an_app_import_is_refused(monkeypatch):
    monkeypatch.setattr(schedule_source.inspect, "getsource",
                        lambda module: "from visionstudio.core.params import ParamSpec\n")
    with pytest.raises(ExportError, match="imports visionstudio.core.params; it cannot be copied"):
        schedule_source.schedule_module_source()


@pytest.mark.parametrize("key", list(SCHEDULERS))
def test_every_schedule_gives_the_apps_lr_at_every_step(doc, train_py, key):
    assert key in SETTINGS, f"add settings for the new schedule {key!r}"
    for params in SETTINGS[key]:
        project, cfg = _exported_config(doc, key, params)
        t = project.training
        for epochs, per_epoch in RUNS:
            app = SCHEDULERS.get(t.scheduler["key"]).factory(
                t.scheduler["params"], base_lr=t.optimizer["params"]["lr"],
                steps_per_epoch=per_epoch, total_steps=per_epoch * epochs)
            ours = train_py[0].make_schedule(cfg, cfg["optimizer"]["kwargs"]["lr"], per_epoch, epochs)
            assert type(ours).__module__ == "lr_schedule"  # the bundle's copy, not the app's
            for epoch in range(epochs):
                for step in range(epoch * per_epoch, (epoch + 1) * per_epoch):
                    assert ours.lr(step) == app.lr(step), (key, params, epochs, per_epoch, step)
                loss = VAL_LOSSES[epoch % len(VAL_LOSSES)]
                assert ours.on_validation(loss) == app.on_validation(loss)
            assert ours.state_dict() == app.state_dict()


@pytest.mark.parametrize("key,params", [("cosine", {"warmup_epochs": 1.5, "min_lr_ratio": 0.05}),
                                        ("one_cycle", {}), ("step", {"step_size": 1, "gamma": 0.5})])
def test_the_trainer_and_train_py_step_through_the_same_rates(doc, train_py, key, params):
    """End to end: the rates the app's Trainer reports for each step of a run equal the
    exported script's for the same data size (its loader gives the steps per epoch)."""
    n, batch, epochs = 70, 16, 3
    with torch_threads(1):
        rates = _LearningRates()
        cfg_app = config(epochs=epochs, batch_size=batch, scheduler={"key": key, "params": params},
                         optimizer={"key": "sgd_momentum", "params": {"lr": 0.05}})
        Trainer(tiny_model(), cfg_app, callbacks=[rates], report_every=1).fit(tiny_data(n=n))
    _, cfg = _exported_config(doc, key, params)
    cfg["training"]["seed"] = 0
    dataset = TensorDataset(torch.zeros(n, 1), torch.zeros(n, dtype=torch.int64))
    train, train_data = train_py
    _, loader, _, _ = train_data.make_loaders(cfg, dataset, None, batch, 0, 1, torch.device("cpu"))
    ours = train.make_schedule(cfg, 0.05, len(loader), epochs)
    assert len(rates.lrs) == len(loader) * epochs
    assert [ours.lr(step) for step in range(len(rates.lrs))] == rates.lrs
