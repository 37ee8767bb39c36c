"""Block commands: every one undoes to the exact graph (nodes, edges in order, positions,
names, library) and redoes to the same result; grouping keeps what the network computes."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.block_helpers import add, chain, conv_block, network
from visionstudio.core.blocks.commands import (
    AddDefinition,
    Detach,
    GroupIntoBlock,
    InDefinition,
    RemoveDefinition,
    SetExposed,
    Ungroup,
    add_block_instance,
)
from visionstudio.core.build import build_model
from visionstudio.core.commands import CommandError, UndoHistory
from visionstudio.core.graph import AddNode, Connect, GraphModel, MoveNodes, RemoveNodes, SetParam, analyze
from visionstudio.core.graph.blocks import ExposedParam
from visionstudio.core.project.document import ProjectDocument

from .graph_strategies import valid_graphs
from .support import torch_threads

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")


def snapshot(graph: GraphModel):
    return (
        [(n.id, n.kind, n.name, copy.deepcopy(n.params)) for n in graph.nodes.values()],
        list(graph.edges), dict(graph.positions),
        {k: graph.blocks.get(k).to_dict() for k in graph.blocks.keys()},
    )


def _roundtrip(doc: ProjectDocument, command):
    """Push, undo (exact restore), redo (same result as the first do)."""
    history = UndoHistory(doc)
    before = snapshot(doc.graph)
    history.push(command)
    after = snapshot(doc.graph)
    history.undo()
    assert snapshot(doc.graph) == before
    history.redo()
    assert snapshot(doc.graph) == after
    return history


def _residual_net() -> tuple[ProjectDocument, dict[str, str]]:
    doc = ProjectDocument()
    g = doc.graph
    ids = {name: add(g, kind, name, **params) for name, kind, params in [
        ("input", "input", {"channels": 3, "height": 8, "width": 8}),
        ("conv1", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("conv2", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("relu2", "relu", {}),
        ("add1", "add", {}),
        ("flatten", "flatten", {}),
        ("dense", "dense", {"units": 2}),
    ]}
    chain(g, *(ids[n] for n in ("input", "conv1", "conv2", "relu2", "add1", "flatten", "dense")))
    Connect(ids["conv1"], ids["add1"]).apply(g)
    for i, nid in enumerate(ids.values()):
        g._set_position(nid, (10.0 * i, 100.0 * i))
    return doc, ids


def test_group_undo_redo_and_same_network():
    doc, ids = _residual_net()
    before = analyze(doc.graph)
    cmd = GroupIntoBlock([ids["conv2"], ids["relu2"], ids["add1"]], key="res")
    _roundtrip(doc, cmd)
    g = doc.graph
    inst = g.nodes[cmd.instance_id]
    assert inst.name == "res1" and inst.params == {"block": "res"} and cmd.text == "Group 3 layers into Res"
    assert g.positions[cmd.instance_id] == pytest.approx((30.0, 300.0))
    d = g.blocks.get("res")
    assert len(d.input_ids()) == 1 and d.input_shapes == [(4, 8, 8)]
    after = analyze(g)
    assert after.ok and after.output_shape == before.output_shape
    assert after.total_params == before.total_params and after.total_flops == before.total_flops


def test_group_refuses_two_outputs_and_detours():
    doc, ids = _residual_net()
    with pytest.raises(CommandError, match="a block has one output, but the selection sends out conv1 and"):
        GroupIntoBlock([ids["conv1"], ids["conv2"]]).do(doc)
    RemoveNodes([ids["flatten"], ids["dense"]]).do(doc)  # add1 ends the network: one value leaves
    with pytest.raises(CommandError, match="relu2 lies between selected layers"):
        GroupIntoBlock([ids["conv1"], ids["add1"]]).do(doc)
    fresh, fresh_ids = _residual_net()
    alone = ProjectDocument(_isolated(fresh, fresh_ids))
    with pytest.raises(CommandError, match="a block needs an input"):
        GroupIntoBlock([fresh_ids["flatten"], fresh_ids["dense"]]).do(alone)
    with pytest.raises(CommandError, match="cannot hold input"):
        GroupIntoBlock([ids["input"], ids["conv1"]]).do(doc)
    assert not doc.graph.blocks.keys()


def _isolated(doc, ids) -> GraphModel:
    """A copy of the network with flatten's input disconnected."""
    graph = doc.graph.copy()
    graph._delete_edge(next(e for e in graph.edges if e.dst == ids["flatten"]))
    return graph


