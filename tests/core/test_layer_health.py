"""Layer health: dead ReLU layers, vanishing gradients and the first non-finite layer are
found on a sampled step, and no hook stays on the model outside that step."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.core.test_nan_layer import _overflowing_graph
from tests.core.training_helpers import chain, config, one_thread, tiny_data, tiny_model
from visionstudio.core.build import build_model
from visionstudio.core.training.layer_health import LayerHealth, LayerHealthMonitor, LayerHealthRecord
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)


def _fit(model, **cfg):
    records: list[LayerHealthRecord] = []
    monitor = LayerHealthMonitor(records.append, every_steps=1, min_interval_s=0.0, window=4)
    result = Trainer(model, config(**cfg), callbacks=[monitor], report_every=1).fit(tiny_data())
    return result, records, monitor


def _dead_model():
    """The conv's bias of -100 keeps every pre-activation far below zero: its ReLU never fires."""
    model = tiny_model()
    with torch.no_grad():
        model.get_submodule(_attr(model, "conv1")).bias.fill_(-100.0)
    return model


def _attr(model, node_name):
    return next(a for a, n in model.node_names.items() if n == node_name)


def test_a_dead_relu_layer_gets_the_dead_finding():
    _result, records, _ = _fit(_dead_model(), epochs=1)
    assert records
    last = records[-1]
    conv = next(h for h in last.layers if h.layer == "conv1")
    assert conv.dead == 1.0
    assert ("conv1", "conv1: 100% of its ReLU units never fire — lower the learning rate "
                       "or use LeakyReLU") in last.findings


def test_a_healthy_network_has_no_findings_and_full_numbers():
    _result, records, _ = _fit(tiny_model(), epochs=1)
    last = records[-1]
    assert last.findings == ()
    conv = next(h for h in last.layers if h.layer == "conv1")
    dense = next(h for h in last.layers if h.layer == "dense1")
    assert conv.dead is not None and conv.dead < 0.5
    assert dense.dead is None                       # no ReLU there
    assert conv.grad_norm > 0 and dense.grad_norm > 0
    assert 0 < conv.update_ratio < 1 and conv.std > 0


def test_vanishing_gradients_in_a_deep_sigmoid_stack():
    layers = [("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {})]
    layers += [("dense", {"units": 16, "activation": "sigmoid"})] * 12
    layers += [("dense", {"units": 4})]
    model = build_model(chain(*layers), seed=0)
    _result, records, _ = _fit(model, epochs=1, optimizer={"key": "sgd", "params": {"lr": 0.01}})
    words = [text for _layer, text in records[-1].findings]
    assert any(text.startswith("dense1: gradients") and "smaller than in dense13 — vanishing" in text
               for text in words), words


def test_the_first_non_finite_layer_is_named():
    result, records, _ = _fit(build_model(_overflowing_graph(), seed=0), epochs=1)
    assert result.status == "failed"
    assert records[-1].nonfinite_layer == "forward"
    assert ("forward", "first non-finite values in forward") in records[-1].findings


def test_hooks_are_on_for_the_sampled_step_only():
    model = tiny_model()
    seen: list[int] = []

    class Count(LayerHealthMonitor):
        def on_batch_end(self, trainer, record):
            # before this call any armed step has finished: no hook may be left from it
            seen.append(sum(len(m._forward_hooks) for m in model.modules()))
            super().on_batch_end(trainer, record)

    monitor = Count(lambda r: None, every_steps=3, min_interval_s=0.0)
    result = Trainer(model, config(epochs=1), callbacks=[monitor], report_every=1).fit(tiny_data())
    assert result.ok and seen and set(seen) == {0}
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert not monitor._handles


def _plain(value):
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (int, float, str))


def test_records_are_frozen_plain_data():
    _result, records, _ = _fit(_dead_model(), epochs=1)
    record = records[-1]
    assert _plain(record) and isinstance(record.layers[0], LayerHealth)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.step = 3  # type: ignore[misc]
    assert record.as_dict()["layers"][0]["layer"] == record.layers[0].layer


def test_a_sample_whose_optimizer_step_never_ran_is_dropped_without_piling_hooks():
    from types import SimpleNamespace

    model = tiny_model()
    trainer = SimpleNamespace(train_model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                              step=0)
    monitor = LayerHealthMonitor(lambda r: None, every_steps=1, min_interval_s=0.0)
    monitor.on_fit_start(trainer, None)
    monitor.on_batch_end(trainer, None)
    first = list(monitor._handles)
    model(torch.zeros(2, 1, 8, 8))     # the sampled step's forward pass, but no optimizer step
    trainer.step += 1
    monitor.on_batch_end(trainer, None)
    assert first and not any(h in monitor._handles for h in first)
    assert sum(len(m._forward_hooks) for m in model.modules()) == len(list(model.children()))
    monitor.on_fit_end(trainer, None)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_layers_inside_block_instances_get_their_own_health_by_node_path():
    """Issue #18: a block instance's inner layers are measured too, labelled
    "<instance>.<inner layer>", and a dead ReLU inside a block is named there."""
    from tests.core.block_helpers import conv_block, network
    from visionstudio.core.graph import GraphModel

    graph = GraphModel()
    graph.blocks.add(conv_block())
    network(graph, ["conv_block", "conv_block"], shape=(1, 8, 8), channels=4)
    graph.nodes[graph.node_by_name("dense").id].params["units"] = 4
    model = build_model(graph)
    inner = model.get_submodule(_attr(model, "conv_block_2"))
    with torch.no_grad():
        next(m for m in inner.modules() if isinstance(m, torch.nn.Conv2d)).bias.fill_(-100.0)
    _result, records, _ = _fit(model, epochs=1)
    names = [h.layer for h in records[-1].layers]
    assert {"conv_block_1", "conv_block_1.conv1", "conv_block_2.conv1", "conv_block_2.relu1"} <= set(names)
    assert names.index("conv_block_1") < names.index("conv_block_1.conv1") < names.index("conv_block_2")
    dead = {layer for layer, text in records[-1].findings if "never fire" in text}
    assert "conv_block_2.relu1" in dead and "conv_block_1.relu1" not in dead
