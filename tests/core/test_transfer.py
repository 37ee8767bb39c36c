"""Transfer learning: frozen layers, learning-rate multipliers, frozen BatchNorm, the head
fitted to the dataset; in commands, project files, runs, checkpoints and the summary."""

from __future__ import annotations

import inspect
import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.core.training_helpers import chain, config, one_thread, tiny_data
from visionstudio.core.build import build_model
from visionstudio.core.commands import CommandError, UndoHistory
from visionstudio.core.graph.transfer_commands import FreezeBefore, SetLrMultiplier, SetTrainable, adapt_head
from visionstudio.core.project import ProjectFormatError
from visionstudio.core.project.document import ProjectDocument
from visionstudio.core.project.io import dumps_project, parse_project
from visionstudio.core.summary import render_text, summarize
from visionstudio.core.training import param_groups as param_groups_module
from visionstudio.core.training.checkpoint import CheckpointError
from visionstudio.core.training.trainer import Trainer
from visionstudio.core.training.transfer_plan import transfer_plan

_threads = pytest.fixture(autouse=True)(one_thread)


def backbone_graph(classes: int = 4):
    return chain(("input", {"channels": 1, "height": 8, "width": 8}),
                 ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
                 ("batchnorm2d", {}),
                 ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"}),
                 ("maxpool2d", {}), ("flatten", {}),
                 ("dense", {"units": 8, "activation": "relu"}),
                 ("dense", {"units": classes}))


def ids(graph):
    return list(graph.nodes)


def named(graph, name):
    return graph.node_by_name(name).id


def doc_of(graph) -> tuple[ProjectDocument, UndoHistory]:
    doc = ProjectDocument(graph=graph)
    return doc, UndoHistory(doc)


# -- commands ------------------------------------------------------------------------------
def test_set_trainable_and_freeze_before_undo_redo():
    doc, history = doc_of(backbone_graph())
    g = doc.graph
    seen = []
    g.transfer.changed.connect(lambda nodes: seen.append(list(nodes)))
    history.push(SetTrainable([named(g, "conv1")], False))
    assert g.transfer.frozen == {named(g, "conv1")} and seen
    history.push(FreezeBefore(named(g, "dense1")))
    before = {named(g, n) for n in ("input1", "conv1", "bn1", "conv2", "pool1", "flatten1")}
    assert g.transfer.frozen == before
    assert history.texts()[-1] == "Freeze everything before dense1"
    history.undo()
    assert g.transfer.frozen == {named(g, "conv1")}  # what was frozen before stays so
    history.redo()
    assert g.transfer.frozen == before
    history.push(SetTrainable([named(g, "conv1"), named(g, "bn1")], True))
    assert named(g, "conv1") not in g.transfer.frozen
    history.undo()
    assert g.transfer.frozen == before
    with pytest.raises(CommandError, match="no layer comes before"):
        FreezeBefore(named(g, "input1")).apply(g)


def test_lr_multiplier_command_validates_and_undoes():
    doc, history = doc_of(backbone_graph())
    g = doc.graph
    head = named(g, "dense2")
    history.push(SetLrMultiplier([head], 10))
    assert g.transfer.multiplier(head) == 10.0
    history.push(SetLrMultiplier([head], 1.0))
    assert head not in g.transfer.multipliers  # ×1 is the default, not stored
    history.undo()
    history.undo()
    assert g.transfer.multiplier(head) == 1.0
    for bad in (float("nan"), float("inf"), -1.0, 0.0, 1e9, True, "10"):
        with pytest.raises(CommandError, match="multiplier"):
            SetLrMultiplier([head], bad).apply(g)
    assert g.transfer.is_default()


def test_adapt_head_is_one_undo_step():
    doc, history = doc_of(backbone_graph(classes=1000))
    g = doc.graph
    head = named(g, "dense2")
    history.push(SetTrainable([head], False))
    history.push(adapt_head(g, 10))
    assert g.nodes[head].params["units"] == 10 and g.transfer.trainable(head)
    assert history.texts()[-1] == "Adapt dense2 to the dataset's 10 classes"
    history.undo()
    assert g.nodes[head].params["units"] == 1000 and not g.transfer.trainable(head)
    history.redo()
    with pytest.raises(CommandError, match="already has 10 units"):
        adapt_head(g, 10)
    with pytest.raises(CommandError, match="not known"):
        adapt_head(g, 0)


