"""Losses x optimizers x schedules: every combination trains a few steps; schedules
have the shapes their names promise."""

from __future__ import annotations

import math

import pytest
import torch

from tests.core.training_helpers import config, one_thread, tiny_data, tiny_model
from visionstudio.core.params import ConfigError, defaults
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.device import TrainingSetupError
from visionstudio.core.training.losses import TrainingLoss
from visionstudio.core.training.lr_schedule import Schedule
from visionstudio.core.training.registry import LOSSES, OPTIMIZERS, SCHEDULERS
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)
DATA = tiny_data(n=16, n_val=4)


def test_registries_have_the_promised_keys():
    assert set(LOSSES) == {"cross_entropy", "nll", "bce_with_logits", "mse", "l1", "smooth_l1", "huber"}
    assert set(OPTIMIZERS) == {"sgd", "sgd_momentum", "nesterov", "rmsprop", "adam", "adamw", "adagrad"}
    assert set(SCHEDULERS) == {"constant", "step", "multistep", "exponential", "cosine", "one_cycle",
                               "reduce_on_plateau"}
    for registry in (LOSSES, OPTIMIZERS, SCHEDULERS):
        for key, spec in registry.items():
            assert spec.key == key and spec.title and spec.description
            for p in spec.params:
                assert p.validate(p.default) == p.default


def test_training_config_validates_against_registries():
    cfg = TrainingConfig.from_dict({"optimizer": {"key": "adam", "params": {"beta1": 0.5}}})
    assert cfg.optimizer["params"]["beta2"] == 0.999
    with pytest.raises(ConfigError, match="training.optimizer.params.lr"):
        TrainingConfig.from_dict({"optimizer": {"key": "sgd", "params": {"lr": -1}}})
    with pytest.raises(ConfigError, match="unknown loss"):
        TrainingConfig.from_dict({"loss": {"key": "hinge"}})
    assert TrainingConfig.from_dict({"loss": {"key": "ce"}}).loss["key"] == "cross_entropy"


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_combination_trains(loss, optimizer, scheduler):
    cfg = config(epochs=1, batch_size=8, loss={"key": loss}, optimizer={"key": optimizer},
                 scheduler={"key": scheduler})
    result = Trainer(tiny_model(), cfg, report_every=1).fit(DATA)
    assert result.status == "completed", result.failure and result.failure.traceback
    h = result.history[0]
    assert math.isfinite(h.train_loss) and math.isfinite(h.val_loss) and h.lr >= 0


def test_one_hot_losses_and_class_weights():
    out = torch.tensor([[2.0, -1.0, 0.0]])
    y = torch.tensor([0])
    mse = TrainingLoss("mse", {}, 3, torch.device("cpu"))
    assert mse(out, y).item() == pytest.approx(((1.0 ** 2) + 1 + 0) / 3)
    ce = TrainingLoss("cross_entropy", {"label_smoothing": 0.0, "class_weights": [1.0, 2.0, 3.0]}, 3,
                      torch.device("cpu"))
    assert ce(out, y).item() == pytest.approx(torch.nn.functional.cross_entropy(out, y).item())
    with pytest.raises(TrainingSetupError, match="class weights has 2 values"):
        Trainer(tiny_model(), config(loss={"key": "cross_entropy",
                                           "params": {"class_weights": [1.0, 2.0]}})).fit(DATA)


def _lrs(key, params=None, epochs=10, per_epoch=10):
    spec = SCHEDULERS.get(key)
    p = {**defaults(spec.params), **(params or {})}
    s = Schedule(key, p, base_lr=1.0, steps_per_epoch=per_epoch, total_steps=epochs * per_epoch)
    return s, [s.lr(i) for i in range(epochs * per_epoch)]


def test_schedule_shapes():
    _, lrs = _lrs("constant")
    assert set(lrs) == {1.0}
    _, lrs = _lrs("step", {"step_size": 3, "gamma": 0.5})
    assert lrs[29] == 1.0 and lrs[30] == 0.5 and lrs[60] == 0.25
    _, lrs = _lrs("multistep", {"milestones": [2, 5], "gamma": 0.1})
    assert lrs[19] == 1.0 and lrs[20] == pytest.approx(0.1) and lrs[50] == pytest.approx(0.01)
    _, lrs = _lrs("exponential", {"gamma": 0.9})
    assert lrs[10] == pytest.approx(0.9) and lrs[25] == pytest.approx(0.81)
    _, lrs = _lrs("cosine", {"warmup_epochs": 1.0, "min_lr_ratio": 0.1})
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)   # linear warm-up per step
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(0.1, abs=1e-3)
    _, lrs = _lrs("one_cycle")
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert lrs[0] == pytest.approx(1 / 25) and lrs[peak] == pytest.approx(1.0) and 25 <= peak <= 35
    assert lrs[-1] < 1e-4
    s, _ = _lrs("reduce_on_plateau", {"patience": 1, "factor": 0.5})
    assert [s.on_validation(v) for v in (1.0, 0.9, 0.95, 0.95, 0.95, 0.95)] == [
        False, False, False, True, False, True]
    assert s.lr(0) == 0.25
    state = s.state_dict()
    s2, _ = _lrs("reduce_on_plateau", {"patience": 1, "factor": 0.5})
    s2.load_state_dict(state)
    assert s2.lr(0) == 0.25 and s2.bad_epochs == s.bad_epochs
