"""Shape inference through blocks and nested blocks; problems inside, on the instance."""

from __future__ import annotations

from tests.core.block_helpers import add, chain, conv_block, network, residual_block
from visionstudio.core.blocks.analysis import analyze_definition
from visionstudio.core.graph import Connect, GraphModel, SetParam, analyze


def _top(*defs):
    top = GraphModel()
    for d in defs:
        top.blocks.add(d)
    return top


def test_instances_take_their_shape_params_and_flops_from_the_definition():
    top = _top(conv_block())
    ids = network(top, ["conv_block", "conv_block"], channels=6)
    a = analyze(top)
    assert a.ok, a.diagnostics
    first, second = (a.nodes[i] for i in ids)
    assert first.output_shape == (6, 16, 16) and second.output_shape == (6, 16, 16)
    assert first.params == 4 * 6 * 9 + 6 and second.params == 6 * 6 * 9 + 6
    conv = top.blocks.get("conv_block").graph.node_by_name("conv1").id
    assert first.inner.nodes[conv].input_shapes == [(4, 16, 16)]
    assert first.flops == first.inner.total_flops > 0
    assert a.total_params == first.params + second.params + a.nodes[top.node_by_name("dense").id].params


def test_nested_blocks_and_exposed_params_of_a_nested_instance():
    top = _top(conv_block("inner"))
    outer = conv_block("outer")
    top.blocks.add(outer)
    g = outer.graph
    relu = g.node_by_name("relu1").id
    out = g.node_by_name("out").id
    nested = add(g, "block", "nested", block="inner", channels=5)
    from visionstudio.core.graph import Disconnect, Edge
    Disconnect(Edge(relu, out)).apply(g)
    chain(g, relu, nested, out)
    outer.exposed.append(type(outer.exposed[0])("inner_channels", nested, "channels"))
    assert [s.name for s in outer.param_specs()] == ["channels", "inner_channels"]
    ids = network(top, ["outer"], inner_channels=7)
    a = analyze(top)
    assert a.ok, a.diagnostics
    info = a.nodes[ids[0]]
    assert info.output_shape == (7, 16, 16)
    assert info.inner.nodes[nested].output_shape == (7, 16, 16)
    assert info.inner.nodes[nested].inner is not None


def test_a_problem_inside_shows_on_the_instance_and_on_the_inner_node():
    top = _top(conv_block())
    ids = network(top, ["conv_block"], shape=(4, 1, 1))
    d = top.blocks.get("conv_block")
    conv = d.graph.node_by_name("conv1").id
    SetParam(conv, "padding", 0).apply(d.graph)
    a = analyze(top)
    inst = a.nodes[ids[0]]
    assert not inst.ok and inst.output_shape is None
    msg = inst.diagnostics[0].message
    assert msg.startswith("conv_block_1: inside conv_block, conv1: ") and inst.diagnostics[0].hint
    assert not inst.inner.nodes[conv].ok


def test_unknown_definition_wrong_input_count_and_cycles_are_diagnostics():
    top = _top(conv_block("a"), conv_block("b"))
    ids = network(top, ["a"])
    top.nodes[ids[0]].params["block"] = "missing"
    a = analyze(top)
    assert "the project has no block 'missing'" in a.nodes[ids[0]].diagnostics[0].message
    top.nodes[ids[0]].params["block"] = "a"
    add(top.blocks.get("a").graph, "block_input", "x_in2", index=1)
    a = analyze(top)
    assert "block a takes 2 inputs but 1 is connected" in a.nodes[ids[0]].diagnostics[0].message
    top2 = _top(conv_block("a"), conv_block("b"))
    add(top2.blocks.get("a").graph, "block", "use_b", block="b")
    add(top2.blocks.get("b").graph, "block", "use_a", block="a")
    inst = network(top2, ["a"])[0]
    a = analyze(top2)
    assert "block a contains itself (a → b → a)" in a.nodes[inst].diagnostics[0].message
    assert not analyze_definition(top2.blocks, "b", [(4, 8, 8)]).ok  # no recursion either


