"""Looking inside blocks: activations and Grad-CAM of a block's inner layers, by the
dotted node path the feature viewer shows (``block1.conv1``, nested ``outer.block1.conv1``)."""

from __future__ import annotations

import numpy as np
import torch

from visionstudio.core.build import build_model
from visionstudio.core.graph import GraphModel
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam
from visionstudio.core.inspect import capture_activations, grad_cam
from visionstudio.core.inspect.activations import modules_by_node

from .block_helpers import add, chain, conv_block, network


def outer_block() -> BlockDefinition:
    """block input -> an instance of conv_block -> a conv named ``forward`` (an attribute
    that must be renamed in the module) -> output."""
    inner = GraphModel()
    i0 = add(inner, "block_input", "x_in")
    nested = add(inner, "block", "inner1", block="conv_block", channels=6)
    conv = add(inner, "conv2d", "forward", out_channels=5, kernel_size=3, padding=1)
    out = add(inner, "block_output", "out")
    chain(inner, i0, nested, conv, out)
    return BlockDefinition("outer", "Outer", "", inner, [ExposedParam("width", conv, "out_channels")])


def blocks_network():
    graph = GraphModel()
    graph.blocks.add(conv_block())
    graph.blocks.add(outer_block())
    network(graph, ["conv_block", "outer"], shape=(3, 12, 12))
    return graph, build_model(graph, seed=0)


def test_inner_layers_listed_by_dotted_node_names():
    graph, model = blocks_network()
    modules = modules_by_node(model)
    for name in ("conv_block_1", "conv_block_1.conv1", "conv_block_1.relu1", "outer_2",
                 "outer_2.inner1", "outer_2.inner1.conv1", "outer_2.forward"):
        assert name in modules, name
    # the hooks find the same module objects as the model's own dotted paths
    named = dict(model.named_modules())
    assert modules["conv_block_1.conv1"] is named["conv_block_1.conv1"]
    assert modules["outer_2.inner1.conv1"] is named["outer_2.inner1.conv1"]
    assert modules["outer_2.forward"] is named["outer_2.forward_"]   # renamed attribute, node name kept


def test_activations_of_inner_layers_are_what_the_block_computes():
    _graph, model = blocks_network()
    x = torch.randn(3, 12, 12, generator=torch.Generator().manual_seed(1))
    acts, out = capture_activations(model, x)
    conv = acts["conv_block_1.conv1"].array
    assert conv.shape == (8, 12, 12)
    np.testing.assert_allclose(acts["conv_block_1.relu1"].array, np.maximum(conv, 0), atol=1e-6)
    np.testing.assert_allclose(acts["conv_block_1"].array, acts["conv_block_1.relu1"].array)
    assert acts["outer_2.inner1.conv1"].array.shape == (6, 12, 12)     # the instance's exposed value
    assert acts["outer_2.forward"].array.shape == (5, 12, 12)
    with torch.no_grad():
        expected = model.conv_block_1.conv1(x.unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(conv, expected, atol=1e-5)
    assert out.shape == (1, 3)
    only, _ = capture_activations(model, x, nodes=["outer_2.inner1.conv1"])
    assert list(only) == ["outer_2.inner1.conv1"]


def test_grad_cam_on_a_conv_inside_a_block():
    _graph, model = blocks_network()
    x = torch.randn(3, 12, 12, generator=torch.Generator().manual_seed(2))
    for layer in ("conv_block_1.conv1", "outer_2.inner1.conv1"):
        heat, target = grad_cam(model, x, layer)
        assert heat.shape == (12, 12) and 0.0 <= heat.min() and heat.max() <= 1.0
        assert 0 <= target < 3
    try:
        grad_cam(model, x, "conv_block_1.nothing")
    except ValueError as exc:
        assert "conv_block_1.nothing" in str(exc)
    else:
        raise AssertionError("an unknown inner layer must be refused")


def test_two_instances_of_one_block_are_hooked_apart():
    graph = GraphModel()
    graph.blocks.add(conv_block())
    network(graph, ["conv_block", "conv_block"], shape=(3, 8, 8))
    model = build_model(graph, seed=0)
    acts, _ = capture_activations(model, torch.randn(3, 8, 8))
    a, b = acts["conv_block_1.conv1"].array, acts["conv_block_2.conv1"].array
    assert a.shape == b.shape == (8, 8, 8) and not np.allclose(a, b)