def test_ungroup_restores_the_layers_and_undoes_exactly():
    doc, ids = _residual_net()
    before = snapshot(doc.graph)
    group = GroupIntoBlock([ids["conv2"], ids["relu2"], ids["add1"]], key="res")
    history = UndoHistory(doc)
    history.push(group)
    ungroup = Ungroup(group.instance_id)
    _roundtrip(doc, ungroup)
    nodes, edges, _, library = snapshot(doc.graph)
    assert library == {}  # no other instance: the definition goes
    assert sorted(n[:3] for n in nodes) == sorted(n[:3] for n in before[0])  # same ids, kinds, names
    assert set(edges) == set(before[1])


def test_ungroup_applies_exposed_values_and_renames():
    doc = ProjectDocument()
    g = doc.graph
    g.blocks.add(conv_block())
    first, second = network(g, ["conv_block", "conv_block"], channels=6)
    stray = add(g, "relu", "conv1")  # takes the inner layer's name
    _roundtrip(doc, Ungroup(first))
    assert "conv_block" in g.blocks  # the second instance still uses it
    conv = g.node_by_name("conv_block_1_conv1")
    assert conv is not None and conv.params["out_channels"] == 6
    assert {d.node_id for d in analyze(g).errors} == {stray}  # only the unconnected stray ReLU


def test_detach_copies_the_definition():
    doc = ProjectDocument()
    doc.graph.blocks.add(conv_block())
    first, _ = network(doc.graph, ["conv_block", "conv_block"])
    cmd = Detach(first)
    _roundtrip(doc, cmd)
    assert doc.graph.nodes[first].params["block"] == "conv_block2"
    assert doc.graph.blocks.get("conv_block2").title == "Conv block (copy)"


def test_in_definition_changes_every_instance_and_refuses_cycles():
    doc = ProjectDocument()
    g = doc.graph
    d = conv_block()
    g.blocks.add(d)
    ids = network(g, ["conv_block", "conv_block"])
    conv = d.graph.node_by_name("conv1").id
    cmd = InDefinition("conv_block", SetParam(conv, "kernel_size", 1))
    history = _roundtrip(doc, cmd)
    assert cmd.text == "Set kernel size of conv1 to 1 in Conv block"
    a = analyze(g)
    assert [a.nodes[i].inner.nodes[conv].clean_params["kernel_size"] for i in ids] == [1, 1]
    assert a.nodes[ids[0]].params == 4 * 8 + 8
    history.push(InDefinition("conv_block", SetParam(conv, "kernel_size", 3)))
    assert len(history.texts()) == 1  # merged like the plain SetParam
    with pytest.raises(CommandError, match="cannot contain itself"):
        InDefinition("conv_block", AddNode("block", params={"block": "conv_block"})).do(doc)
    g.blocks.add(conv_block("outer"))
    AddNode("block", params={"block": "conv_block"}).apply(g.blocks.get("outer").graph)
    with pytest.raises(CommandError, match="cannot contain itself"):
        InDefinition("conv_block", AddNode("block", params={"block": "outer"})).do(doc)
    assert len(d.graph.nodes) == 4
    nested = InDefinition("outer", InDefinition("conv_block", MoveNodes({conv: (5.0, 5.0)})))
    _roundtrip(doc, nested)
    assert d.graph.positions[conv] == (5.0, 5.0)


