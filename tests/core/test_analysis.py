"""Validation and shape inference: the diagnostics a user reads, with the node's name."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from visionstudio.core.build import BuildError, build_model
from visionstudio.core.graph import Connect, Edge, GraphModel, Node, analyze

from .graph_strategies import GraphBuilder, invalid_graphs


def messages(analysis, name: str | None = None) -> list[str]:
    """All diagnostic texts; with ``name``, those on that node."""
    if name is None:
        texts = [str(d) for d in analysis.diagnostics]
        for info in analysis.nodes.values():
            texts += [str(d) for d in info.diagnostics if str(d) not in texts]
        return texts
    return [str(d) for info in analysis.nodes.values() for d in info.diagnostics
            if d.message.startswith(f"{name}: ")]


def classic(channels=1, size=28) -> GraphBuilder:
    b = GraphBuilder()
    x = b.add("input", channels=channels, height=size, width=size)
    x = b.add("conv2d", x, out_channels=32, kernel_size=3)
    x = b.add("relu", x)
    x = b.add("maxpool2d", x)
    x = b.add("flatten", x)
    b.add("dense", x, units=10)
    return b


def test_valid_network_totals():
    b = classic()
    a = analyze(b.graph)
    assert a.ok and a.diagnostics == [] and a.errors == []
    assert a.input_shape == (1, 28, 28) and a.output_shape == (10,)
    assert a.nodes[b.id("conv1")].output_shape == (32, 26, 26)
    assert a.nodes[b.id("pool1")].output_shape == (32, 13, 13)
    assert a.nodes[b.id("flatten1")].output_shape == (5408,)
    assert a.nodes[b.id("conv1")].params == 320
    assert a.nodes[b.id("dense1")].params == 54090
    assert a.total_params == 54410
    assert a.nodes[b.id("conv1")].flops == 2 * 32 * 26 * 26 * 9
    assert a.total_flops == 2 * 32 * 26 * 26 * 9 + 2 * 5408 * 10
    assert [b.name(n) for n in a.order] == ["input1", "conv1", "relu1", "pool1", "flatten1", "dense1"]
    assert a.nodes[b.id("dense1")].input_shapes == [(5408,)]


def test_analysis_does_not_touch_the_graph():
    b = classic()
    before = (b.graph.to_dict(), b.graph.layout_dict())
    analyze(b.graph)
    assert (b.graph.to_dict(), b.graph.layout_dict()) == before


def test_kernel_larger_than_input():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=3, width=3)
    conv = b.add("conv2d", x, out_channels=4, kernel_size=5)
    relu = b.add("relu", conv)
    a = analyze(b.graph)
    assert not a.ok
    assert messages(a, "conv1") == ["conv1: kernel 5×5 is larger than its 3×3 input"]
    assert a.nodes[conv].output_shape is None
    # downstream nodes get no shape and no second, confusing message
    assert a.nodes[relu].output_shape is None and a.nodes[relu].diagnostics == []
    assert a.nodes[conv].diagnostics[0].node_id == conv


def test_spatial_size_shrinking_to_nothing():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    for _ in range(3):
        x = b.add("maxpool2d", x)
    a = analyze(b.graph)
    assert a.nodes[b.id("pool2")].output_shape == (1, 1, 1)
    assert messages(a, "pool3") == ["pool3: window 2×2 is larger than its 1×1 input"]


def test_strided_conv_on_a_single_pixel():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=1, width=8)
    b.add("conv2d", x, kernel_size=3, padding=0)
    a = analyze(b.graph)
    assert messages(a, "conv1") == ["conv1: kernel 3×3 is larger than its 1×8 input"]


def test_channel_mismatch_at_add():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=8, width=8)
    a1 = b.add("conv2d", x, out_channels=8, padding="same")
    a2 = b.add("conv2d", x, out_channels=16, padding="same")
    b.add("add", a1, a2)
    a = analyze(b.graph)
    assert messages(a, "add1") == [
        "add1: inputs have different shapes 8×8×8 and 16×8×8; "
        "match the channels with a 1×1 Conv2d on one branch"]


def test_size_mismatch_at_concat():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=8, width=8)
    a1 = b.add("conv2d", x, out_channels=4, padding=1)
    a2 = b.add("maxpool2d", x)
    b.add("concat", a1, a2)
    a = analyze(b.graph)
    assert messages(a, "concat1") == [
        "concat1: inputs must have the same height and width to join along channels; "
        "got 4×8×8 and 3×4×4"]


def test_dense_fed_a_feature_map_suggests_flatten():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=4, width=4)
    x = b.add("conv2d", x, out_channels=8, padding="same")
    b.add("dense", x, units=10)
    a = analyze(b.graph)
    assert messages(a, "dense1") == [
        "dense1: receives a 8×4×4 feature map (a 4-D tensor with the batch) but needs a vector; "
        "add a Flatten (or GlobalAvgPool) before it"]


def test_conv_after_flatten():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    x = b.add("flatten", x)
    b.add("conv2d", x)
    a = analyze(b.graph)
    assert messages(a, "conv1") == [
        "conv1: needs an image-like input (channels×height×width) but receives a 16 vector; "
        "move it before the Flatten"]


def test_cycle_names_its_members_only():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    r1 = b.add("relu", x)
    r2 = b.add("relu", r1)
    r3 = b.add("relu", r2)
    b.add("add", r1)  # behind nothing: just unconnected
    # Connect refuses cycles; a hand-edited file can still contain one.
    b.graph._insert_edge(Edge(r2, b.id("add1"), 1))
    b.graph._insert_edge(Edge(b.id("add1"), r1, 1))
    a = analyze(b.graph)
    cycle = "is part of a cycle (add1, relu1, relu2); a network must flow one way"
    assert messages(a, "relu1") == [f"relu1: {cycle}"]
    assert messages(a, "relu2") == [f"relu2: {cycle}"]
    assert messages(a, "add1") == [f"add1: {cycle}"]
    assert messages(a, "relu3") == []  # behind the cycle, not on it
    assert a.nodes[r3].output_shape is None
    with pytest.raises(BuildError):
        build_model(b.graph, a)


def test_unconnected_inputs():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    r1 = b.add("relu", x)
    b.add("relu")
    b.add("add", r1)
    b.add("concat")
    a = analyze(b.graph, single_output=False)
    assert messages(a, "relu2") == ["relu2: its input is not connected"]
    assert messages(a, "add1") == ["add1: needs at least 2 inputs (has 1)"]
    assert messages(a, "concat1") == ["concat1: needs at least 2 inputs (none connected)"]


def test_input_not_connected():
    b = GraphBuilder()
    b.add("input")
    b.add("relu")
    a = analyze(b.graph)
    assert messages(a, "input1") == ["input1: is not connected to any layer"]


def test_no_input():
    b = GraphBuilder()
    r = b.add("relu")
    b.add("relu", r)
    a = analyze(b.graph)
    assert "the network has no Input layer; add one from the palette" in messages(a)
    assert a.input_id is None and a.input_shape is None


def test_only_an_input():
    b = GraphBuilder()
    b.add("input")
    a = analyze(b.graph)
    assert messages(a) == ["the network has only an Input; add layers after it"]


def test_empty_graph():
    a = analyze(GraphModel())
    assert messages(a) == ["the network has no Input layer; add one from the palette"]


def test_two_inputs():
    b = GraphBuilder()
    x = b.add("input")
    y = b.add("input")
    b.add("add", x, y)
    a = analyze(b.graph)
    assert messages(a, "input1") == ["input1: only one Input is supported (found input1, input2)"]
    assert messages(a, "input2") == ["input2: only one Input is supported (found input1, input2)"]


def test_several_outputs():
    b = GraphBuilder()
    x = b.add("input")
    b.add("relu", x)
    b.add("tanh", x)
    a = analyze(b.graph)
    assert ("the network has several outputs (relu1, tanh1); connect all but one onward or "
            "delete them") in messages(a)
    assert messages(a, "relu1") == ["relu1: one of several outputs (relu1, tanh1)"]
    assert a.output_id is None and not a.ok
    a = analyze(b.graph, single_output=False)
    assert a.ok and a.output_id is None


@pytest.mark.parametrize("params, expected", [
    ({"out_channels": 0}, ["conv1: filters must be at least 1 (got 0)"]),
    ({"stride": -1}, ["conv1: stride must be at least 1 (got -1)"]),
    ({"out_channels": 0, "stride": [1, -2], "padding": "full"}, [
        "conv1: filters must be at least 1 (got 0)",
        "conv1: stride must be at least 1 (got -2)",
        "conv1: padding must be a number, a pair or one of same, valid (got 'full')"]),
    ({"kernel_size": True}, ["conv1: kernel size must be a whole number (got True)"]),
    ({"activation": "swish"}, [
        "conv1: activation must be one of none, relu, leaky_relu, elu, gelu, sigmoid, tanh, "
        "softmax (got 'swish')"]),
    ({"typo": 3}, ["conv1: unknown parameter 'typo'"]),
])
def test_invalid_parameter_values(params, expected):
    b = GraphBuilder()
    x = b.add("input", channels=1, height=8, width=8)
    conv = b.add("conv2d", x)
    b.add("relu", conv)
    b.graph.nodes[conv].params.update(params)  # as loaded from a hand-edited file
    a = analyze(b.graph)
    assert messages(a, "conv1") == expected
    assert a.nodes[conv].output_shape is None
    assert messages(a, "relu1") == []


def test_input_with_zero_channels():
    b = GraphBuilder()
    x = b.add("input", channels=0)
    b.add("relu", x)
    a = analyze(b.graph)
    assert messages(a, "input1") == ["input1: channels must be at least 1 (got 0)"]


def test_dropout_rate_out_of_range():
    b = GraphBuilder()
    x = b.add("input")
    b.add("dropout", x, p=1.5)
    assert messages(analyze(b.graph), "dropout1") == ["dropout1: rate must be at most 0.99 (got 1.5)"]


def test_duplicate_names_and_unknown_kinds():
    b = GraphBuilder()
    x = b.add("input")
    r = b.add("relu", x)
    b.add("relu", r, name="relu2")
    b.graph.nodes[b.id("relu2")].name = "relu1"
    b.graph._insert_node(Node("zz", "frobnicate", "mystery"))
    two = b.add("relu", x)
    b.graph._insert_edge(Edge(r, two, 1))
    a = analyze(b.graph)
    assert "relu1: another layer has the same name; rename one of them" in messages(a)
    assert messages(a, "mystery") == ["mystery: unknown layer kind 'frobnicate'"]


def test_too_many_inputs_and_dangling_edges():
    b = GraphBuilder()
    x = b.add("input")
    y = b.add("relu", x)
    r = b.add("relu", x)
    b.graph._insert_edge(Edge(y, r, 1))
    b.graph._insert_edge(Edge("gone", r, 2))
    a = analyze(b.graph)
    assert messages(a, "relu2") == ["relu2: takes 1 input but has 2"]
    assert "a connection points to a layer that does not exist" in messages(a)


def test_weighted_sum_weights_must_match_inputs():
    b = GraphBuilder()
    x = b.add("input")
    r = b.add("relu", x)
    b.add("weighted_sum", x, r, weights=[1.0, 2.0, 3.0])
    assert messages(analyze(b.graph), "wsum1") == [
        "wsum1: has 2 inputs but 3 weights; give one weight per input"]


def test_merge_inputs_follow_port_order():
    b = GraphBuilder()
    x = b.add("input", channels=2, height=4, width=4)
    wide = b.add("conv2d", x, out_channels=5, padding=1)
    cat = b.add("concat")
    Connect(wide, cat, 1).apply(b.graph)
    Connect(x, cat, 0).apply(b.graph)
    a = analyze(b.graph)
    assert a.ok
    assert a.nodes[cat].input_shapes == [(2, 4, 4), (5, 4, 4)]
    assert a.nodes[cat].output_shape == (7, 4, 4)


def test_repeated_analysis_sees_in_place_edits_and_owns_its_values():
    """analyze() remembers validated parameters between passes; that must never leak."""
    b = GraphBuilder()
    x = b.add("input", channels=2, height=4, width=4)
    r = b.add("relu", x)
    w = b.add("weighted_sum", x, r, weights=[1.0, 2.0])
    first = analyze(b.graph)
    first.nodes[w].clean_params["weights"].append(99.0)
    second = analyze(b.graph)
    assert second.nodes[w].clean_params["weights"] == [1.0, 2.0] and second.ok
    b.graph.nodes[w].params["weights"] = [1.0, "x"]
    assert messages(analyze(b.graph), "wsum1") == ["wsum1: weights must be a number (got 'x')"]
    b.graph.nodes[w].params["weights"] = [1.0, 10 ** 5000]  # too long to print
    assert messages(analyze(b.graph), "wsum1") == [
        "wsum1: weights must be a finite number (got a huge number)"]
    b.graph.nodes[w].params["weights"] = [1.0, 2.0]
    assert analyze(b.graph).ok


# -- every problem comes with what to do about it ------------------------------------------
def _broken_graphs():
    """One graph per kind of problem the analysis reports (name: graph)."""
    graphs = {}

    def fresh(name):
        graphs[name] = GraphBuilder()
        return graphs[name]

    b = fresh("dense after conv")
    x = b.add("input", channels=1, height=28, width=28)
    b.add("dense", b.add("conv2d", x), units=10)
    b = fresh("add mismatch")
    x = b.add("input", channels=3, height=15, width=15)
    a = b.add("conv2d", x, out_channels=32, kernel_size=3)
    c = b.add("conv2d", x, out_channels=64, kernel_size=5)
    b.add("add", a, c)
    b = fresh("concat sizes")
    x = b.add("input", channels=3, height=15, width=15)
    b.add("concat", b.add("conv2d", x, kernel_size=3), b.add("conv2d", x, kernel_size=5))
    b = fresh("concat ranks")
    x = b.add("input", channels=3, height=8, width=8)
    b.add("concat", x, b.add("flatten", x))
    b = fresh("weights")
    x = b.add("input", channels=3, height=8, width=8)
    b.add("weighted_sum", x, b.add("relu", x), weights=[1.0, 2.0, 3.0])
    b = fresh("conv on vector")
    x = b.add("input")
    for kind in ("conv2d", "maxpool2d", "batchnorm2d", "global_avgpool"):
        b.add(kind, b.add("flatten", x))
    b = fresh("kernels and windows")
    x = b.add("input", channels=4, height=3, width=3)
    b.add("conv2d", x, kernel_size=5)
    b.add("conv2d", x, stride=2, padding="same")
    b.add("conv2d", x, groups=3)
    b.add("conv2d", x, out_channels=5, groups=2)
    b.add("maxpool2d", x, kernel_size=5)
    b.add("maxpool2d", x, kernel_size=2, padding=2)
    b.add("relu", x)
    b = fresh("graph structure")
    x = b.add("input")
    b.add("input")
    b.add("relu")
    b.add("add", x)
    r = b.add("relu", x, name="same")
    b.add("relu", r, name="twin")
    b.graph.nodes[b.id("twin")].name = "same"
    b.add("dense", x, units=0)
    b.graph._insert_node(Node("zz", "frobnicate", "mystery"))
    two = b.add("relu", x)
    b.graph._insert_edge(Edge(r, two, 1))
    b = fresh("cycle")
    x = b.add("input")
    r1 = b.add("relu", x)
    r2 = b.add("relu", r1)
    b.graph._insert_edge(Edge(r2, r1, 1))
    b = fresh("no input")
    b.add("relu")
    b = fresh("only input")
    b.add("input")
    b = fresh("dangling")
    x = b.add("input")
    b.add("relu", x)
    b.graph._insert_edge(Edge("gone", x, 0))
    return graphs


def _all_diagnostics(analysis):
    seen = list(analysis.diagnostics)
    for info in analysis.nodes.values():
        seen += [d for d in info.diagnostics if d not in seen]
    return seen


KINDS = ["receives a", "inputs have different shapes", "same height and width", "feature maps and vectors",
         "weights; give one", "needs an image-like input", "several outputs", "one of several outputs",
         "is larger than its", "only works with stride 1", "input channels cannot be split",
         "output channels cannot be split", "window 5×5 is larger", "at most half", "same name",
         "must be at least", "unknown layer kind", "only one Input", "input is not connected",
         "needs at least 2 inputs", "not connected to any layer", "part of a cycle", "no Input layer",
         "only an Input", "points to a layer that does not exist", "takes 1 input but has 2"]


def test_every_kind_of_problem_has_a_hint():
    found = []
    for name, b in _broken_graphs().items():
        for d in _all_diagnostics(analyze(b.graph)):
            assert d.hint.strip(), f"{name}: {d.message!r} has no hint"
            assert d.hint not in d.message
            found.append(d.message)
    assert [k for k in KINDS if not any(k in m for m in found)] == []  # every kind reached


def test_merge_hint_names_the_branch_and_the_fix():
    b = _broken_graphs()["add mismatch"]
    (d,) = analyze(b.graph).nodes[b.id("add1")].diagnostics
    assert d.message.startswith("add1: inputs have different shapes 32×13×13 and 64×11×11")
    assert d.hint == ("make every branch end with the same channels and size: insert a 1×1 Conv2d "
                      "with 32 filters on the 64-channel branch (after conv2); match the padding: the "
                      "sizes differ (13×13 and 11×11); padding 'same' on conv1 or conv2 keeps its "
                      "input's size")


def test_dense_hint_offers_flatten_or_pooling():
    b = _broken_graphs()["dense after conv"]
    (d,) = analyze(b.graph).nodes[b.id("dense1")].diagnostics
    assert d.hint == ("insert a Flatten before it (all 32×26×26 values as one vector), or a "
                      "GlobalAvgPool (one average per channel: 32 values)")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_graphs())
def test_hints_on_random_broken_graphs(case):
    graph, _ = case
    for d in _all_diagnostics(analyze(graph)):
        assert d.hint.strip(), d.message
