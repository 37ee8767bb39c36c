"""The built-in blocks: the repeated units of well-known CNNs, ready to drop on a network.

Each factory returns a fresh :class:`BlockDefinition` whose inner layers follow the
paper (and torchvision's implementation, where one exists, so parameter counts agree:
tests/core/test_blocks_builtin.py checks them against the torch modules). What changes
from one use to the next (channels, stride) is exposed; a name exposed on several inner
parameters sets all of them (a basic block's two convolutions share ``channels``).
Node ids are derived from the block key and layer name, so a template that uses a
built-in block is the same file every time it is regenerated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from visionstudio.core.graph import Edge, GraphModel, make_node
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam
from visionstudio.core.layers.block_ports import BLOCK_INPUT, BLOCK_OUTPUT

_NAMESPACE = uuid.UUID("0c6f1d0e-8a8f-4c1b-b5d3-6c2b9e7f4a21")
_ROW, _COL = 110.0, 220.0


class _Draft:
    """An inner graph being laid out: one column top to bottom, branches side by side."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.graph = GraphModel()
        self.row = 0
        self.exposed: list[ExposedParam] = []

    def add(self, kind: str, name: str, *inputs: str, col: float = 0.0, row: int | None = None,
            **params: Any) -> str:
        node_id = uuid.uuid5(_NAMESPACE, f"{self.key}/{name}").hex
        node = make_node(self.graph, kind, name, params, node_id)
        self.graph.nodes[node.id] = node
        if row is None:
            row, self.row = self.row, self.row + 1
        self.graph.positions[node.id] = (col * _COL, row * _ROW)
        for port, src in enumerate(inputs):
            self.graph.edges.append(Edge(self.graph.node_by_name(src).id, node.id, port))
        return name

    def conv_bn(self, src: str, channels: int, kernel: int, *, stride: int = 1, groups: int = 1,
                relu: bool = True, col: float = 0.0, row: int | None = None, suffix: str = "") -> str:
        """Conv (no bias: the batch norm has one) -> BatchNorm -> ReLU, torchvision's unit;
        at ``row`` (a side branch, leaving the main column's next row alone) or next."""
        rows = iter(range(row, row + 3)) if row is not None else None
        at = (lambda: next(rows)) if rows is not None else (lambda: None)
        conv = self.add("conv2d", f"conv{suffix}", src, col=col, row=at(), out_channels=channels,
                        kernel_size=kernel, stride=stride, padding=kernel // 2, groups=groups,
                        bias=False)
        out = self.add("batchnorm2d", f"bn{suffix}", conv, col=col, row=at())
        return self.add("relu", f"relu{suffix}", out, col=col, row=at()) if relu else out

    def expose(self, name: str, title: str, *targets: tuple[str, str]) -> None:
        for node_name, param in targets:
            self.exposed.append(ExposedParam(name, self.graph.node_by_name(node_name).id, param, title))

    def definition(self, title: str, description: str, shapes: list[tuple[int, ...]]) -> BlockDefinition:
        return BlockDefinition(self.key, title, description, self.graph, self.exposed,
                               input_shapes=[tuple(s) for s in shapes])


def _start(key: str) -> tuple[_Draft, str]:
    draft = _Draft(key)
    return draft, draft.add(BLOCK_INPUT, "input", index=0)


def basic_block(channels: int = 64, stride: int = 1) -> BlockDefinition:
    """ResNet's basic block (He et al. 2016, "Deep Residual Learning", fig. 2; torchvision
    ``BasicBlock`` without downsample): two 3×3 conv-BN, ReLU between, the input added back
    unchanged, ReLU. The input must already have ``channels`` channels and stride 1 keeps
    the size; use the projection variant where either changes."""
    d, x = _start("basic_block")
    y = d.conv_bn(x, channels, 3, stride=stride, suffix="1")
    y = d.conv_bn(y, channels, 3, relu=False, suffix="2")
    d.add("add", "add", y, x)
    d.add(BLOCK_OUTPUT, "output", d.add("relu", "relu", "add"))
    d.expose("channels", "channels", ("conv1", "out_channels"), ("conv2", "out_channels"))
    d.expose("stride", "stride", ("conv1", "stride"))
    return d.definition("Basic block", "ResNet basic block: 3×3 conv-BN-ReLU, 3×3 conv-BN, plus the "
                        "input, ReLU.", [(channels, 32, 32)])