def test_set_exposed_renames_keeps_drops_and_undo_restores():
    doc = ProjectDocument()
    g = doc.graph
    d = conv_block()
    g.blocks.add(d)
    first, second = network(g, ["conv_block", "conv_block"], channels=6)
    conv = d.exposed[0].node_id
    renamed = SetExposed("conv_block", [ExposedParam("width", conv, "out_channels"),
                                        ExposedParam("k", conv, "kernel_size")])
    _roundtrip(doc, renamed)
    assert g.nodes[first].params == {"block": "conv_block", "width": 6}
    _roundtrip(doc, SetParam(second, "k", 1))  # unset before: undo leaves it unset, not None
    _roundtrip(doc, SetExposed("conv_block", []))
    assert g.nodes[second].params == {"block": "conv_block"}
    for bad, message in [([ExposedParam("block", conv, "stride")], "already has a parameter"),
                         ([ExposedParam("x", "nope", "stride")], "not in block"),
                         ([ExposedParam("x", conv, "nope")], "no parameter 'nope'"),
                         ([ExposedParam("1x", conv, "stride")], "not a valid name")]:
        with pytest.raises(CommandError, match=message):
            SetExposed("conv_block", bad).do(doc)


def test_add_and_remove_definition():
    doc = ProjectDocument()
    _roundtrip(doc, AddDefinition(conv_block()))
    with pytest.raises(CommandError, match="already has a block"):
        AddDefinition(conv_block()).do(doc)
    selfish = conv_block("selfish")
    add(selfish.graph, "block", "me", block="selfish")
    with pytest.raises(CommandError, match="contains itself"):
        AddDefinition(selfish).do(doc)
    assert "selfish" not in doc.graph.blocks
    ids = network(doc.graph, ["conv_block"])
    with pytest.raises(CommandError, match="still used by conv_block_1"):
        RemoveDefinition("conv_block").do(doc)
    doc.graph._delete_edges_of(set(ids))
    doc.graph._delete_nodes(ids)
    _roundtrip(doc, RemoveDefinition("conv_block"))
    assert "conv_block" not in doc.graph.blocks


def test_add_block_instance_brings_dependencies_and_renames_taken_keys():
    home = GraphModel()
    home.blocks.add(conv_block("inner"))
    outer = conv_block("outer")
    home.blocks.add(outer)
    add(outer.graph, "block", "nested", block="inner")
    doc = ProjectDocument()
    doc.graph.blocks.add(conv_block("inner", channels=3))  # same key, different definition
    cmd = add_block_instance(doc, outer, (1.0, 2.0))
    _roundtrip(doc, cmd)
    lib = doc.graph.blocks
    assert sorted(lib.keys()) == ["inner", "inner2", "outer"]
    assert lib.get("outer").graph.node_by_name("nested").params["block"] == "inner2"
    assert home.blocks.get("outer").graph.blocks is home.blocks  # copies, not moved
    again = add_block_instance(doc, lib.get("outer"), (0.0, 0.0))
    again.apply(doc.graph)
    assert sorted(lib.keys()) == ["inner", "inner2", "outer"]


@pytest.fixture(scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
@given(valid_graphs(max_blocks=4), st.data())
def test_grouping_a_random_selection_keeps_shapes_params_and_outputs(_one_thread, drawn, data):
    graph, _ = drawn
    order = analyze(graph).order
    layers = [n for n in order if graph.nodes[n].kind != "input"]
    i = data.draw(st.integers(0, len(layers) - 1))
    j = data.draw(st.integers(i + 1, min(len(layers), i + 5)))
    before = analyze(graph)
    doc = ProjectDocument(graph)
    plain = build_model(graph, seed=0)
    snap = snapshot(graph)
    cmd = GroupIntoBlock(layers[i:j])
    try:
        cmd.do(doc)
    except CommandError:
        cmd = GroupIntoBlock([layers[j - 1]])  # one layer can always be grouped
        cmd.do(doc)
    after = analyze(graph)
    assert after.ok, after.diagnostics
    assert after.output_shape == before.output_shape and after.total_params == before.total_params
    assert after.total_flops == before.total_flops
    grouped = build_model(graph, seed=0)
    prefix = graph.nodes[cmd.instance_id].name + "."
    weights = plain.state_dict()
    grouped.load_state_dict({k: weights[k.removeprefix(prefix)] for k in grouped.state_dict()})
    plain.eval()
    grouped.eval()
    x = torch.randn(2, *before.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(plain(x), grouped(x))
    cmd.undo(doc)
    assert snapshot(graph) == snap
