"""The sweep file: the issue's example as written, every kind of range, and hostile files
refused with the path of the bad value; parameter paths checked against a project and
applied through commands to a copy (Apply best is one undo step)."""

from __future__ import annotations

import copy
import json

import pytest

from tests.core.sweep_helpers import ISSUE_EXAMPLE, tiny_project
from visionstudio.core.commands import UndoHistory
from visionstudio.core.graph import analyze
from visionstudio.core.params import ConfigError
from visionstudio.core.runs.paths import RunPathError
from visionstudio.core.sweeps.bundle import BundleError, read_bundle, write_bundle
from visionstudio.core.sweeps.config import MAX_FILE_BYTES, ParameterRange, SweepConfig, load_sweep_text
from visionstudio.core.sweeps.parameters import (
    apply_best_command,
    apply_parameters,
    check_parameters,
    sweepable_parameters,
)
from visionstudio.core.sweeps.study import study_storage_url


def config(**changes) -> SweepConfig:
    return SweepConfig.from_dict({**copy.deepcopy(ISSUE_EXAMPLE), **changes})


def test_the_issue_example_reads_as_written():
    cfg = SweepConfig.from_dict(ISSUE_EXAMPLE)
    assert (cfg.sampler, cfg.trials, cfg.objective_metric, cfg.direction, cfg.epochs) == (
        "random", 3, "val_loss", "minimize", 1)
    assert cfg.parameters == (ParameterRange("optimizer.lr", "float", 1e-4, 1e-2, True, None, ()),)
    assert (cfg.pruner, cfg.repeats, cfg.seed, cfg.timeout_s, cfg.name) == ("none", 1, 0, None, "sweep")
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    assert load_sweep_text(json.dumps(ISSUE_EXAMPLE)) == cfg


def test_every_kind_of_range():
    cfg = config(sampler="grid", trials=None, pruner="halving", repeats=3, seed=7, name="depth and width",
                 timeout_s=60, objective={"metric": "val_accuracy"}, parameters={
                     "training.batch_size": [16, 32],
                     "layer.conv1.out_channels": {"low": 4, "high": 12, "step": 4},
                     "optimizer.momentum": {"low": 0.5, "high": 0.9, "step": 0.2},
                     "optimizer.key": {"choices": ["sgd_momentum", "nesterov"]},
                     "repeat.res_1": {"low": 1, "high": 2, "type": "int"}})
    kinds = {p.path: p.kind for p in cfg.parameters}
    assert kinds == {"training.batch_size": "choice", "layer.conv1.out_channels": "int",
                     "optimizer.momentum": "float", "optimizer.key": "choice", "repeat.res_1": "int"}
    assert cfg.direction == "maximize"   # a metric without "loss" in its name
    assert cfg.grid_space()["layer.conv1.out_channels"] == [4, 8, 12]
    assert cfg.grid_space()["optimizer.momentum"] == [0.5, 0.7, 0.9]
    assert cfg.grid_size() == 2 * 3 * 3 * 2 * 2 == cfg.planned_trials()
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    logged = config(parameters={"training.batch_size": {"low": 8, "high": 64, "log": True}})
    assert logged.parameters[0].kind == "float"
    assert config(parameters={"x.y": {"low": 8, "high": 64, "type": "int", "log": True}}).parameters[0].log