def test_output_checks_inside_a_definition():
    d = conv_block()
    top = _top(d)
    out = d.graph.node_by_name("out").id
    from visionstudio.core.graph import RemoveNodes
    RemoveNodes([out]).apply(d.graph)
    a = analyze_definition(top.blocks, d.key, [(4, 8, 8)])
    assert any("no Block output" in x.message for x in a.diagnostics)
    assert any("does not lead to the block output" in x.message for x in a.diagnostics)
    d2 = conv_block("two")
    top.blocks.add(d2)
    extra = add(d2.graph, "block_output", "out2")
    Connect(d2.graph.node_by_name("x_in").id, extra).apply(d2.graph)
    a = analyze_definition(top.blocks, "two", [(4, 8, 8)])
    assert any("one of several block outputs" in x.message for x in a.diagnostics)


def test_port_kinds_on_the_wrong_side_and_port_numbers():
    top = GraphModel()
    network(top, [])
    add(top, "block_input", "stray")
    a = analyze(top)
    assert any("only works inside a block" in x.message for x in a.diagnostics)
    d = conv_block()
    top.blocks.add(d)
    add(d.graph, "input", "image")
    d.graph.node_by_name("x_in").params["index"] = 2
    top.blocks.touch(d.key)
    a = analyze_definition(top.blocks, d.key, [(4, 8, 8)])
    messages = " ".join(x.message for x in a.diagnostics)
    assert "a block cannot hold an Input" in messages and "numbered [2], not 0 to 0" in messages


def test_definition_alone_without_shapes_is_unknown_but_not_wrong():
    top = _top(residual_block())
    a = analyze_definition(top.blocks, "residual")
    assert a.ok and a.output_shape is None
    top.blocks.get("residual").input_shapes = [(4, 8, 8)]
    top.blocks.touch("residual")
    a = analyze_definition(top.blocks, "residual")
    assert a.ok and a.output_shape == (4, 8, 8)
    wrong = analyze_definition(top.blocks, "residual", [(3, 8, 8)])  # add(4 channels, 3 channels)
    assert not wrong.ok


def test_memo_serves_unchanged_definitions_and_never_a_stale_one():
    top = _top(conv_block())
    ids = network(top, ["conv_block"] * 3)
    first = analyze(top)
    second = analyze(top)
    assert second.nodes[ids[0]].inner is first.nodes[ids[0]].inner  # memo hit
    d = top.blocks.get("conv_block")
    with top.batch():  # even before the batch announces anything
        SetParam(d.graph.node_by_name("conv1").id, "kernel_size", 1).apply(d.graph)
        SetParam(d.graph.node_by_name("conv1").id, "padding", 0).apply(d.graph)
        third = analyze(top)
    assert third.nodes[ids[0]].inner is not first.nodes[ids[0]].inner
    assert third.nodes[ids[0]].params == 4 * 8 + 8


def test_one_exposed_name_can_set_several_inner_params():
    d = residual_block()
    g = d.graph
    conv2 = add(g, "conv2d", "conv2", out_channels=4, kernel_size=1)
    relu = g.node_by_name("relu1").id
    out = g.node_by_name("out").id
    g._delete_edges_of({out})
    chain(g, relu, conv2, out)
    d.exposed.append(type(d.exposed[0])("channels", conv2, "out_channels"))
    assert [s.name for s in d.param_specs()] == ["channels"]
    top = _top(d)
    inst = network(top, ["residual"], channels=4)[0]
    SetParam(inst, "channels", 6).apply(top)
    a = analyze(top)
    assert not a.ok  # the add now joins 6 and 4 channels: the first conv changed too
    SetParam(inst, "channels", 4).apply(top)
    a = analyze(top)
    assert a.ok and a.nodes[inst].inner.nodes[conv2].output_shape == (4, 16, 16)


def test_a_deep_chain_built_in_memory_is_a_diagnostic_not_a_recursion():
    top = GraphModel()
    chain_defs = [conv_block(f"k{i}") for i in range(200)]
    for i, d in enumerate(chain_defs[:-1]):
        g = d.graph
        relu, out = g.node_by_name("relu1").id, g.node_by_name("out").id
        g._delete_edges_of({out})
        chain(g, relu, add(g, "block", "deeper", block=f"k{i + 1}"), out)
    for d in reversed(chain_defs):
        top.blocks.add(d)
    inst = network(top, ["k0"])[0]
    a = analyze(top)
    assert "block k0 nests blocks 200 deep; at most 32" in a.nodes[inst].diagnostics[0].message
    ok = network(GraphModel(), [])  # unrelated graphs are unaffected
    assert ok == []
