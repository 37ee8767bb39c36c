"""Quick fixes: each one clears its node's problem, and its undo puts the graph back exactly."""

from __future__ import annotations

import time

from visionstudio.core.graph import analyze
from visionstudio.core.graph.fixes import QuickFix, last_dense, quick_fixes
from visionstudio.core.project import ProjectDocument

from .graph_strategies import GraphBuilder


def snapshot(graph):
    return graph.to_dict(), graph.layout_dict()


def apply_and_check(b: GraphBuilder, fix: QuickFix, node_id: str):
    """Apply ``fix`` as the controller would, check the node is fixed, undo, check the graph is back."""
    before = snapshot(b.graph)
    doc = ProjectDocument(graph=b.graph)
    fix.command.do(doc)
    after = analyze(b.graph)
    assert after.nodes[node_id].ok, after.nodes[node_id].diagnostics
    fix.command.undo(doc)
    assert snapshot(b.graph) == before
    fix.command.do(doc)  # redo gives the same fixed graph
    assert analyze(b.graph).nodes[node_id].ok
    return after


def dense_after_conv():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=28, width=28)
    x = b.add("conv2d", x, out_channels=8, kernel_size=3)
    x = b.add("relu", x)
    d = b.add("dense", x, units=10)
    return b, d


def test_flatten_before_a_dense_that_gets_a_feature_map():
    b, d = dense_after_conv()
    a = analyze(b.graph)
    fixes = quick_fixes(b.graph, a, d)
    assert [f.title for f in fixes] == ["Insert a Flatten before dense1"]
    after = apply_and_check(b, fixes[0], d)
    assert after.ok and after.nodes[d].input_shapes == [(8 * 26 * 26,)]
    assert fixes[0].command.text == "Insert a Flatten before dense1"


def residual(main_channels=64, skip_channels=32, main_padding=1):
    b = GraphBuilder()
    x = b.add("input", channels=3, height=13, width=13)
    stem = b.add("conv2d", x, out_channels=skip_channels, kernel_size=3, padding=1, name="stem")
    main = b.add("conv2d", stem, out_channels=main_channels, kernel_size=3, padding=main_padding, name="main")
    act = b.add("relu", main)
    add = b.add("add", act, stem)
    b.add("flatten", add)
    return b, add


def test_projection_on_the_branch_with_other_channels():
    b, add = residual()
    a = analyze(b.graph)
    assert not a.nodes[add].ok
    titles = [f.title for f in quick_fixes(b.graph, a, add)]
    assert titles == ["Insert a 1×1 Conv2d with 64 filters after stem (32 channels)",
                      "Insert a 1×1 Conv2d with 32 filters after relu1 (64 channels)"]
    fix = quick_fixes(b.graph, a, add)[0]
    after = apply_and_check(b, fix, add)
    assert after.ok and after.nodes[add].output_shape == (64, 13, 13)
    proj = b.graph.node_by_name("conv1")
    assert proj is not None and after.nodes[proj.id].clean_params["kernel_size"] == 1


def test_padding_same_when_that_alone_fixes_the_merge():
    b, add = residual(main_channels=32, main_padding=0)  # 32×11×11 and 32×13×13
    a = analyze(b.graph)
    fixes = quick_fixes(b.graph, a, add)
    assert [f.title for f in fixes] == ["Set padding of main to same (keep its input's size)"]
    after = apply_and_check(b, fixes[0], add)
    assert after.ok


def test_padding_on_a_conv_both_branches_share_is_not_offered():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=28, width=28)
    shared = b.add("conv2d", x, out_channels=8, kernel_size=3, name="shared")
    act = b.add("relu", shared)
    side = b.add("conv2d", act, out_channels=8, kernel_size=3, name="side")
    add = b.add("add", side, act)  # 8×24×24 and 8×26×26: "same" on shared grows both
    a = analyze(b.graph)
    fixes = quick_fixes(b.graph, a, add)
    assert [f.title for f in fixes] == ["Set padding of side to same (keep its input's size)"]
    apply_and_check(b, fixes[0], add)


def test_a_big_network_is_checked_without_a_full_analysis():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=8, width=8)
    for _ in range(3000):
        x = b.add("relu", x)
    d = b.add("dense", x)
    a = analyze(b.graph)
    fixes = quick_fixes(b.graph, a, d)
    assert [f.title for f in fixes] == [f"Insert a Flatten before {b.name(d)}"]
    took = min(_timed(quick_fixes, b.graph, a, d) for _ in range(3))
    assert took < 1.5 * min(_timed(analyze, b.graph) for _ in range(3))  # a copy and analysis took > 2×


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def test_no_fix_offered_when_no_single_change_clears_the_problem():
    b, add = residual(main_channels=64, main_padding=0)  # 64×11×11 and 32×13×13
    a = analyze(b.graph)
    assert quick_fixes(b.graph, a, add) == []


def test_dense_units_set_to_the_dataset_classes():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=8, width=8)
    x = b.add("flatten", x)
    d = b.add("dense", x, units=7)
    b.add("softmax", d)
    a = analyze(b.graph)
    assert last_dense(b.graph, a) == d
    assert quick_fixes(b.graph, a, d) == []  # without the dataset's classes nothing to say
    assert quick_fixes(b.graph, a, d, num_classes=7) == []
    fixes = quick_fixes(b.graph, a, d, num_classes=10)
    assert [f.title for f in fixes] == ["Set units of dense1 to 10 (the dataset's classes)"]
    after = apply_and_check(b, fixes[0], d)
    assert after.output_shape == (10,)


def test_healthy_node_gets_nothing():
    b, _ = residual(main_channels=32)
    a = analyze(b.graph)
    assert a.ok
    assert all(quick_fixes(b.graph, a, nid) == [] for nid in b.graph.nodes)
    assert quick_fixes(b.graph, a, "no such id") == []
