"""A project's initial weights (an import's): read strictly, confined to the project's
folder, checked tensor by tensor at plan time, loaded before the first step; a layer the
user changed since the import starts fresh with a note."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from visionstudio.core.graph.transfer_commands import adapt_head
from visionstudio.core.importers import import_model, save_import
from visionstudio.core.project import ProjectFormatError, dumps_project, load_project, parse_project
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.plan import PlanProblems, execute, plan_run

KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
SMALL = {"samples": 32, "val_samples": 16}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imported")
    project, weights = save_import(import_model(KERAS / "mnist_cnn.keras"), folder / "m.vsproj")
    return project, weights


def _copy(imported, tmp_path) -> Path:
    project, weights = imported
    (tmp_path / project.name).write_bytes(project.read_bytes())
    (tmp_path / weights.name).write_bytes(weights.read_bytes())
    return tmp_path / project.name


def _plan(doc, **overrides):
    from visionstudio.core.data.config import DatasetConfig

    doc.dataset = DatasetConfig.from_dict({"key": doc.dataset.key, "params": {**doc.dataset.params, **SMALL}})
    return plan_run(doc, {"epochs": 1, "batch_size": 16, "device": "cpu", **overrides})


def test_round_trip_and_the_import_sets_it(imported, tmp_path):
    doc = load_project(_copy(imported, tmp_path))
    assert doc.initial_weights == "m.weights.safetensors" and doc.folder == tmp_path.resolve()
    again = parse_project(dumps_project(doc))
    assert again.initial_weights == "m.weights.safetensors"
    doc.initial_weights = None
    assert "initial_weights" not in json.loads(dumps_project(doc))


@pytest.mark.parametrize("name", ["../outside.safetensors", "/etc/passwd", "a/../../b", "C:\\w.st",
                                  "a\\b", "", "x\0y", 5, ["w"], ".", "w" * 300])
def test_hostile_names_are_refused_with_the_field(imported, name):
    data = json.loads(imported[0].read_text())
    data["initial_weights"] = name
    with pytest.raises(ProjectFormatError) as info:
        parse_project(json.dumps(data))
    assert "initial_weights" in str(info.value)


def test_a_symlink_leading_outside_is_refused(imported, tmp_path):
    inside = tmp_path / "p"
    inside.mkdir()
    project = _copy(imported, inside)
    (inside / "m.weights.safetensors").unlink()
    os.symlink(imported[1], inside / "m.weights.safetensors")
    problems = _plan(load_project(project))
    assert isinstance(problems, PlanProblems)
    assert "outside the project's folder" in problems.message and "m.weights.safetensors" in problems.message


def test_a_missing_file_is_refused_by_name(imported, tmp_path):
    project = _copy(imported, tmp_path)
    (tmp_path / "m.weights.safetensors").unlink()
    problems = _plan(load_project(project))
    assert isinstance(problems, PlanProblems)
    assert "m.weights.safetensors" in problems.message and "missing" in problems.message


def test_a_wrong_shape_in_an_unchanged_layer_names_the_tensor(imported, tmp_path):
    project = _copy(imported, tmp_path)
    file = tmp_path / "m.weights.safetensors"
    tensors = load_file(file)
    tensors["dense.weight"] = torch.zeros(64, 10)
    save_file(tensors, file, metadata=_metadata(imported[1]))
    problems = _plan(load_project(project))
    assert isinstance(problems, PlanProblems)
    assert "dense.weight is 64×10 but the network needs 64×1600" in problems.message
    file.write_bytes(b"\xff" * 8 + b"{}")   # a header that claims more than the file has
    problems = _plan(load_project(project))
    assert "not a safetensors weights file" in problems.message


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        return fh.metadata()


class _FirstWeights(Callback):
    def on_fit_start(self, trainer, record):
        self.state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        self.notes = list(record.notes)


def test_a_run_starts_from_them_and_a_changed_head_starts_fresh(imported, tmp_path):
    project = _copy(imported, tmp_path)
    doc = load_project(project)
    source = load_file(tmp_path / "m.weights.safetensors")
    adapt_head(doc.graph, 5).do(doc)
    doc.dataset = doc.dataset.__class__.from_dict({"key": "shapes", "params": {**doc.dataset.params,
                                                                               "classes": 5}})
    plan = _plan(doc)
    assert not isinstance(plan, PlanProblems), plan
    assert "dense_1: new shape 5×64, starts fresh" in plan.initial.notes
    seen = _FirstWeights()
    result = execute(plan, [seen])
    assert result.ok, result.failure
    for key in ("conv2d.weight", "conv2d_1.bias", "dense.weight"):
        assert torch.equal(seen.state[key], source[key])
    assert seen.state["dense_1.weight"].shape == (5, 64)
    assert "Starts from the initial weights m.weights.safetensors" in seen.notes
    assert "dense_1: new shape 5×64, starts fresh" in seen.notes


def test_a_continued_run_ignores_them(imported, tmp_path):
    doc = load_project(_copy(imported, tmp_path))
    (tmp_path / "m.weights.safetensors").unlink()
    plan = plan_run(doc, resume=tmp_path / "nowhere")   # the checkpoint is what is checked
    assert isinstance(plan, PlanProblems) and "m.weights.safetensors" not in plan.message


def test_a_renamed_layer_keeps_its_weights_and_a_changed_conv_frees_what_follows(imported, tmp_path):
    from visionstudio.core.graph.commands import RenameNode, SetParam

    doc = load_project(_copy(imported, tmp_path))
    ids = {n.name: n.id for n in doc.graph.nodes.values()}
    RenameNode(ids["conv2d"], "stem").do(doc)
    plan = _plan(doc)
    assert not isinstance(plan, PlanProblems), plan
    assert ("stem.weight", "conv2d.weight") in plan.initial.sources and not plan.initial.fresh
    SetParam(ids["conv2d_1"], "out_channels", 16).do(doc)   # its output feeds dense through Flatten
    plan = _plan(doc)
    assert not isinstance(plan, PlanProblems), plan
    assert plan.initial.fresh == {"conv2d_1.weight", "conv2d_1.bias", "dense.weight"}
    assert "dense: new shape 64×400, starts fresh" in plan.initial.notes   # its input changed
    assert ("dense.bias", "dense.bias") in plan.initial.sources


def test_a_file_without_the_import_record_must_fit_exactly(imported, tmp_path):
    from visionstudio.core.graph.commands import SetParam

    project = _copy(imported, tmp_path)
    file = tmp_path / "m.weights.safetensors"
    save_file(load_file(file), file)   # the same tensors, no metadata
    doc = load_project(project)
    assert not isinstance(_plan(doc), PlanProblems)
    hidden = next(n.id for n in doc.graph.nodes.values() if n.name == "dense")
    SetParam(hidden, "units", 32).do(doc)
    problems = _plan(doc)
    assert isinstance(problems, PlanProblems)
    assert "tensor dense.weight is 64×1600 but the network needs 32×1600" in problems.message


def test_added_and_removed_layers_are_noted(imported, tmp_path):
    from visionstudio.core.graph.commands import AddNode, Connect, RemoveNodes

    doc = load_project(_copy(imported, tmp_path))
    ids = {n.name: n.id for n in doc.graph.nodes.values()}
    RemoveNodes([ids["dense"]]).do(doc)              # flatten now feeds a new Dense
    AddNode("dense", name="hidden", params={"units": 64}, node_id="h1").do(doc)
    Connect(ids["flatten"], "h1").do(doc)
    Connect("h1", ids["dense_1"]).do(doc)
    plan = _plan(doc)
    assert not isinstance(plan, PlanProblems), plan
    assert "hidden: added since the import, starts fresh" in plan.initial.notes
    assert "dense: no longer in the network, its imported weights are not used" in plan.initial.notes
    assert plan.initial.fresh == {"hidden.weight", "hidden.bias"}   # dense_1 still fits: kept
