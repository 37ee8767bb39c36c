"""Built-in blocks: each analyses cleanly, builds, and has the parameters of the torch
module it follows (torchvision's where it has one)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import SqueezeExcitation

from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS, builtin_block
from visionstudio.core.blocks.specs import node_param_specs
from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze

from .block_graphs import one_block


def _projection(cin: int, cout: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _inception_paper(cin, c1, c3r, c3, c5r, c5, pp) -> int:
    """torchvision's Inception with the paper's 5×5 kernel in the third branch (it has 3×3)."""
    from torchvision.models.googlenet import Inception

    return _count(Inception(cin, c1, c3r, c3, c5r, c5, pp)) + c5r * c5 * (25 - 9)


CASES = [
    ("basic_block", (64, 8, 8), {"channels": 64}, lambda: _count(BasicBlock(64, 64))),
    ("basic_block_projection", (64, 8, 8), {"channels": 128, "stride": 2},
     lambda: _count(BasicBlock(64, 128, 2, downsample=_projection(64, 128, 2)))),
    ("bottleneck", (64, 8, 8), {"channels": 64, "out_channels": 256},
     lambda: _count(Bottleneck(64, 64, downsample=_projection(64, 256, 1)))),
    ("bottleneck", (256, 8, 8), {"channels": 128, "out_channels": 512, "stride": 2},
     lambda: _count(Bottleneck(256, 128, 2, downsample=_projection(256, 512, 2)))),
    # MobileNetV2's inverted residual with expansion 1 has MobileNet's parameters (its
    # pointwise conv has no ReLU after it, which changes no count).
    ("depthwise_separable", (32, 8, 8), {"in_channels": 32, "out_channels": 64, "stride": 2},
     lambda: _count(InvertedResidual(32, 64, 2, expand_ratio=1))),
    ("squeeze_excitation", (64, 8, 8), {"channels": 64, "squeeze_channels": 16},
     lambda: _count(SqueezeExcitation(64, 16))),
    ("inception", (192, 8, 8), {}, lambda: _inception_paper(192, 64, 96, 128, 16, 32, 32)),
]


def test_every_builtin_is_covered():
    assert {c[0] for c in CASES} == set(BUILTIN_BLOCKS)


@pytest.mark.parametrize("key,shape,values,reference", CASES, ids=[c[0] for c in CASES])
def test_builtin_counts_match_the_torch_module(key, shape, values, reference):
    graph = one_block(key, shape, **values)
    analysis = analyze(graph)
    assert analysis.diagnostics == []
    model = build_model(graph, analysis)
    assert _count(model) == analysis.total_params == reference()
    with torch.no_grad():
        out = model.eval()(torch.randn(2, *shape))
    assert tuple(out.shape[1:]) == analysis.output_shape


def test_basic_block_is_torchvisions_to_the_bit():
    """Same layer names as torchvision's BasicBlock, so its weights load and the outputs agree."""
    graph = one_block("basic_block", (16, 8, 8), channels=16)
    block = build_model(graph, seed=3).eval().block1
    reference = BasicBlock(16, 16).eval()
    reference.load_state_dict(block.state_dict(), strict=True)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), reference(x))


@pytest.mark.parametrize("key", sorted(BUILTIN_BLOCKS))
def test_builtin_definitions_are_described_and_fresh(key):
    first, second = builtin_block(key), builtin_block(key)
    assert first.key == key and first.title and first.description
    assert first.graph is not second.graph  # a factory, not a shared object
    assert BUILTIN_BLOCKS[key].__doc__  # which paper / architecture it follows
    names = [e.name for e in first.exposed]
    graph = one_block(key, tuple(first.input_shapes[0]))
    specs = node_param_specs(graph, graph.node_by_name("block1"))
    assert {s.name for s in specs} == set(names)
    assert analyze(graph).diagnostics == []  # the defaults fit the preview shape


def test_exposed_channels_set_every_inner_target():
    graph = one_block("basic_block_projection", (32, 8, 8), channels=48, stride=2)
    info = analyze(graph).nodes[graph.node_by_name("block1").id]
    assert info.output_shape == (48, 4, 4)
    inner = {graph.blocks.get("basic_block_projection").graph.nodes[nid].name: i
             for nid, i in info.inner.nodes.items()}
    assert inner["conv1"].output_shape == inner["conv_proj"].output_shape == (48, 4, 4)