# -- project files ----------------------------------------------------------------------
def test_transfer_section_round_trips_and_follows_the_graph():
    doc, history = doc_of(backbone_graph())
    g = doc.graph
    history.push(FreezeBefore(named(g, "dense1")))
    history.push(SetLrMultiplier([named(g, "dense2")], 10.0))
    data = json.loads(dumps_project(doc))
    assert data["schema_version"] == 3
    assert data["graph"]["transfer"]["lr_multipliers"] == {named(g, "dense2"): 10.0}
    again = parse_project(dumps_project(doc)).graph
    assert again.transfer.frozen == g.transfer.frozen
    assert again.transfer.multipliers == g.transfer.multipliers
    assert g.copy().transfer.frozen == g.transfer.frozen
    plain = ProjectDocument(graph=backbone_graph())
    assert "transfer" not in json.loads(dumps_project(plain))["graph"]  # nothing set: no section


def _with_transfer(section) -> str:
    doc = ProjectDocument(graph=backbone_graph())
    data = json.loads(dumps_project(doc))
    data["graph"]["transfer"] = section
    return json.dumps(data)


@pytest.mark.parametrize("section, path, words", [
    ({"lr_multipliers": {"@HEAD": 1e300}}, "graph.transfer.lr_multipliers.", "between"),
    ({"lr_multipliers": {"@HEAD": -3}}, "graph.transfer.lr_multipliers.", "between"),
    ({"lr_multipliers": {"@HEAD": "10"}}, "graph.transfer.lr_multipliers.", "a number"),
    ({"lr_multipliers": {"@HEAD": True}}, "graph.transfer.lr_multipliers.", "a number"),
    ({"frozen": [True]}, "graph.transfer.frozen[0]", "layer's id"),
    ({"frozen": "@HEAD"}, "graph.transfer.frozen", "a list"),
    ({"frozen": ["no-such-layer"]}, "graph.transfer.frozen[0]", "names no layer"),
    ({"trainable": False}, "graph.transfer.trainable", "unknown field"),
    ({"frozen": ["@HEAD"] * 50}, "graph.transfer.frozen", "the network has"),
])
def test_hostile_transfer_sections_are_refused_with_their_path(section, path, words):
    text = _with_transfer(section)  # ids are new per graph: fill in this file's head id
    data = json.loads(text)
    head = data["graph"]["nodes"][-1]["id"]
    text = text.replace("@HEAD", head)
    with pytest.raises(ProjectFormatError, match=words) as err:
        parse_project(text)
    assert err.value.json_path.startswith(path)


def test_nan_and_infinite_multipliers_in_a_file_are_refused():
    data = json.loads(_with_transfer({}))
    head = data["graph"]["nodes"][-1]["id"]
    text = json.dumps(data).replace('"transfer": {}', f'"transfer": {{"lr_multipliers": {{"{head}": NaN}}}}')
    with pytest.raises(ProjectFormatError):
        parse_project(text)
    text = text.replace("NaN", "1e400")  # json reads it as inf
    with pytest.raises(ProjectFormatError, match="finite") as err:
        parse_project(text)
    assert err.value.json_path == f"graph.transfer.lr_multipliers.{head}"


# -- training ---------------------------------------------------------------------------
def _fit(graph, cfg=None, callbacks=(), **kw):
    model = build_model(graph, seed=0)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, cfg or config(epochs=1), callbacks=callbacks, report_every=1,
                      transfer=transfer_plan(graph, frozen_bn_eval=kw.pop("bn_eval", True)), **kw)
    result = trainer.fit(tiny_data(n=48), resume=kw.get("resume"))
    assert result.status == "completed", result.failure
    return trainer, start, {k: v.detach() for k, v in model.state_dict().items()}


def test_frozen_backbone_stays_bit_identical_and_the_head_trains():
    g = backbone_graph()
    FreezeBefore(named(g, "dense1")).apply(g)
    trainer, before, after = _fit(g)
    for key in before:
        same = torch.equal(before[key], after[key])
        if key.startswith(("conv", "bn")):
            assert same, key            # weights and BatchNorm running statistics
        elif key.startswith("dense"):
            assert not same, key
    assert len(trainer.optimizer.param_groups) == 1
    assert sum(p.numel() for p in trainer.optimizer.param_groups[0]["params"]) == trainer.parameter_split[0]
    assert trainer.parameter_split[1] == sum(v.numel() for k, v in before.items()
                                             if k.startswith("conv") or k.split(".")[-1] in ("weight", "bias")
                                             and k.startswith("bn"))


