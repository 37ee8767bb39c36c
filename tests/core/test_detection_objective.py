"""Detection objective: which cell owns which box, a loss that is finite and falls, and
the metrics against fixtures computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from visionstudio.core.layers import LAYERS
from visionstudio.core.params import defaults
from visionstudio.core.tasks.detection_metrics import DetectionEvaluator, match_counts
from visionstudio.core.tasks.detection_objective import LOSS_PARTS, DetectionObjective, assign
from visionstudio.core.tasks.heads import HeadPlan
from visionstudio.core.tasks.objective import ObjectiveError
from visionstudio.core.tasks.objectives import make_objective

from .support import torch_threads

PAD = [-1.0] * 5
CPU = torch.device("cpu")


def _head(classes: int = 2, grid: int = 4, **params) -> HeadPlan:
    p = {**defaults(LAYERS.get("detect").params), **params}
    return HeadPlan("detect1", "detections", {"key": "detection", "params": p}, 1.0,
                    (5 + classes, grid, grid))


def _objective(classes: int = 2, grid: int = 4, **params) -> DetectionObjective:
    return make_objective("detection", (_head(classes, grid, **params),), classes, CPU)


def test_each_box_goes_to_the_cell_of_its_centre_and_the_smaller_wins():
    targets = torch.tensor([
        [[0, 0.10, 0.10, 0.2, 0.2], [1, 0.90, 0.60, 0.3, 0.1], PAD],
        [[1, 0.55, 0.55, 0.5, 0.5], [0, 0.60, 0.70, 0.1, 0.1], [0, 1.0, 1.0, 0.2, 0.2]],   # last: on the edge
    ])
    flat, owner = assign(targets, (4, 4))
    dump = 2 * 16
    # image 0: cell (0, 0) and cell (row 2, col 3); the padding row owns nothing
    # image 1: both centres in cell (2, 2): the smaller box (row 1) wins; (1.0, 1.0) clamps to (3, 3)
    assert flat.tolist() == [0, 2 * 4 + 3, dump, dump, 16 + 2 * 4 + 2, 16 + 15]
    assert owner.tolist() == [1, 1, 0, 0, 1, 1]


def test_equal_boxes_in_one_cell_give_it_to_the_first():
    targets = torch.tensor([[[0, 0.3, 0.3, 0.2, 0.2], [1, 0.3, 0.3, 0.2, 0.2]]])
    flat, owner = assign(targets, (2, 2))
    assert owner.tolist() == [1, 0] and flat.tolist() == [0, 4]


def _batch(n: int = 8, size: int = 16, seed: int = 0):
    """Images with one or two bright squares (class 0) or dark-on-grey squares (class 1)."""
    g = torch.Generator().manual_seed(seed)
    images, targets = torch.zeros(n, 3, size, size), torch.full((n, 2, 5), -1.0)
    for i in range(n):
        for k in range(1 + i % 2):
            cls = int(torch.randint(0, 2, (1,), generator=g))
            side = int(torch.randint(3, 6, (1,), generator=g))
            x0, y0 = (int(v) for v in torch.randint(0, size - side, (2,), generator=g))
            images[i, cls, y0:y0 + side, x0:x0 + side] = 1.0
            targets[i, k] = torch.tensor([cls, (x0 + side / 2) / size, (y0 + side / 2) / size,
                                          side / size, side / size])
    return images, targets


@pytest.mark.parametrize("box_loss, objectness_loss", [("giou", "bce"), ("l1", "focal")])
def test_loss_is_finite_and_falls(box_loss, objectness_loss):
    with torch_threads(1):
        torch.manual_seed(0)
        images, targets = _batch()
        net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                            nn.Conv2d(16, 7, 1))
        objective = _objective(box_loss=box_loss, objectness_loss=objectness_loss)
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        totals = []
        for _ in range(25):
            total, parts = objective.loss((net(images),), targets)
            assert parts.shape == (3,) and torch.isfinite(parts).all() and not parts.requires_grad
            opt.zero_grad()
            total.backward()
            opt.step()
            totals.append(float(total.detach()))
        assert objective.head_names == LOSS_PARTS == ("box", "objectness", "class")
        assert all(math.isfinite(t) for t in totals) and totals[-1] < 0.6 * totals[0], totals


def test_loss_weights_apply_and_images_without_objects_are_fine():
    objective = _objective(box_weight=2.0, objectness_weight=3.0, class_weight=0.5)
    raw = torch.randn(3, 7, 4, 4)
    targets = torch.full((3, 4, 5), -1.0)
    targets[0, 0] = torch.tensor([1, 0.4, 0.4, 0.3, 0.2])
    total, parts = objective.loss((raw,), targets)
    torch.testing.assert_close(total, (parts * torch.tensor([2.0, 3.0, 0.5])).sum())
    empty_total, empty_parts = objective.loss((raw,), torch.full((3, 4, 5), -1.0))
    assert torch.isfinite(empty_total) and empty_parts[0] == 0 and empty_parts[2] == 0 and empty_parts[1] > 0


def test_objective_refuses_a_grid_for_other_classes():
    with pytest.raises(ObjectiveError, match="needs 5 \\+ 3 channels"):
        make_objective("detection", (_head(classes=2),), 3, CPU)


# -- metrics ---------------------------------------------------------------------------
def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _perfect_grid(targets: torch.Tensor, classes: int, grid: int) -> torch.Tensor:
    """The raw grid a perfect detector would give for these targets (one box per cell)."""
    raw = torch.zeros(targets.shape[0], 5 + classes, grid, grid)
    raw[:, 0] = -20.0
    for i, rows in enumerate(targets):
        for cls, cx, cy, w, h in rows.tolist():
            if cls < 0:
                continue
            col, row = int(cx * grid), int(cy * grid)
            raw[i, :5, row, col] = torch.tensor([20.0, _logit(cx * grid - col), _logit(cy * grid - row),
                                                 _logit(w), _logit(h)])
            raw[i, 5 + int(cls), row, col] = 20.0
    return raw


def test_perfect_predictions_score_one():
    _, targets = _batch(8)
    evaluator = _objective().evaluator()
    evaluator.add((_perfect_grid(targets, 2, 4),), targets)
    result = evaluator.result()
    assert result == pytest.approx({"map50": 1.0, "map": 1.0, "precision": 1.0, "recall": 1.0}, abs=1e-6)
    recall, precision = evaluator.pr_curve()
    assert len(recall) == len(precision) == 101 and min(precision) == pytest.approx(1.0)


def _hand_case(true_first: bool) -> DetectionEvaluator:
    """Two true boxes of class 0; a detection matching the first exactly and one in an
    empty place, the second true box missed."""
    evaluator = DetectionEvaluator(defaults(LAYERS.get("detect").params), 1)
    truth = torch.tensor([[[0, 0.25, 0.25, 0.2, 0.2], [0, 0.75, 0.75, 0.2, 0.2]]])
    hit, miss = torch.tensor([0.15, 0.15, 0.35, 0.35]), torch.tensor([0.05, 0.6, 0.25, 0.8])
    scores = torch.tensor([0.9, 0.8]) if true_first else torch.tensor([0.8, 0.9])
    evaluator.add_detections([(torch.stack((hit, miss)), scores, torch.tensor([0, 0]))], truth)
    return evaluator


def test_two_box_fixture_matches_the_hand_computed_ap():
    # TP then FP: precision 1 up to recall 0.5, nothing beyond: 51 of COCO's 101 recall points
    result = _hand_case(true_first=True).result()
    assert result["map50"] == pytest.approx(51 / 101, abs=1e-6)
    assert result["map"] == pytest.approx(51 / 101, abs=1e-6)     # the hit is exact: every IoU threshold
    assert result["precision"] == pytest.approx(0.5) and result["recall"] == pytest.approx(0.5)
    recall, precision = _hand_case(true_first=True).pr_curve()
    assert precision[:51] == pytest.approx([1.0] * 51) and precision[51:] == pytest.approx([0.0] * 50)
    assert recall[50] == pytest.approx(0.5)
    # FP ranked first: precision 0.5 at recall 0.5
    assert _hand_case(true_first=False).result()["map50"] == pytest.approx(0.5 * 51 / 101, abs=1e-6)


def test_matching_is_greedy_by_score_and_per_class():
    gt = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.9], [0.0, 0.0, 1.0, 1.0]])
    scores, labels = torch.tensor([0.5, 0.9, 0.7]), torch.tensor([0, 0, 1])
    tp, fp = match_counts(boxes, scores, labels, gt, torch.tensor([0]))
    assert (tp, fp) == (1, 2)    # the 0.9 box takes the true box; the other class-0 box and class 1 are false
    assert match_counts(boxes[:0], torch.tensor([]), torch.tensor([]), gt, torch.tensor([0])) == (0, 0)
    assert match_counts(boxes, torch.ones(3), torch.zeros(3), gt[:0], torch.tensor([])) == (0, 3)


def test_no_true_boxes_reports_zero():
    evaluator = _objective().evaluator()
    evaluator.add((torch.randn(2, 7, 4, 4),), torch.full((2, 3, 5), -1.0))
    result = evaluator.result()
    assert result["map50"] == 0.0 and result["recall"] == 0.0
    assert evaluator.pr_curve() == ([], [])


def test_predict_gives_boxes_per_image_in_pixels():
    _, targets = _batch(2)
    found = _objective().predict((_perfect_grid(targets, 2, 4),), image_hw=(16, 16))
    assert len(found) == 2
    boxes, scores, labels = found[0]
    true = targets[0, 0]
    cx, cy, w, h = (true[1:] * 16).tolist()
    torch.testing.assert_close(boxes[0], torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]),
                               atol=1e-3, rtol=0)
    assert labels[0] == int(true[0]) and scores[0] > 0.99
