"""Blocks built into torch modules: keys follow the structure, and the oracle holds
through nested blocks (shapes, parameters and FLOPs equal to the real modules); the
summary and the memory estimate count what is inside instances."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from tests.core.block_helpers import add, chain, conv_block, network, residual_block
from visionstudio.core.blocks.commands import GroupIntoBlock
from visionstudio.core.build import BlockModule, build_model
from visionstudio.core.commands import CommandError
from visionstudio.core.graph import GraphModel, analyze
from visionstudio.core.memory import activation_elements
from visionstudio.core.summary import summarize

from .graph_strategies import valid_graphs
from .support import torch_threads

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


def _nested() -> tuple[GraphModel, list[str]]:
    top = GraphModel()
    top.blocks.add(residual_block("res"))
    stage = conv_block("stage")
    top.blocks.add(stage)
    g = stage.graph
    relu, out = g.node_by_name("relu1").id, g.node_by_name("out").id
    g._delete_edges_of({out})
    first = add(g, "block", "block1", block="res", channels=4)
    chain(g, relu, first, out)
    stage.exposed[0] = type(stage.exposed[0])("channels", g.node_by_name("conv1").id, "out_channels")
    ids = network(top, ["stage"], shape=(3, 8, 8), channels=4)
    return top, ids


def test_state_dict_keys_and_module_names_follow_the_blocks():
    top, ids = _nested()
    model = build_model(top, seed=0)
    keys = list(model.state_dict())
    assert "stage_1.conv1.weight" in keys and "stage_1.block1.conv1.weight" in keys
    assert "stage_1.block1.bn1.running_mean" in keys
    names = dict(model.named_modules())
    assert isinstance(names["stage_1"], BlockModule) and names["stage_1"].block_key == "stage"
    assert "stage_1.block1.conv1" in names
    a = analyze(top)
    assert sum(p.numel() for p in model.parameters()) == a.total_params
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def test_two_input_block_builds_in_port_order():
    inner = GraphModel()
    a = add(inner, "block_input", "a")
    b = add(inner, "block_input", "b", index=1)
    cat = add(inner, "concat", "cat")
    out = add(inner, "block_output", "out")
    chain(inner, a, cat)
    chain(inner, b, cat, out)
    from visionstudio.core.graph.blocks import BlockDefinition

    top = GraphModel()
    top.blocks.add(BlockDefinition("pair", "Pair", "", inner))
    inp = add(top, "input", "input", channels=2, height=4, width=4)
    c1 = add(top, "conv2d", "c1", out_channels=3, kernel_size=1)
    pair = add(top, "block", "pair1", block="pair")
    flat = add(top, "flatten", "flat")
    chain(top, inp, c1, pair)
    chain(top, inp, pair, flat)  # port 1: the raw input
    analysis = analyze(top)
    assert analysis.ok and analysis.nodes[pair].output_shape == (5, 4, 4)
    model = build_model(top, analysis, seed=0)
    x = torch.randn(1, 2, 4, 4)
    expected = torch.cat([model.c1(x), x], dim=1).flatten(1)
    assert torch.equal(model(x), expected)


def test_summary_and_memory_count_inside_instances():
    top, ids = _nested()
    s = summarize(top)
    row = next(r for r in s.rows if r.id == ids[0])
    assert row.title == "Conv block" and row.details == "channels 4"
    assert row.params == analyze(top).nodes[ids[0]].params > 0
    # the ungrouped twin: same layers, no blocks
    flat = GraphModel()
    inp = add(flat, "input", "input", channels=3, height=8, width=8)
    c = add(flat, "conv2d", "conv1", out_channels=4, kernel_size=3, padding=1)
    r = add(flat, "relu", "relu1")
    c2 = add(flat, "conv2d", "conv2", out_channels=4, kernel_size=3, padding=1)
    bn = add(flat, "batchnorm2d", "bn1")
    plus = add(flat, "add", "add1")
    r2 = add(flat, "relu", "relu2")
    chain(flat, inp, c, r, c2, bn, plus, r2, add(flat, "flatten", "f"), add(flat, "dense", "d", units=3))
    chain(flat, r, plus)
    assert activation_elements(analyze(flat)) == activation_elements(analyze(top))
    assert analyze(flat).total_params == analyze(top).total_params


def _real(model, graph, x):
    """(shape per dotted module name, total FLOPs) of one run."""
    shapes = {}

    def hook(name):
        return lambda mod, args, out: shapes.__setitem__(name, tuple(out.shape[1:]))

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if name]
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    for h in handles:
        h.remove()
    return shapes, counter.get_total_flops()


def _expected(graph, analysis, prefix=""):
    """Dotted module name -> inferred shape, through instances."""
    from visionstudio.core.build import attribute_names

    attrs = attribute_names(graph)
    out = {}
    for nid, info in analysis.nodes.items():
        name = prefix + attrs[nid]
        if info.inner is not None:
            definition = graph.blocks.get(info.clean_params["block"])
            out[name] = info.output_shape
            out.update(_expected(definition.graph, info.inner, name + "."))
        elif info.output_shape is not None:
            out[name] = info.output_shape
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
@given(valid_graphs(max_blocks=5), st.data())
def test_oracle_through_nested_blocks(drawn, data):
    graph, _ = drawn
    for _ in range(2):  # group twice: the second selection may swallow the first block
        layers = [n for n in analyze(graph).order if graph.nodes[n].kind != "input"]
        i = data.draw(st.integers(0, len(layers) - 1))
        j = data.draw(st.integers(i + 1, min(len(layers), i + 6)))
        try:
            GroupIntoBlock(layers[i:j]).apply(graph)
        except CommandError:
            GroupIntoBlock([layers[j - 1]]).apply(graph)
    analysis = analyze(graph)
    assert analysis.ok, analysis.diagnostics
    model = build_model(graph, analysis, seed=0)
    shapes, flops = _real(model, graph, torch.randn(1, *analysis.input_shape))
    expected = _expected(graph, analysis)
    for name, shape in shapes.items():
        if name in expected:
            assert shape == expected[name], name
    modules = dict(model.named_modules())
    for nid, info in analysis.nodes.items():
        if info.inner is not None:
            attr = next(a for a, n in model.node_names.items() if n == graph.nodes[nid].name)
            assert sum(p.numel() for p in modules[attr].parameters()) == info.params
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert flops == analysis.total_flops
