"""The block data model: definitions, the shared library, its events and revisions."""

from __future__ import annotations

import pytest

from tests.core.block_helpers import add, conv_block, network
from visionstudio.core.blocks.specs import inner_params, node_param_specs
from visionstudio.core.graph import GraphModel, RemoveNodes, SetParam
from visionstudio.core.graph.blocks import BlockDefinition, BlockLibrary, ExposedParam, key_problem
from visionstudio.core.layers import palette_groups


def test_palette_leaves_block_kinds_out():
    keys = {k for _, ks in palette_groups() for k in ks}
    assert not keys & {"block", "block_input", "block_output"}
    assert "conv2d" in keys


def test_inner_graphs_share_the_owner_library():
    top = GraphModel()
    outer, inner = conv_block("outer"), conv_block("inner")
    top.blocks.add(inner)
    top.blocks.add(outer)
    assert outer.graph.blocks is top.blocks and inner.graph.blocks is top.blocks
    assert top.blocks.keys() == ["inner", "outer"]
    assert "inner" in top.blocks and list(top.blocks) == ["inner", "outer"]
    with pytest.raises(ValueError, match="already has a block"):
        top.blocks.add(conv_block("inner"))


def test_definitions_brought_by_a_graph_join_the_library():
    child = conv_block("child")
    holder = GraphModel()
    holder.blocks.add(child)
    add(holder, "block_input", "x_in")
    add(holder, "block", "c1", block="child")
    parent = BlockDefinition("parent", "Parent", "", holder)
    top = GraphModel()
    top.blocks.add(parent)
    assert top.blocks.get("child") is child and child.graph.blocks is top.blocks


def test_an_edit_inside_a_definition_fires_the_top_graph_changed_once_per_batch():
    top = GraphModel()
    d = conv_block()
    top.blocks.add(d)
    fired = []
    top.changed.connect(lambda: fired.append(1))
    before = top.blocks.revision(d.key)
    conv = d.graph.node_by_name("conv1").id
    SetParam(conv, "kernel_size", 5).apply(d.graph)
    assert fired == [1] and top.blocks.revision(d.key) > before
    fired.clear()
    with top.batch():
        RemoveNodes([conv]).apply(d.graph)  # inner batch: edges and node, one change
        assert fired == []
    assert fired == [1]


def test_revision_follows_dependencies():
    top = GraphModel()
    inner = conv_block("inner")
    outer = conv_block("outer")
    top.blocks.add(inner)
    top.blocks.add(outer)
    add(outer.graph, "block", "nested", block="inner")
    rev = top.blocks.revision("outer")
    SetParam(inner.graph.node_by_name("conv1").id, "kernel_size", 1).apply(inner.graph)
    assert top.blocks.revision("outer") > rev
    assert top.blocks.dependencies("outer") == ["inner"]
    assert top.blocks.would_cycle("inner", "outer") and not top.blocks.would_cycle("outer", "inner")
    assert top.blocks.would_cycle("inner", "inner") and not top.blocks.would_cycle(None, "inner")


def test_dependencies_of_a_cycle_do_not_recurse():
    top = GraphModel()
    a, b = conv_block("a"), conv_block("b")
    top.blocks.add(a)
    top.blocks.add(b)
    add(a.graph, "block", "use_b", block="b")
    add(b.graph, "block", "use_a", block="a")
    assert set(top.blocks.dependencies("a")) == {"a", "b"}
    lib = BlockLibrary()
    chain = [conv_block(f"k{i}") for i in range(1500)]
    for i, d in enumerate(chain[:-1]):
        add(d.graph, "block", "inner", block=f"k{i + 1}")
    for d in chain:
        lib.add(d)
    assert len(lib.dependencies("k0")) == 1499


def test_unique_key_and_key_problem():
    lib = BlockLibrary()
    lib.add(conv_block("basic_block"))
    assert lib.unique_key("basic_block") == "basic_block2"
    assert lib.unique_key("My block!") == "My_block"
    assert lib.unique_key("3x3") == "block_3x3"
    assert key_problem("../etc") and key_problem("class") and key_problem("") and key_problem("a" * 65)
    assert key_problem("basic_block") is None


def test_instances_users_and_param_specs():
    top = GraphModel()
    top.blocks.add(conv_block())
    ids = network(top, ["conv_block", "conv_block"], channels=16)
    assert top.blocks.instances_of(top, "conv_block") == ids
    assert top.blocks.users_of("conv_block", top) == [(None, ids[0]), (None, ids[1])]
    specs = node_param_specs(top, top.nodes[ids[0]])
    assert [s.name for s in specs] == ["channels"] and specs[0].title == "Channels"
    assert specs[0].default == 8 and specs[0].minimum == 1  # the inner value, the inner range
    conv = top.nodes[ids[0]]
    assert [s.name for s in node_param_specs(top, top.node_by_name("dense"))][0] == "units"
    d = top.blocks.get("conv_block")
    params = inner_params(d, conv.params)
    assert params[d.exposed[0].node_id]["out_channels"] == 16
    assert d.graph.nodes[d.exposed[0].node_id].params["out_channels"] == 8  # untouched


def test_exposed_param_of_a_missing_node_is_left_out():
    d = conv_block()
    d.exposed.append(ExposedParam("ghost", "nope", "out_channels"))
    d.exposed.append(ExposedParam("bad", d.exposed[0].node_id, "no_such_param"))
    assert [s.name for s in d.param_specs()] == ["channels"]


def test_copy_takes_the_library_along_and_detached():
    top = GraphModel()
    top.blocks.add(conv_block())
    network(top, ["conv_block"])
    snap = top.copy()
    assert snap.blocks is not top.blocks and snap.blocks.keys() == ["conv_block"]
    copied = snap.blocks.get("conv_block")
    assert copied.graph is not top.blocks.get("conv_block").graph and copied.graph.blocks is snap.blocks
    assert copied.to_dict() == top.blocks.get("conv_block").to_dict()
    assert top.copy(blocks=False).blocks.keys() == []


def test_input_and_output_ids():
    d = conv_block()
    second = add(d.graph, "block_input", "x_in2", index=1)
    assert d.input_ids() == [d.graph.node_by_name("x_in").id, second]
    assert d.output_id() == d.graph.node_by_name("out").id
    add(d.graph, "block_output", "out2")
    assert d.output_id() is None