@pytest.mark.parametrize("data, path, words", [
    ({"trails": 3}, "trails", "unknown key 'trails'"),
    ({"parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "lgo": True}}},
     "parameters.optimizer.lr.lgo", "unknown key"),
    ({"objective": {"metric": "val_loss", "goal": "min"}}, "objective.goal", "unknown key"),
    ({"sampler": "bayes"}, "sampler", "grid, random, tpe"),
    ({"pruner": "hyperband"}, "pruner", "none, median, halving"),
    ({"trials": 0}, "trials", "between 1"),
    ({"trials": 10**9}, "trials", "between 1"),
    ({"trials": True}, "trials", "whole number"),
    ({"trials": None, "timeout_s": None}, "trials", "needs a budget"),
    ({"timeout_s": float("nan")}, "timeout_s", "between"),
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"repeats": 1000}, "repeats", "between 1"),
    ({"objective": {"metric": "__import__('os')"}}, "objective.metric", "recorded metric"),
    ({"objective": {"metric": "val_loss", "direction": "down"}}, "objective.direction", "minimize"),
    ({"name": "../../etc"}, "name", "letters"),
    ({"name": "x" * 65}, "name", "letters"),
    ({"parameters": {}}, "parameters", "at least one"),
    ({"parameters": {f"layer.l{i}.units": [1, 2] for i in range(33)}}, "parameters", "at most 32"),
    ({"parameters": {"optimizer lr": [1, 2]}}, "parameters.optimizer lr", "not a setting path"),
    ({"parameters": {"a.b.c.d": [1, 2]}}, "parameters.a.b.c.d", "not a setting path"),
    ({"parameters": {"optimizer.lr": {"low": 1e-2, "high": 1e-4}}}, "parameters.optimizer.lr", "below high"),
    ({"parameters": {"optimizer.lr": {"low": 0, "high": 1, "log": True}}}, "parameters.optimizer.lr.low",
     "above 0"),
    ({"parameters": {"optimizer.lr": {"low": 1e-4}}}, "parameters.optimizer.lr", "needs high"),
    ({"parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e300 * 10}}}, "parameters.optimizer.lr.high",
     "between"),
    ({"parameters": {"optimizer.lr": {"choices": list(range(300))}}}, "parameters.optimizer.lr.choices",
     "1 to 256"),
    ({"parameters": {"optimizer.lr": {"choices": [1, 1]}}}, "parameters.optimizer.lr.choices", "twice"),
    ({"parameters": {"optimizer.lr": {"choices": [{"__class__": 1}]}}}, "parameters.optimizer.lr.choices[0]",
     "a choice must be"),
    ({"parameters": {"optimizer.lr": {"choices": ["x" * 500]}}}, "parameters.optimizer.lr.choices[0]",
     "at most 200"),
    ({"parameters": {"optimizer.lr": {"choices": [1], "low": 0}}}, "parameters.optimizer.lr.low",
     "no range keys"),
    ({"parameters": {"optimizer.lr": "0.1"}}, "parameters.optimizer.lr", "must be a range"),
    ({"sampler": "grid", "parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2}}},
     "parameters.optimizer.lr", "a step"),
    ({"sampler": "grid", "parameters": {f"layer.l{i}.units": list(range(10)) for i in range(5)}},
     "parameters", "100,000 points"),
])
def test_hostile_or_wrong_files_are_refused_with_their_path(data, path, words):
    with pytest.raises(ConfigError) as info:
        config(**data)
    assert info.value.path == path and words in str(info.value), str(info.value)


@pytest.mark.parametrize("text, words", [
    ("{" * 100_000, "not valid JSON"),
    ('{"trials": NaN' + " " * 10 + "}", "not valid JSON"),
    (" " * (MAX_FILE_BYTES + 1), "at most"),
    ("[1, 2]", "a JSON object"),
])
def test_hostile_text(text, words):
    with pytest.raises(ConfigError, match=words):
        load_sweep_text(text)


@pytest.mark.parametrize("path, rng, words", [
    ("layer.conv9.out_channels", [4, 8], "no layer named 'conv9'"),
    ("layer.conv1.widht", [4, 8], "layer conv1 has no parameter 'widht'"),
    ("block.resnet.channels", [4, 8], "no block 'resnet'"),
    ("block.residual.depth", [4, 8], "exposes no parameter 'depth'"),
    ("repeat.conv1", {"low": 1, "high": 3}, "no block instance named 'conv1'"),
    ("optimizer.momentum", {"low": 0.5, "high": 0.9}, "adam has no parameter 'momentum'"),
    ("optimizer.lr", {"low": 1e-3, "high": 1e3}, "at most 100"),
    ("optimizer.key", ["adam", "lion"], "lion"),
    ("training.seed", [1, 2], "seed and repeats"),
    ("training.device", ["cpu", "cuda"], "--device"),
    ("training.bogus", [1, 2], "not a training setting"),
    ("training.batch_size", {"low": 8.5, "high": 64.0}, "whole numbers"),
    ("layer.conv1.activation", {"low": 1, "high": 2}, "choice list"),
    ("repeat.res_1", {"low": 1, "high": 99}, "at most 16"),
    ("loss.key", ["mse"], "not a setting path"),
])
def test_paths_are_checked_against_the_project(path, rng, words):
    cfg = config(parameters={path: rng})
    with pytest.raises(ConfigError) as info:
        check_parameters(tiny_project(), cfg)
    assert info.value.path == f"parameters.{path}" and words in str(info.value), str(info.value)


def test_epochs_twice_and_params_of_a_swept_optimizer():
    with pytest.raises(ConfigError, match="keep one"):
        check_parameters(tiny_project(), config(parameters={"training.epochs": [1, 2]}))
    check_parameters(tiny_project(), config(parameters={"optimizer.key": ["adam", "sgd_momentum"],
                                                        "optimizer.momentum": {"low": 0.5, "high": 0.9}}))


def test_values_go_to_a_copy_and_repeat_builds_a_chain():
    doc = tiny_project()
    before = json.dumps(doc.to_dict(), sort_keys=True)
    trial = apply_parameters(doc, {"optimizer.lr": 0.005, "optimizer.key": "sgd_momentum",
                                   "optimizer.momentum": 0.8, "training.batch_size": 10,
                                   "layer.conv1.out_channels": 4, "block.residual.channels": 4,
                                   "repeat.res_1": 3})
    assert json.dumps(doc.to_dict(), sort_keys=True) == before
    assert trial.training.optimizer == {"key": "sgd_momentum",
                                        "params": {"lr": 0.005, "momentum": 0.8, "weight_decay": 0.0}}
    assert trial.training.batch_size == 10
    copies = [n for n in trial.graph.nodes.values() if n.kind == "block"]
    assert len(copies) == 3 and all(n.params["block"] == "residual" for n in copies)
    flatten = trial.graph.node_by_name("flatten")
    (edge,) = trial.graph.inputs_of(flatten.id)
    assert trial.graph.nodes[edge.src].name == "res_1_r2"
    assert analyze(trial.graph).ok


def test_apply_best_is_one_undo_step():
    doc = tiny_project()
    before = json.dumps(doc.to_dict(), sort_keys=True)
    history = UndoHistory(doc)
    history.push(apply_best_command(doc, {"optimizer.lr": 0.003, "layer.dense.units": 3,
                                          "repeat.res_1": 2}))
    assert doc.training.optimizer["params"]["lr"] == 0.003 and len(doc.graph.nodes) == 6
    assert len(history.texts()) == 1 and "optimizer.lr=0.003" in history.texts()[0]
    history.undo()
    assert json.dumps(doc.to_dict(), sort_keys=True) == before


def test_sweepable_parameters_offer_settings_layers_blocks_and_depth():
    offered = {c.path: c for c in sweepable_parameters(tiny_project())}
    assert {"optimizer.lr", "optimizer.key", "scheduler.key", "training.batch_size",
            "layer.conv1.out_channels", "block.residual.channels", "repeat.res_1"} <= set(offered)
    assert not any(p.startswith("layer.input.") for p in offered)
    lr = offered["optimizer.lr"]
    assert lr.log and lr.low < lr.value < lr.high
    cfg = SweepConfig(trials=2, parameters=tuple(offered[p].default_range() for p in (
        "optimizer.lr", "layer.conv1.out_channels", "repeat.res_1", "optimizer.key")))
    check_parameters(tiny_project(), cfg)


def test_hostile_bundles_and_a_study_file_leading_elsewhere(tmp_path):
    cfg = config()
    with pytest.raises(BundleError, match="no sweep.json"):
        read_bundle(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(tiny_project(), cfg, tmp_path)
    bundle = tmp_path / "bundle"
    write_bundle(tiny_project(), cfg, bundle)
    document, again = read_bundle(bundle)
    assert again == cfg and document.runs == [] and len(document.graph.nodes) == 5
    (bundle / "sweep.json").write_text(json.dumps({**ISSUE_EXAMPLE, "parameters": {"layer.x.units": [1]}}))
    with pytest.raises(ConfigError, match="no layer named 'x'"):
        read_bundle(bundle)
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "sweeps.db").symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(RunPathError, match="outside the project's runs folder"):
        study_storage_url(runs)
