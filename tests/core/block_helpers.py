"""Small block definitions for the block tests, built through the ordinary commands."""

from __future__ import annotations

from visionstudio.core.graph import AddNode, Connect, GraphModel
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam


def add(graph: GraphModel, kind: str, name: str, **params) -> str:
    cmd = AddNode(kind, name=name, params=params)
    cmd.apply(graph)
    return cmd.node_id


def chain(graph: GraphModel, *ids: str) -> None:
    for a, b in zip(ids, ids[1:]):
        Connect(a, b).apply(graph)


def conv_block(key: str = "conv_block", channels: int = 8) -> BlockDefinition:
    """block input -> conv (3x3, padding 1, exposed as ``channels``) -> relu -> output."""
    inner = GraphModel()
    i0 = add(inner, "block_input", "x_in")
    conv = add(inner, "conv2d", "conv1", out_channels=channels, kernel_size=3, padding=1)
    relu = add(inner, "relu", "relu1")
    out = add(inner, "block_output", "out")
    chain(inner, i0, conv, relu, out)
    return BlockDefinition(key, "Conv block", "A convolution and a ReLU.", inner,
                           [ExposedParam("channels", conv, "out_channels", "Channels")])


def residual_block(key: str = "residual") -> BlockDefinition:
    """x -> conv -> bn -> add(x) -> relu: one input used twice, channels kept."""
    inner = GraphModel()
    i0 = add(inner, "block_input", "x_in")
    conv = add(inner, "conv2d", "conv1", out_channels=4, kernel_size=3, padding=1)
    bn = add(inner, "batchnorm2d", "bn1")
    plus = add(inner, "add", "add1")
    relu = add(inner, "relu", "relu1")
    out = add(inner, "block_output", "out")
    chain(inner, i0, conv, bn, plus, relu, out)
    Connect(i0, plus).apply(inner)
    return BlockDefinition(key, "Residual", "", inner, [ExposedParam("channels", conv, "out_channels")])


def network(graph: GraphModel, keys: list[str], shape=(4, 16, 16), **params) -> list[str]:
    """Input -> one instance per key -> flatten -> dense; returns the instance ids."""
    inp = add(graph, "input", "input", channels=shape[0], height=shape[1], width=shape[2])
    ids, prev = [], inp
    for i, key in enumerate(keys):
        nid = add(graph, "block", f"{key}_{i + 1}", block=key, **params)
        Connect(prev, nid).apply(graph)
        ids.append(nid)
        prev = nid
    flat = add(graph, "flatten", "flatten")
    dense = add(graph, "dense", "dense", units=3)
    chain(graph, prev, flat, dense)
    return ids