def basic_block_projection(channels: int = 128, stride: int = 2) -> BlockDefinition:
    """ResNet's basic block with a projection shortcut (He et al. 2016, option B; torchvision
    ``BasicBlock`` with ``downsample`` = 1×1 conv + BN): where the channels or the size change."""
    d, x = _start("basic_block_projection")
    y = d.conv_bn(x, channels, 3, stride=stride, suffix="1")
    y = d.conv_bn(y, channels, 3, relu=False, suffix="2")
    p = d.conv_bn(x, channels, 1, stride=stride, relu=False, col=1, row=1, suffix="_proj")
    d.add("add", "add", y, p)
    d.add(BLOCK_OUTPUT, "output", d.add("relu", "relu", "add"))
    d.expose("channels", "channels", ("conv1", "out_channels"), ("conv2", "out_channels"),
             ("conv_proj", "out_channels"))
    d.expose("stride", "stride", ("conv1", "stride"), ("conv_proj", "stride"))
    return d.definition("Basic block (projection)", "ResNet basic block whose shortcut is a 1×1 "
                        "conv-BN, for a change of channels or size.", [(channels // 2, 32, 32)])


def bottleneck(channels: int = 64, out_channels: int = 256, stride: int = 1) -> BlockDefinition:
    """ResNet's bottleneck (He et al. 2016, fig. 5; torchvision ``Bottleneck``, stride on the
    3×3 as in "ResNet v1.5"): 1×1 reduce, 3×3, 1×1 expand (usually 4× ``channels``), each
    with BN, and a 1×1 conv-BN projection on the shortcut."""
    d, x = _start("bottleneck")
    y = d.conv_bn(x, channels, 1, suffix="1")
    y = d.conv_bn(y, channels, 3, stride=stride, suffix="2")
    y = d.conv_bn(y, out_channels, 1, relu=False, suffix="3")
    p = d.conv_bn(x, out_channels, 1, stride=stride, relu=False, col=1, row=1, suffix="_proj")
    d.add("add", "add", y, p)
    d.add(BLOCK_OUTPUT, "output", d.add("relu", "relu", "add"))
    d.expose("channels", "width", ("conv1", "out_channels"), ("conv2", "out_channels"))
    d.expose("out_channels", "output channels", ("conv3", "out_channels"), ("conv_proj", "out_channels"))
    d.expose("stride", "stride", ("conv2", "stride"), ("conv_proj", "stride"))
    return d.definition("Bottleneck", "ResNet bottleneck: 1×1 reduce, 3×3, 1×1 expand, with a "
                        "projection shortcut.", [(64, 32, 32)])


def depthwise_separable(in_channels: int = 32, out_channels: int = 64, stride: int = 1) -> BlockDefinition:
    """MobileNet's depthwise-separable convolution (Howard et al. 2017, fig. 3): a 3×3
    depthwise conv (groups = channels) with BN and ReLU, then a 1×1 pointwise conv with BN
    and ReLU. ``in_channels`` must equal the channels the block receives."""
    d, x = _start("depthwise_separable")
    y = d.conv_bn(x, in_channels, 3, stride=stride, groups=in_channels, suffix="_dw")
    d.add(BLOCK_OUTPUT, "output", d.conv_bn(y, out_channels, 1, suffix="_pw"))
    d.expose("in_channels", "input channels", ("conv_dw", "out_channels"), ("conv_dw", "groups"))
    d.expose("out_channels", "output channels", ("conv_pw", "out_channels"))
    d.expose("stride", "stride", ("conv_dw", "stride"))
    return d.definition("Depthwise separable", "MobileNet unit: 3×3 depthwise conv-BN-ReLU, 1×1 "
                        "pointwise conv-BN-ReLU.", [(in_channels, 32, 32)])


def squeeze_excitation(channels: int = 64, squeeze_channels: int = 16) -> BlockDefinition:
    """Squeeze-and-excitation (Hu et al. 2018; torchvision ``ops.SqueezeExcitation``): the
    global average of each channel through a 1×1 conv bottleneck (ReLU) and a 1×1 conv
    back (sigmoid) scales the input's channels. ``channels`` must equal the input's."""
    d, x = _start("squeeze_excitation")
    y = d.add("adaptive_avgpool2d", "avgpool", x, output_size=1)
    y = d.add("conv2d", "fc1", y, out_channels=squeeze_channels, kernel_size=1)
    y = d.add("relu", "relu", y)
    y = d.add("conv2d", "fc2", y, out_channels=channels, kernel_size=1)
    y = d.add("sigmoid", "sigmoid", y)
    d.add(BLOCK_OUTPUT, "output", d.add("multiply", "scale", y, x))
    d.expose("channels", "channels", ("fc2", "out_channels"))
    d.expose("squeeze_channels", "squeeze channels", ("fc1", "out_channels"))
    return d.definition("Squeeze-and-excitation", "SE unit: channel weights from the global "
                        "average (1×1 conv, ReLU, 1×1 conv, sigmoid) multiply the input.",
                        [(channels, 32, 32)])


def inception(ch1x1: int = 64, ch3x3red: int = 96, ch3x3: int = 128, ch5x5red: int = 16,
              ch5x5: int = 32, pool_proj: int = 32) -> BlockDefinition:
    """GoogLeNet's Inception module (Szegedy et al. 2015, fig. 2b; defaults are "3a"), with
    conv-BN-ReLU units as torchvision's ``Inception`` has them: 1×1; 1×1 then 3×3; 1×1 then
    5×5 (the paper's kernel: torchvision uses 3×3 there); 3×3 max-pool then 1×1; concatenated."""
    d, x = _start("inception")
    b1 = d.conv_bn(x, ch1x1, 1, col=0, row=1, suffix="_1x1")
    b2 = d.conv_bn(x, ch3x3red, 1, col=1, row=1, suffix="_3x3_reduce")
    b2 = d.conv_bn(b2, ch3x3, 3, col=1, row=4, suffix="_3x3")
    b3 = d.conv_bn(x, ch5x5red, 1, col=2, row=1, suffix="_5x5_reduce")
    b3 = d.conv_bn(b3, ch5x5, 5, col=2, row=4, suffix="_5x5")
    b4 = d.add("maxpool2d", "pool", x, col=3, row=1, kernel_size=3, stride=1, padding=1)
    b4 = d.conv_bn(b4, pool_proj, 1, col=3, row=2, suffix="_pool_proj")
    d.row = 7
    d.add(BLOCK_OUTPUT, "output", d.add("concat", "concat", b1, b2, b3, b4))
    for name, title, node in (("ch1x1", "1×1 filters", "conv_1x1"),
                              ("ch3x3red", "3×3 reduce filters", "conv_3x3_reduce"),
                              ("ch3x3", "3×3 filters", "conv_3x3"),
                              ("ch5x5red", "5×5 reduce filters", "conv_5x5_reduce"),
                              ("ch5x5", "5×5 filters", "conv_5x5"),
                              ("pool_proj", "pool projection filters", "conv_pool_proj")):
        d.expose(name, title, (node, "out_channels"))
    return d.definition("Inception module", "GoogLeNet Inception: parallel 1×1, 3×3, 5×5 and "
                        "pooling branches, concatenated.", [(192, 28, 28)])


BUILTIN_BLOCKS: dict[str, Callable[..., BlockDefinition]] = {
    "basic_block": basic_block,
    "basic_block_projection": basic_block_projection,
    "bottleneck": bottleneck,
    "depthwise_separable": depthwise_separable,
    "squeeze_excitation": squeeze_excitation,
    "inception": inception,
}


def builtin_block(key: str, **defaults: Any) -> BlockDefinition:
    """A fresh definition of built-in ``key`` (its exposed defaults set from ``defaults``)."""
    return BUILTIN_BLOCKS[key](**defaults)
