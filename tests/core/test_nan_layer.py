"""A NaN the network makes by itself names the first layer that produced it; only a
diverged run (finite forward pass, or weights that blew up) is blamed on the learning rate."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.core.training_helpers import chain, config, one_thread, tiny_data, tiny_model
from visionstudio.core.build import build_model
from visionstudio.core.graph import make_node
from visionstudio.core.graph.model import Edge
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.checkpoint import load_checkpoint, save_checkpoint
from visionstudio.core.training.failures import NonFinite
from visionstudio.core.training.nonfinite import find_origin
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)


def _overflowing_graph():
    """Dense, then Weighted sums with fixed weights (the library's own nodes) that multiply
    the values by 2e6 each: wsum1-5 reach 3.2e31, wsum6 (x2e3) 6.4e34 — finite for any
    |value| under 5e3 — and the seventh, named "forward", by 2e6 more: past float32's
    3.4e38 for any |value| over 3e-3. So "forward" is the first to overflow."""
    graph = chain(("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
                  ("dense", {"units": 4}))
    prev = list(graph.nodes)[-1]
    for i in range(7):
        weight = 1e3 if i == 5 else 1e6
        node = make_node(graph, "weighted_sum", params={"weights": [weight, weight]})
        if i == 6:
            node.name = "forward"      # a name that is not a valid attribute: shown as named
        graph.nodes[node.id] = node
        graph.edges += [Edge(prev, node.id, 0), Edge(prev, node.id, 1)]
        prev = node.id
    return graph


def _check_architecture_message(result):
    assert result.status == "failed" and result.failure.kind == "nan"
    message = result.failure.message
    assert "at epoch 1, step 1" in message
    assert "forward produced non-finite values (infinite) first" in message
    assert "from finite inputs and finite weights" in message
    assert "a lower learning rate will not fix it" in message and "Try a lower" not in message


def test_architecture_overflow_names_the_first_layer():
    model = build_model(_overflowing_graph(), seed=0)
    result = Trainer(model, config(epochs=2)).fit(tiny_data())
    _check_architecture_message(result)
    assert result.steps == 1
    # caught before backward: the NaN step never reached the weights
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_architecture_overflow_is_named_when_losses_are_read_in_batches():
    """The GPU path: losses are not read every step, but the first steps are checked."""
    class LikeAGpu(Callback):
        def on_fit_start(self, trainer, record):
            trainer.check_every_step = False

    model = build_model(_overflowing_graph(), seed=0)
    result = Trainer(model, config(epochs=2), callbacks=[LikeAGpu()], report_every=4).fit(tiny_data())
    _check_architecture_message(result)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_diverging_learning_rate_is_still_blamed():
    # SGD at lr 10 on the tiny network: the weights grow to ~1e19 within 15 steps, then overflow
    result = Trainer(tiny_model(), config(epochs=8, optimizer={"key": "sgd", "params": {"lr": 10.0}})
                     ).fit(tiny_data())
    assert result.status == "failed" and result.failure.kind == "nan"
    message = result.failure.message
    assert "the weights of conv1 grew to" in message and "training diverged" in message
    assert "Try a lower learning rate (it was 10; e.g. 1)" in message
    assert "produced non-finite values" not in message


def test_late_nan_asks_the_last_good_checkpoint(tmp_path):
    """Read late (GPU), the NaN has spread into every weight; the last checkpoint's weights
    — here ones that overflow the network by themselves — tell the architecture apart."""
    graph = chain(("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
                  ("dense", {"units": 8}), ("dense", {"units": 4}))
    trainer = Trainer(build_model(graph, seed=0), config(epochs=1), checkpoint_dir=tmp_path)
    trainer.fit(tiny_data())
    saved = load_checkpoint(tmp_path / "last")
    state = dict(saved.model_state)
    state["dense2.bias"] = torch.full((4,), float("nan"))      # the head overflows on its own
    save_checkpoint(tmp_path / "last", model_state=state, tensors=saved.tensors, meta=saved.meta)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    batch = torch.randn(4, 1, 8, 8)
    early = trainer._diagnose(NonFinite(float("nan"), 9, inputs=batch, before_step=True))
    assert early.kind == "weights" and early.layer == "dense1"
    late = trainer._diagnose(NonFinite(float("nan"), 9, inputs=batch, before_step=False))
    assert (late.kind, late.layer) == ("weights", "dense1")   # diverged there too: unchanged
    state["dense2.bias"] = torch.zeros(4)
    state["dense1.weight"] = torch.full((8, 64), 1e5)          # finite, not grown past 1e6
    save_checkpoint(tmp_path / "last", model_state=state, tensors=saved.tensors, meta=saved.meta)
    huge = batch.abs() + 1e35                                   # 64 x 1e5 x 1e35 > 3.4e38
    late = trainer._diagnose(NonFinite(float("nan"), 9, inputs=huge, before_step=False))
    assert (late.kind, late.layer, late.values) == ("layer", "dense1", "infinite")
    early = trainer._diagnose(NonFinite(float("nan"), 9, inputs=huge, before_step=True))
    assert early.kind == "weights"      # caught before its step: no second opinion asked


def test_find_origin_input_loss_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten())
    model.train()
    with torch.no_grad():
        model[0].weight.fill_(1.0)                 # 9 taps x 1e38 overflow float32
    before = {k: v.clone() for k, v in model.named_buffers()}
    origin = find_origin(model, torch.full((2, 1, 5, 5), 1e38), torch.no_grad)
    assert origin.kind == "layer" and origin.layer == "0"
    assert all(torch.equal(before[k], v) for k, v in model.named_buffers())  # BN stats put back
    bad = torch.zeros(2, 1, 5, 5)
    bad[0, 0, 0, 0] = float("nan")
    assert find_origin(model, bad, torch.no_grad).kind == "input"
    assert find_origin(model, torch.zeros(2, 1, 5, 5), torch.no_grad).kind == "loss"
