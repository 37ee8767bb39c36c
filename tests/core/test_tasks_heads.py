"""The heads of a run, read off the graph, and the sentences saying what does not fit the
task or the dataset."""

from __future__ import annotations

import pytest
import torch

from visionstudio.core.data.base import DatasetInfo, LoadedDataset
from visionstudio.core.graph import analyze
from visionstudio.core.tasks.heads import HeadError, HeadPlan, head_problems, plan_heads

from .graph_strategies import GraphBuilder

CE = {"key": "cross_entropy", "params": {"label_smoothing": 0.1}}


def _trunk(b: GraphBuilder) -> str:
    x = b.add("input", channels=1, height=8, width=8)
    x = b.add("conv2d", x, out_channels=4, kernel_size=3)
    return b.add("flatten", x)


def two_heads(classes: int = 3, box: int = 4, box_loss: str = "smooth_l1", weight: float = 5.0):
    b = GraphBuilder()
    x = _trunk(b)
    c = b.add("dense", x, units=classes)
    b.add("output", c, name="cls", target="class", loss="cross_entropy")
    d = b.add("dense", x, units=box)
    b.add("output", d, name="box1", target="box", loss=box_loss, weight=weight)
    return b


def plan(task: str, b: GraphBuilder, loss=CE):
    return plan_heads(task, b.graph, analyze(b.graph), loss)


def loaded(task: str, classes=("a", "b", "c"), targets=()):
    return LoadedDataset(None, None, None, None, list(classes), (0.5,), (0.5,), [], task=task,
                         target_names=list(targets))


def test_a_plain_network_has_one_head_with_the_project_loss():
    b = GraphBuilder()
    x = _trunk(b)
    b.add("dense", x, units=3)
    (head,) = plan("classification", b)
    assert head == HeadPlan("dense1", "class", CE, 1.0, (3,))
    assert head_problems("classification", (head,), loaded("classification")) == []
    (head,) = plan("regression", b, {"key": "mse", "params": {}})
    assert head.target == "values" and head.loss == {"key": "mse", "params": {}}


def test_output_layers_give_their_target_loss_and_weight_in_name_order():
    heads = plan("localization", two_heads(), {"key": "smooth_l1", "params": {"beta": 0.5}})
    assert [h.name for h in heads] == ["box1", "cls"]
    box, cls = heads
    assert box == HeadPlan("box1", "box", {"key": "smooth_l1", "params": {"beta": 0.5}}, 5.0, (4,))
    assert cls == HeadPlan("cls", "class", {"key": "cross_entropy", "params": {}}, 1.0, (3,))
    assert head_problems("localization", heads, loaded("localization")) == []
    info = DatasetInfo("shapes", (1, 8, 8), 3, task="localization")
    assert head_problems("localization", heads, info) == []


def test_wrong_head_sizes_are_sentences():
    heads = plan("localization", two_heads(classes=5, box=3))
    assert head_problems("localization", heads, loaded("localization", classes="abcdefghij")) == [
        "the box head box1 must output 4 numbers (centre x, y, width, height), it outputs 3",
        "the class head cls must output 10 scores (one per class), it outputs 5",
    ]


def test_values_head_counts_the_dataset_targets():
    b = GraphBuilder()
    x = _trunk(b)
    b.add("dense", x, units=2)
    heads = plan("regression", b, {"key": "mse", "params": {}})
    data = loaded("regression", classes=(), targets=("size", "angle", "x", "y"))
    assert head_problems("regression", heads, data) == [
        "the values head must output 4 numbers (size, angle, x, y), it outputs 2"]
    info = DatasetInfo("csv", None, None, task="regression", targets=3)
    assert head_problems("regression", heads, info) == [
        "the values head must output 3 numbers (one per target), it outputs 2"]
    unknown = DatasetInfo("csv", None, None, task="regression")
    assert head_problems("regression", heads, unknown) == []


def test_heads_must_fit_the_task():
    heads = plan("classification", two_heads())
    assert head_problems("classification", heads, None) == [
        "the head box1 feeds box, which a classification project has no labels for; set its target to class"]
    cls_only = [h for h in heads if h.target == "class"]
    assert head_problems("localization", cls_only, None) == [
        "a localization network needs a box head; add an Output layer with target box"]
    twice = (cls_only[0], HeadPlan("cls2", "class", CE, 1.0, (3,)))
    assert head_problems("classification", twice, None) == [
        "a classification network has one class head; it has 2 (cls, cls2)"]
    assert head_problems("detection", cls_only, None) == [
        "a detection network ends in a Detect layer; add one after the last convolution"]
    assert head_problems("segmentation", cls_only, None) == [
        "the task 'segmentation' is not one of classification, regression, localization, detection"]


def test_dataset_of_another_task_skips_the_count_checks():
    heads = plan("localization", two_heads(classes=5))
    assert head_problems("localization", heads, loaded("classification")) == []


def _detect_graph(channels: int, detect: bool = True):
    b = GraphBuilder()
    x = b.add("input", channels=1, height=8, width=8)
    x = b.add("conv2d", x, out_channels=channels, kernel_size=1, name="pred")
    if detect:
        b.add("detect", x, name="det1", box_weight=4.0)
    return b


def test_detect_heads():
    b = _detect_graph(14)
    (head,) = plan("detection", b)
    params = analyze(b.graph).nodes[b.id("det1")].clean_params
    assert params["box_weight"] == 4.0
    assert head == HeadPlan("det1", "detections", {"key": "detection", "params": params}, 1.0, (14, 8, 8))
    data = loaded("detection")
    assert head_problems("detection", (head,), data) == [
        "Detect det1 gets 14 channels: 5 + 9 classes, but the dataset has 3 classes (needs 8)"]
    assert head_problems("detection", plan("detection", _detect_graph(8)), data) == []
    assert head_problems("detection", plan("detection", _detect_graph(8, detect=False)), data) == [
        "a detection network ends in a Detect layer; add one after the last convolution"]
    assert head_problems("classification", (head,), None) == [
        "the Detect layer det1 needs a detection project; set the task to Detection or end the "
        "network in Output layers",
        "a classification network needs a class head; add an Output layer with target class"]


def test_plan_heads_refuses_what_cannot_be_trained():
    b = GraphBuilder()
    x = b.add("input")
    b.add("relu", x)
    b.add("tanh", x)
    with pytest.raises(HeadError, match="no output to train"):
        plan("classification", b)
    with pytest.raises(HeadError, match="not one of"):
        plan("segmentation", two_heads())
    broken = two_heads()
    broken.graph.nodes[broken.id("dense2")].params["units"] = 0
    analysis = analyze(broken.graph)
    with pytest.raises(HeadError, match="box1 has no known shape"):
        plan_heads("localization", broken.graph, analysis, CE)


def test_a_regression_label_tensor_gives_the_count():
    data = loaded("regression", classes=())
    data.train_labels = torch.zeros(6, 3)
    b = GraphBuilder()
    b.add("dense", _trunk(b), units=3)
    assert head_problems("regression", plan("regression", b), data) == []


def test_one_value_is_one_number():
    b = GraphBuilder()
    b.add("dense", _trunk(b), units=2)
    data = loaded("regression", classes=(), targets=("size",))
    assert head_problems("regression", plan("regression", b), data) == [
        "the values head must output 1 number (size), it outputs 2"]
