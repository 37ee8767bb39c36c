"""Classification through its Objective: the numbers a one-head run always gave.

A seeded tiny run is replayed by a plain PyTorch loop doing what the loop did before
objectives (randperm order from the seed, the standardised images, cross-entropy on the
raw scores, argmax accuracy, SGD): every step's loss, the epoch's accuracies and the
weights must be the same numbers.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from tests.core.training_helpers import Recorder, config, one_thread, tiny_data, tiny_model
from visionstudio.core.data.base import channel_stats
from visionstudio.core.tasks.heads import HeadPlan
from visionstudio.core.tasks.objective import ObjectiveError
from visionstudio.core.tasks.objectives import make_objective
from visionstudio.core.training.feed import batch_slices
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)
CPU = torch.device("cpu")


def _reference(model, data, epochs: int, batch_size: int, lr: float):
    """The pre-objective loop, by hand: (step losses, per-epoch (train acc, val loss, val acc))."""
    mean, std = channel_stats(data.train_images)
    m = torch.tensor(mean).view(1, -1, 1, 1)
    inv = 1.0 / torch.tensor(std).view(1, -1, 1, 1)
    norm = lambda x: (x * (inv / 255.0)).add_(-m * inv)  # noqa: E731 - the feed's one-op form
    x, y, vx, vy = norm(data.train_images), data.train_labels, norm(data.val_images), data.val_labels
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    gen = torch.Generator().manual_seed(0)
    torch.default_generator.manual_seed(0)
    losses, epochs_out = [], []
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        model.train()
        correct = seen = 0
        for lo, hi in batch_slices(x.shape[0], batch_size):
            idx = order[lo:hi]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            correct += int((out.argmax(1) == yb).sum())
            seen += int(yb.shape[0])
        model.eval()
        with torch.no_grad():
            out = model(vx)
            val_loss = float(F.cross_entropy(out, vy).double() * vy.shape[0]) / vy.shape[0]
            val_acc = int((out.argmax(1) == vy).sum()) / vy.shape[0]
        epochs_out.append((correct / seen, val_loss, val_acc))
    return losses, epochs_out


def test_a_one_head_run_gives_the_numbers_of_the_plain_loop():
    data = tiny_data(n=64, classes=4)
    model = tiny_model()
    twin = copy.deepcopy(model)
    rec = Recorder()
    cfg = config(epochs=2, optimizer={"key": "sgd", "params": {"lr": 0.05}})
    result = Trainer(model, cfg, callbacks=[rec], report_every=1).fit(data)
    losses, epochs = _reference(twin, data, 2, 16, 0.05)
    got = [v for b in rec.of("on_batch_end") for v in b.losses]
    assert got == pytest.approx(losses, rel=1e-6, abs=1e-7)
    for record, (train_acc, val_loss, val_acc) in zip(result.history, epochs):
        assert record.train_accuracy == pytest.approx(train_acc)
        assert record.val_loss == pytest.approx(val_loss, rel=1e-6)
        assert record.val_accuracy == pytest.approx(val_acc)
        assert record.val_metrics == () and record.train_head_losses == () and record.val_head_losses == ()
    for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_objective_scores_classes_as_the_loop_did():
    torch.manual_seed(0)
    loss = {"key": "cross_entropy", "params": {"label_smoothing": 0.1}}
    head = HeadPlan("dense2", "class", loss, 1.0, (8,))
    objective = make_objective("classification", [head], 8, CPU)
    out, labels = torch.randn(32, 8), torch.randint(0, 8, (32,))
    total, per_head = objective.loss((out,), labels)
    assert per_head is None and torch.equal(total, F.cross_entropy(out, labels, label_smoothing=0.1))
    assert int(objective.batch_score((out,), labels)) == int((out.argmax(1) == labels).sum())
    evaluator = objective.evaluator()
    evaluator.add((out[:16],), labels[:16])
    evaluator.add((out[16:],), labels[16:])
    top5 = (out.topk(5, 1).indices == labels[:, None]).any(1).float().mean()
    result = evaluator.result()
    assert result["accuracy"] == pytest.approx(float((out.argmax(1) == labels).float().mean()))
    assert result["top5"] == pytest.approx(float(top5)) and evaluator.scatter() == ()


def test_two_class_heads_add_their_weighted_losses():
    heads = [HeadPlan("a", "class", {"key": "cross_entropy", "params": {}}, 1.0, (3,)),
             HeadPlan("b", "class", {"key": "mse", "params": {}}, 0.5, (3,))]
    objective = make_objective("classification", heads, 3, CPU)
    a, b, labels = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    total, per_head = objective.loss((a, b), labels)
    ce, mse = F.cross_entropy(a, labels), F.mse_loss(b, F.one_hot(labels, 3).float())
    assert torch.allclose(per_head, torch.stack([ce, mse]))
    assert torch.allclose(total, ce + 0.5 * mse)


def test_a_loss_that_does_not_exist_is_refused_in_words():
    head = HeadPlan("out", "class", {"key": "warp", "params": {}}, 1.0, (3,))
    with pytest.raises(ObjectiveError, match="out names the loss 'warp'"):
        make_objective("classification", [head], 3, CPU)
    with pytest.raises(ObjectiveError, match="cannot be trained yet"):
        make_objective("telepathy", [head], 3, CPU)
