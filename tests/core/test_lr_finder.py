"""The learning-rate finder: a sweep over a throw-away copy that suggests a learning rate
in the range known to work, stops when the loss runs away, and leaves the next run as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.core.training_helpers import chain, one_thread, tiny_data, tiny_graph
from visionstudio.core.build import build_model
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.feed import TrainData
from visionstudio.core.training.lr_finder import (
    Smoother,
    find_lr,
    range_test,
    steepest_lr,
    sweep_lrs,
    valley_lr,
)
from visionstudio.core.training.plan import RunPlan, execute, plan_run

_threads = pytest.fixture(autouse=True)(one_thread)


def _linear_graph():
    return chain(("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
                 ("dense", {"units": 4, "activation": "none"}))


def _plan(graph=None, optimizer: str = "sgd", **training) -> RunPlan:
    doc = ProjectDocument(
        graph=graph if graph is not None else tiny_graph(classes=4, size=8),
        dataset=DatasetConfig.from_dict({"key": "shapes", "params": {
            "samples": 64, "val_samples": 16, "image_size": 8, "classes": 4}}),
        training=TrainingConfig.from_dict({"batch_size": 16, "device": "cpu", "epochs": 1,
                                           "optimizer": {"key": optimizer, "params": {}}, **training}))
    plan = plan_run(doc)
    assert isinstance(plan, RunPlan), plan
    return plan


def _test(plan: RunPlan, lrs, **kw):
    return range_test(plan, tiny_data(n=128), build_model(plan.graph, plan.analysis, seed=0), lrs, **kw)


@pytest.mark.parametrize("graph, optimizer", [(_linear_graph, "sgd"), (tiny_graph, "sgd"),
                                              (_linear_graph, "adam")])
def test_a_learnable_problem_gets_a_suggestion_in_the_known_range(graph, optimizer):
    # SGD on a separable problem learns from ~1e-3 and is fine up to ~1: both suggestions
    # must land there, not in the flat start or the run-away end
    result = _test(_plan(graph(), optimizer), sweep_lrs(1e-7, 10, 100))
    assert result.ok and result.stopped_reason == "completed" and len(result.lrs) == 100
    assert 1e-3 <= result.steepest <= 1 and 1e-3 <= result.valley <= 1, (result.steepest, result.valley)
    assert len(result.losses) == len(result.smoothed) == 100
    assert result.smoothed[-1] < 0.5 * result.smoothed[0]       # it did learn


def test_divergence_stops_early_with_the_reason():
    # shuffled labels: no weights fit them, so a growing step makes the loss run away
    # (on separable data a linear model's loss only shrinks, whatever the step)
    data = tiny_data(n=128)
    labels = data.train_labels[torch.randperm(128, generator=torch.Generator().manual_seed(1))]
    plan = _plan(_linear_graph())
    result = range_test(plan, TrainData.from_tensors(data.train_images, labels, num_classes=4),
                        build_model(plan.graph, plan.analysis, seed=0), sweep_lrs(1e-3, 1e6, 100))
    assert result.stopped_reason == "diverged" and len(result.lrs) < 100
    assert result.smoothed[-1] > 4 * min(result.smoothed)


def test_a_non_finite_loss_stops_the_sweep_and_says_so():
    lrs = [0.01] * 10 + [1e38] * 5     # the huge step makes every weight infinite
    result = _test(_plan(_linear_graph()), lrs)
    assert result.stopped_reason == "non-finite" and 10 <= len(result.losses) < 15
    assert all(math.isfinite(v) for v in result.losses) and result.ok


def test_cancel_between_steps_keeps_the_curve_so_far():
    control = TrainerControl()
    seen: list[int] = []

    def progress(step, steps, lr, loss):
        seen.append(step)
        if step == 7:
            control.request_stop()

    result = _test(_plan(_linear_graph()), sweep_lrs(1e-5, 1, 50), control=control, progress=progress)
    assert result.stopped_reason == "cancelled" and len(result.lrs) == 7 and seen == list(range(1, 8))


def test_batch_size_one_sweeps_every_step():
    result = _test(_plan(_linear_graph(), batch_size=1), sweep_lrs(1e-4, 1e-1, 12))
    assert result.ok and len(result.lrs) == 12


def test_suggestions_on_an_analytic_curve():
    lrs = sweep_lrs(1e-6, 1, 200)
    x = np.log10(lrs)
    curve = list(2.0 - np.tanh(2 * (x + 3)))          # falls fastest at lr = 1e-3
    assert steepest_lr(lrs, curve) == pytest.approx(1e-3, rel=0.1)
    valley = valley_lr(lrs, curve)
    assert 1e-3 < valley < 1
    assert steepest_lr(lrs[:5], curve[:5]) is None and valley_lr(lrs[:5], curve[:5]) is None
    assert steepest_lr(lrs, [1.0] * 200) is None               # a flat curve suggests nothing


def test_smoother_is_bias_corrected():
    s = Smoother()
    assert s.add(3.0) == pytest.approx(3.0) and s.add(3.0) == pytest.approx(3.0)
    assert not s.diverged(11.9) and s.diverged(12.1)
    with pytest.raises(ValueError):
        sweep_lrs(1.0, 0.1, 10)


def test_the_next_run_and_the_random_state_are_untouched():
    plan = _plan(augmentation="flip")
    before = execute(plan).fit.history[-1]
    rng = torch.get_rng_state()
    result = find_lr(plan, steps=20)
    assert result.ok and len(result.lrs) >= 10
    assert torch.equal(rng, torch.get_rng_state())
    after = execute(plan).fit.history[-1]
    assert (after.train_loss, after.val_loss, after.val_accuracy) == (
        before.train_loss, before.val_loss, before.val_accuracy)


def test_a_dataset_problem_comes_back_as_words():
    doc = ProjectDocument(graph=tiny_graph(classes=2, size=8),
                          dataset=DatasetConfig.from_dict({"key": "image_folder", "params": {
                              "folder": "/nonexistent/lr-find"}}),
                          training=TrainingConfig.from_dict({"device": "cpu"}))
    plan = plan_run(doc)
    assert isinstance(plan, RunPlan), plan
    result = find_lr(plan, steps=10)
    assert not result.ok and result.stopped_reason == "failed" and result.failure.kind == "dataset"
    assert "lr-find" in result.failure.message


def test_steepest_is_never_on_the_fall_back_after_a_blow_up():
    """A loss that descends, spikes and falls back from the spike: the steepest fall
    is the spike's way down, but the suggestion must be in the real descent."""
    from visionstudio.core.training.lr_finder import steepest_lr

    lrs = list(np.logspace(-6, 1, 100))
    smoothed = [2.3] * 40 + list(np.linspace(2.3, 1.0, 30)) + [9.0, 8.0, 6.0, 4.0] + [3.0] * 26
    best = steepest_lr(lrs, smoothed)
    assert best is not None and lrs[40] <= best <= lrs[69]