def test_frozen_batchnorm_trains_its_statistics_when_the_option_is_off():
    g = backbone_graph()
    SetTrainable([named(g, "bn1")], False).apply(g)
    _, before, after = _fit(g, bn_eval=False)
    assert torch.equal(before["bn1.weight"], after["bn1.weight"])     # frozen parameters
    assert not torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])


def test_everything_frozen_is_refused_in_words():
    g = backbone_graph()
    SetTrainable(ids(g), False).apply(g)
    model = build_model(g, seed=0)
    from visionstudio.core.training.device import TrainingSetupError
    with pytest.raises(TrainingSetupError, match="nothing would train"):
        Trainer(model, config(epochs=1), transfer=transfer_plan(g)).fit(tiny_data(n=32))


class _Lrs:
    def __init__(self):
        self.rows = []

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        return lambda trainer, *a: None

    def on_batch_end(self, trainer, record):
        self.rows.append((trainer.step, trainer._lr, [g["lr"] for g in trainer.optimizer.param_groups]))


def test_multipliers_give_each_group_its_lr_through_the_schedule():
    g = backbone_graph()
    SetLrMultiplier([named(g, "dense2")], 10.0).apply(g)
    SetLrMultiplier([named(g, "conv1")], 0.1).apply(g)
    rec = _Lrs()
    cfg = config(epochs=2, optimizer={"key": "sgd_momentum", "params": {"lr": 0.05}},
                 scheduler={"key": "cosine", "params": {}})
    trainer, _, _ = _fit(g, cfg, callbacks=[rec])
    groups = trainer.optimizer.param_groups
    assert [gr["lr_multiplier"] for gr in groups] == [1.0, 0.1, 10.0]
    model_params = dict(trainer.model.named_parameters())
    assert {id(p) for p in groups[2]["params"]} == {id(model_params["dense2.weight"]),
                                                      id(model_params["dense2.bias"])}
    lrs = {row[1] for row in rec.rows}
    assert len(lrs) > 2  # the schedule moved the lr
    for _, base, per_group in rec.rows:
        assert per_group == pytest.approx([base, base * 0.1, base * 10.0])


def test_resume_keeps_the_groups_and_refuses_other_groups(tmp_path):
    g = backbone_graph()
    FreezeBefore(named(g, "conv2")).apply(g)
    SetLrMultiplier([named(g, "dense2")], 10.0).apply(g)
    cfg = config(epochs=2, optimizer={"key": "adam", "params": {"lr": 0.01}},
                 scheduler={"key": "cosine", "params": {}})
    _, _, ref = _fit(g, cfg)
    one = config(epochs=1, optimizer=cfg.optimizer, scheduler=cfg.scheduler)
    first = Trainer(build_model(g, seed=0), one,
                    checkpoint_dir=tmp_path, transfer=transfer_plan(g)).fit(tiny_data(n=48))
    assert first.status == "completed"
    rec = _Lrs()
    trainer = Trainer(build_model(g, seed=0), cfg, checkpoint_dir=tmp_path / "b", callbacks=[rec],
                      transfer=transfer_plan(g))
    assert trainer.fit(tiny_data(n=48), resume=tmp_path / "last").status == "completed"
    # the checkpoint covered epoch 1 with total steps of a 1-epoch run: only the groups
    # and their ratios are compared, not the schedule.
    assert rec.rows and all(per == pytest.approx([base, base * 10.0]) for _, base, per in rec.rows)
    assert torch.equal(ref["conv1.weight"], trainer.model.state_dict()["conv1.weight"])
    SetLrMultiplier([named(g, "dense2")], 5.0).apply(g)  # same groups, a new factor: the project's
    rec = _Lrs()
    Trainer(build_model(g, seed=0), cfg, callbacks=[rec], transfer=transfer_plan(g)).fit(
        tiny_data(n=48), resume=tmp_path / "last")
    assert rec.rows and all(per == pytest.approx([base, base * 5.0]) for _, base, per in rec.rows)
    SetLrMultiplier([named(g, "dense1")], 3.0).apply(g)  # a third group now
    with pytest.raises(CheckpointError, match="group"):
        Trainer(build_model(g, seed=0), cfg, transfer=transfer_plan(g)).fit(tiny_data(n=48),
                                                                        resume=tmp_path / "last")


