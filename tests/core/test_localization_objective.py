"""Localization objective: two heads (class, box) weighted into one loss, and IoU,
accuracy and box L1 against values worked out by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstudio.core.tasks.heads import HeadPlan
from visionstudio.core.tasks.localization import box_iou_pairs
from visionstudio.core.tasks.objective import ObjectiveError
from visionstudio.core.tasks.objectives import make_objective

from .support import torch_threads

CPU = torch.device("cpu")


def _heads(box_loss: str = "smooth_l1", box_weight: float = 5.0, box_first: bool = False):
    box = HeadPlan("box", "box", {"key": box_loss, "params": {}}, box_weight, (4,))
    cls = HeadPlan("cls", "class", {"key": "cross_entropy", "params": {}}, 1.0, (3,))
    return (box, cls) if box_first else (cls, box)


TARGETS = torch.tensor([[0, 0.5, 0.5, 0.4, 0.4], [2, 0.25, 0.75, 0.2, 0.1]])


def test_loss_is_the_weighted_sum_of_the_heads_in_their_order():
    torch.manual_seed(0)
    scores, boxes = torch.randn(2, 3), torch.rand(2, 4)
    objective = make_objective("localization", _heads(box_first=True), 3, CPU)
    total, per_head = objective.loss((boxes, scores), TARGETS)
    box_part = F.smooth_l1_loss(boxes, TARGETS[:, 1:])
    class_part = F.cross_entropy(scores, TARGETS[:, 0].long())
    torch.testing.assert_close(per_head, torch.stack((box_part, class_part)))
    torch.testing.assert_close(total, 5.0 * box_part + class_part)
    assert objective.head_names == ("box", "cls")
    correct = int((scores.argmax(1) == TARGETS[:, 0]).sum())
    assert int(objective.batch_score((boxes, scores), TARGETS)) == correct
    l1 = make_objective("localization", _heads("l1", 2.0), 3, CPU)
    total, _ = l1.loss((scores, boxes), TARGETS)
    torch.testing.assert_close(total, 2.0 * F.l1_loss(boxes, TARGETS[:, 1:]) + class_part)


def test_iou_of_box_pairs_by_hand():
    true = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.5, 0.5, 0.4, 0.4], [0.5, 0.5, 0.4, 0.4]])
    pred = torch.tensor([[0.5, 0.5, 0.4, 0.4],     # the same box: 1
                         [0.6, 0.5, 0.4, 0.4],     # shifted by a quarter: 0.3·0.4 / (0.32 − 0.12) = 0.6
                         [0.5, 0.5, -0.4, 0.4]])   # a negative width is an empty box: 0
    torch.testing.assert_close(box_iou_pairs(pred, true), torch.tensor([1.0, 0.6, 0.0]))


def test_metrics_iou_accuracy_and_box_l1():
    objective = make_objective("localization", _heads(), 3, CPU)
    evaluator = objective.evaluator()
    scores = torch.tensor([[5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])          # right, then wrong
    boxes = torch.tensor([[0.6, 0.5, 0.4, 0.4], [0.25, 0.75, 0.2, 0.1]])
    evaluator.add((scores[:1], boxes[:1]), TARGETS[:1])
    evaluator.add((scores[1:], boxes[1:]), TARGETS[1:])
    result = evaluator.result()
    assert result == pytest.approx({"iou": (0.6 + 1.0) / 2, "accuracy": 0.5, "box_l1": (0.1 / 4) / 2})
    pred_scores, pred_boxes = objective.predict((scores, boxes))
    assert pred_scores.shape == (2, 3) and pred_boxes.shape == (2, 4)


def test_heads_must_be_one_class_and_one_box():
    cls, box = _heads()
    with pytest.raises(ObjectiveError, match="two heads"):
        make_objective("localization", (cls,), 3, CPU)
    with pytest.raises(ObjectiveError, match="two heads"):
        make_objective("localization", (box, box), 3, CPU)
    bad = HeadPlan("box", "box", {"key": "cross_entropy", "params": {}}, 1.0, (4,))
    with pytest.raises(ObjectiveError, match="does not compare numbers"):
        make_objective("localization", (cls, bad), 3, CPU)


def test_training_moves_the_box_towards_the_target():
    torch.manual_seed(0)
    net = torch.nn.Linear(8, 7)
    x = torch.randn(16, 8)
    targets = torch.cat((torch.randint(0, 3, (16, 1)).float(), torch.rand(16, 4) * 0.5 + 0.25), dim=1)
    objective = make_objective("localization", _heads(), 3, CPU)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    first = None
    with torch_threads(1):
        for _ in range(30):
            out = net(x)
            total, _ = objective.loss((out[:, :3], out[:, 3:]), targets)
            first = float(total.detach()) if first is None else first
            opt.zero_grad()
            total.backward()
            opt.step()
    assert float(total.detach()) < 0.5 * first
