"""Inspection of the tasks beyond classification (core/inspect/task_evaluation.py): the
worst regression predictions, missed and false detections on hand-made boxes, the task
evaluation through the run's Objective, and Grad-CAM of one detection box."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze
from visionstudio.core.inspect import grad_cam
from visionstudio.core.inspect.task_evaluation import (
    box_cell,
    box_score,
    evaluate_task,
    head_score,
    image_errors,
    inspection_objective,
    match_boxes,
    sample_detections,
    sample_outputs,
    worst_images,
    worst_predictions,
)
from visionstudio.core.tasks.heads import HeadPlan, plan_heads
from visionstudio.core.templates import load_template


def test_worst_predictions_are_the_largest_errors_of_that_target():
    true = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    pred = np.array([[1.5, 10.0], [2.0, 29.0], [0.0, 30.0], [4.1, 40.0]])
    assert [w.index for w in worst_predictions(true, pred, 0, 3)] == [2, 0, 3]
    top = worst_predictions(true, pred, 1, 1)[0]
    assert (top.index, top.true, top.predicted, top.error) == (1, 20.0, 29.0, 9.0)


def _t(rows, dtype=torch.float32):
    return torch.tensor(rows, dtype=dtype)


def test_matching_finds_missed_true_boxes_and_false_predictions():
    gt = _t([[0.0, 0.0, 0.4, 0.4], [0.5, 0.5, 1.0, 1.0], [0.0, 0.6, 0.3, 0.9]])
    gt_labels = _t([0, 1, 0], torch.int64)
    boxes = _t([[0.01, 0.0, 0.41, 0.4],    # matches gt 0
                [0.5, 0.5, 1.0, 1.0],      # right place, wrong class: false, gt 1 missed
                [0.0, 0.0, 0.4, 0.4],      # a second box on gt 0 (lower score): false
                [0.7, 0.0, 0.9, 0.2]])     # nothing there: false
    scores = _t([0.9, 0.8, 0.5, 0.3])
    labels = _t([0, 0, 0, 1], torch.int64)
    missed, false = match_boxes(boxes, scores, labels, gt, gt_labels)
    assert missed == [1, 2] and false == [1, 2, 3]
    errors = image_errors(7, (boxes, scores, labels), (gt, gt_labels))
    assert errors.count == 5 and errors.missed_labels.tolist() == [1, 0]
    assert errors.false_scores.tolist() == pytest.approx([0.8, 0.5, 0.3])
    # the best score wins the true box, whatever the order of the rows
    missed, false = match_boxes(boxes[[2, 0]], scores[[2, 0]], labels[[2, 0]], gt[:1], gt_labels[:1])
    assert missed == [] and false == [0]


def test_no_predictions_or_no_truth_and_the_worst_images_first():
    empty = torch.zeros(0, 4)
    none = torch.zeros(0, dtype=torch.int64)
    gt = _t([[0.1, 0.1, 0.5, 0.5]])
    a = image_errors(0, (empty, torch.zeros(0), none), (gt, _t([0], torch.int64)))
    b = image_errors(1, (gt, _t([0.9]), _t([0], torch.int64)), (gt, _t([0], torch.int64)))
    c = image_errors(2, (torch.cat([gt, gt + 0.4]), _t([0.9, 0.8]), _t([1, 1], torch.int64)),
                     (empty, none))
    assert (a.count, b.count, c.count) == (1, 0, 2)
    assert [e.index for e in worst_images([a, b, c])] == [2, 0]


def _template(key: str):
    doc = load_template(key)
    analysis = analyze(doc.graph)
    heads = plan_heads(doc.task, doc.graph, analysis, doc.training.loss)
    return build_model(doc.graph, analysis, seed=0).eval(), heads


def _detection_targets(n: int) -> torch.Tensor:
    targets = torch.full((n, 3, 5), -1.0)
    targets[:, 0] = _t([0, 0.3, 0.3, 0.2, 0.2])
    targets[1:, 1] = _t([2, 0.7, 0.6, 0.3, 0.25])
    return targets


def test_detection_evaluation_lists_the_images_with_errors_and_the_pr_curve():
    model, heads = _template("detection_grid")
    objective = inspection_objective("detection", heads, 3, [], None, None)
    images = torch.rand(3, 3, 64, 64)
    result = evaluate_task(model, images, _detection_targets(3), objective, prepare=lambda b: b,
                           batch_size=2)
    assert result.task == "detection" and result.images == 3
    assert {"map50", "map", "precision", "recall"} <= set(result.metrics)
    recall, precision = result.pr_curve
    assert len(recall) == len(precision)
    assert all(e.count for e in result.errors)
    assert sorted(e.index for e in result.errors) == sorted({e.index for e in result.errors})
    # an untrained grid misses every true box that its few confident cells do not hit
    assert sum(len(e.missed) for e in result.errors) <= 5


def test_grad_cam_of_a_chosen_box_has_the_images_size_and_is_finite():
    model, _heads = _template("detection_grid")
    x = torch.rand(1, 3, 64, 64)
    outputs = sample_outputs(model, x)
    boxes, scores, labels = sample_detections(model, outputs, (64, 64), min_score=0.0)
    assert len(boxes) and boxes.shape[1] == 4 and (boxes >= 0).all() and (boxes <= 64).all()
    row, col = box_cell(outputs[0], float(scores[0]), int(labels[0]))
    centre = ((boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2)
    assert 0 <= row < 8 and 0 <= col < 8
    if 0 < boxes[0, 0] and boxes[0, 2] < 64 and 0 < boxes[0, 1] and boxes[0, 3] < 64:   # not clipped
        assert (int(centre[1] // 8), int(centre[0] // 8)) == (row, col)
    conv = [n for n in model.node_names.values() if n.startswith("conv")][-2]
    heat, target = grad_cam(model, x, conv, score=box_score(row, col, int(labels[0])))
    assert heat.shape == (64, 64) and np.isfinite(heat).all() and target == -1
    assert heat.min() >= 0 and heat.max() <= 1
    # classification Grad-CAM is untouched: a class index, not -1
    model_l, heads_l = _template("localization")
    index = [h.target for h in heads_l].index("class")
    conv_l = [n for n in model_l.node_names.values() if n.startswith("conv")][-1]
    heat, target = grad_cam(model_l, x, conv_l, score=head_score(index, 1))
    assert heat.shape == (64, 64) and np.isfinite(heat).all()


def test_regression_evaluation_is_in_the_datasets_units():
    names = ["size", "angle"]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2)).eval()
    heads = (HeadPlan("values", "values", {"key": "mse", "params": {}}, 1.0, (2,)),)
    state = {"targets": names, "mean": [100.0, -5.0], "std": [10.0, 2.0]}
    objective = inspection_objective("regression", heads, 0, names, state, None)
    images = torch.rand(5, 3, 8, 8) * 0.01
    labels = torch.tensor([[100.0, -5.0]] * 5)
    labels[3] = torch.tensor([160.0, -5.0])
    result = evaluate_task(model, images, labels, objective, prepare=lambda b: b)
    assert result.true.shape == result.predicted.shape == (5, 2)
    assert abs(result.predicted[:, 0].mean() - 100.0) < 20      # de-normalised: near the mean
    assert result.worst(0, 2)[0].index == 3
    assert result.target_names == ("size", "angle")
    assert {"mae", "rmse", "r2", "r2/size", "mae/angle"} <= set(result.metrics)


def test_localization_evaluation_ranks_wrong_classes_then_low_iou():
    model, heads = _template("localization")
    objective = inspection_objective("localization", heads, 3, [], None, None)
    labels = torch.tensor([[0, 0.5, 0.5, 0.3, 0.3], [1, 0.3, 0.3, 0.2, 0.2], [2, 0.6, 0.6, 0.4, 0.4]])
    result = evaluate_task(model, torch.rand(3, 3, 64, 64), labels, objective, prepare=lambda b: b)
    assert result.ious.shape == (3,) and result.classes.shape == (3, 2)
    order = result.worst_boxes()
    wrong = result.classes[:, 0] != result.classes[:, 1]
    assert sorted(order) == [0, 1, 2] and list(wrong[order]) == sorted(wrong, reverse=True)
    assert {"iou", "accuracy", "box_l1"} <= set(result.metrics)