# -- summary -------------------------------------------------------------------------------
def test_summary_counts_trainable_and_frozen():
    g = backbone_graph()
    FreezeBefore(named(g, "dense1")).apply(g)
    summary = summarize(g, "net")
    model = build_model(g, seed=0)
    frozen = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("conv", "bn")))
    total = sum(p.numel() for p in model.parameters())
    data = summary.to_dict()["totals"]
    assert (data["trainable_params"], data["frozen_params"]) == (total - frozen, frozen)
    assert f"Trainable params: {total - frozen:,} · Frozen params: {frozen:,}" in render_text(summary)
    rows = {r["name"]: r for r in summary.to_dict()["layers"]}
    assert rows["conv1"]["trainable"] is False and rows["dense2"]["trainable"] is True
    memory = summarize(g, "net", training=config()).memory   # adam: two state copies
    assert (memory.gradients, memory.optimizer_state) == ((total - frozen) * 4, (total - frozen) * 8)
    assert memory.weights == total * 4


# -- export --------------------------------------------------------------------------------
def _exported(tmp_path, monkeypatch):
    from tests.core.export_graphs import template_projects
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.export import export_project
    from visionstudio.core.graph import analyze
    from visionstudio.core.graph.fixes import last_dense

    doc = dict(template_projects())["classic_cnn"]
    doc.dataset = DatasetConfig("shapes", {"samples": 64, "val_samples": 16})
    doc.training = doc.training.replace(epochs=1, batch_size=32, device="cpu",
                                        optimizer={"key": "sgd_momentum", "params": {"lr": 0.05}})
    g = doc.graph
    head = last_dense(g, analyze(g))
    FreezeBefore(head).apply(g)
    SetLrMultiplier([head], 10.0).apply(g)
    export_project(doc, "script", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return doc, g.nodes[head].name


def test_exported_model_and_train_py_keep_freezing_and_multipliers(tmp_path, monkeypatch):
    from tests.core.support import import_file

    doc, head = _exported(tmp_path, monkeypatch)
    plan = transfer_plan(doc.graph)
    model_text = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert f"FROZEN = {plan.frozen!r}" in model_text
    assert f"LR_MULTIPLIERS = {{{head!r}: 10.0}}" in model_text
    bundled = (tmp_path / "param_groups.py").read_text(encoding="utf-8")
    assert bundled == inspect.getsource(param_groups_module)
    train = import_file(tmp_path / "train.py", "train_transfer")
    try:
        cfg = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
        assert cfg["training"]["frozen_bn_eval"] is True
        model = train.load_model(cfg, None, torch.device("cpu"))
        optimizer, base_lr, _ = train.make_optimizer(cfg, model)
        names = {id(p): n for n, p in model.named_parameters()}
        app = build_model(doc.graph, seed=0)
        app_groups = param_groups_module.param_groups(app, plan)
        app_names = {id(p): n for n, p in app.named_parameters()}
        assert [[names[id(p)] for p in g["params"]] for g in optimizer.param_groups] == \
            [[app_names[id(p)] for p in g["params"]] for g in app_groups]
        assert [g["lr_multiplier"] for g in optimizer.param_groups] == [10.0]
        assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith(head))
        before = {k: v.clone() for k, v in model.state_dict().items()}
        assert train.main(["--device", "cpu", "--out", str(tmp_path / "out")]) == 0
        after = load_file(str(tmp_path / "out" / "checkpoints" / "last" / "model.safetensors"))
        for key, value in before.items():
            assert torch.equal(value, after[key]) != key.startswith(head + "."), key
        rows = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
        assert float(rows[1].split(",")[rows[0].split(",").index("lr")]) == pytest.approx(0.05)
    finally:
        for name in ("augmentation", "shapes_data", "train_data", "lr_schedule", "param_groups", "model"):
            sys.modules.pop(name, None)


def test_a_frozen_block_instance_freezes_every_layer_inside_it():
    from tests.core.block_graphs import chain as block_chain

    g = block_chain((64, 8, 8), [("basic_block", {}), ("basic_block", {})])
    first = g.node_by_name("block1").id
    SetTrainable([first], False).apply(g)
    model = build_model(g, seed=0)
    plan = transfer_plan(g)
    inside = [n for n, _ in model.named_parameters() if n.startswith("block1.")]
    assert inside and plan.frozen == ("block1",)
    trainable, frozen = param_groups_module.apply_freezing(model, plan)
    assert frozen == sum(p.numel() for n, p in model.named_parameters() if n.startswith("block1."))
    assert all(not p.requires_grad for n, p in model.named_parameters() if n.startswith("block1."))
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith("block2."))
    assert len(param_groups_module.frozen_batchnorms(model, plan)) >= 1  # its BatchNorms
    assert summarize(g).totals.frozen_params == frozen
