"""Large and hostile graphs: the adjacency index stays exact, and nothing is quadratic.

The attacks of issue #11: a project at the loader's limits (10,000 layers, 100,000
connections) must load, analyse and summarise; a small cycle in front of a long chain
must be reported without a search per edge; 10,000 Inputs must not give every layer a
message naming all the others; deleting a layer must re-run shape inference once, not
once per connection. Timings live in benchmarks/shape_inference.py; here a quadratic
regression shows up as a test that takes minutes instead of seconds.
"""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionstudio.core.commands import CommandError, Macro, UndoHistory
from visionstudio.core.graph import (
    AddNode,
    Connect,
    Disconnect,
    Edge,
    GraphModel,
    RemoveNodes,
    analyze,
    fragment_of,
    paste_nodes,
)
from visionstudio.core.project import ProjectDocument, ProjectFormatError, dumps_project, parse_project
from visionstudio.core.summary import summarize

from .graph_strategies import GraphBuilder


def naive_inputs(graph: GraphModel, nid: str) -> list[Edge]:
    """The definition the index must match: every edge into ``nid``, by port, ties in list order."""
    return sorted((e for e in graph.edges if e.dst == nid), key=lambda e: e.port)


def naive_path(graph: GraphModel, start: str, goal: str) -> bool:
    seen, stack = set(), [start]
    while stack:
        n = stack.pop()
        if n == goal:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(e.dst for e in graph.edges if e.src == n)
    return False


def assert_index_exact(graph: GraphModel) -> None:
    ids = set(graph.nodes) | {e.src for e in graph.edges} | {e.dst for e in graph.edges}
    for nid in ids:
        assert graph.inputs_of(nid) == naive_inputs(graph, nid)
        assert graph.outputs_of(nid) == [e for e in graph.edges if e.src == nid]
        ports = [e.port for e in graph.edges if e.dst == nid]
        assert graph.next_port(nid) == (max(ports) + 1 if ports else 0)
    for e in graph.edges:
        assert graph.has_edge(e)
    some = sorted(ids)[:6]
    for a in some:
        for b in some:
            assert graph.has_path(a, b) == naive_path(graph, a, b)


def lattice(nodes: int, window: int = 10) -> dict:
    """Project data: Input, ReLU, then Add merges fed by the ``window`` layers before each."""
    ids = [f"n{i:05d}" for i in range(nodes)]
    node_list = [{"id": ids[0], "kind": "input", "name": "input", "params": {"channels": 2, "height": 4,
                                                                            "width": 4}},
                 {"id": ids[1], "kind": "relu", "name": "relu1", "params": {}}]
    node_list += [{"id": ids[i], "kind": "add", "name": f"add{i}", "params": {}} for i in range(2, nodes)]
    edges = [{"src": ids[i - k], "dst": ids[i], "port": k - 1}
             for i in range(1, nodes) for k in range(1, (1 if i == 1 else min(i, window)) + 1)]
    data = ProjectDocument(name="lattice").to_dict()
    data["graph"] = {"nodes": node_list, "edges": edges}
    return data


# -- the index follows every kind of edit ----------------------------------------------
KINDS = ["relu", "add", "concat", "dropout", "input"]
ops = st.lists(st.tuples(st.sampled_from(["add", "connect", "disconnect", "remove", "undo", "redo",
                                           "macro", "paste", "append", "assign", "delitem", "sort"]),
                         st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(KINDS)),
               min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=ops)
def test_index_matches_the_edge_list_through_any_edits(steps):
    graph = GraphModel()
    history = UndoHistory(ProjectDocument(graph=graph))
    for op, i, j, kind in steps:
        ids = list(graph.nodes)
        try:
            if op == "add" or not ids:
                history.push(AddNode(kind))
            elif op == "connect":
                history.push(Connect(ids[i % len(ids)], ids[j % len(ids)]))
            elif op == "disconnect" and graph.edges:
                history.push(Disconnect(graph.edges[i % len(graph.edges)]))
            elif op == "remove":
                history.push(RemoveNodes([ids[i % len(ids)], ids[j % len(ids)]]))
            elif op == "undo":
                history.undo()
            elif op == "redo":
                history.redo()
            elif op == "macro":
                add = AddNode("relu")
                history.push(Macro("m", [add, Connect(ids[i % len(ids)], add.node_id)]))
            elif op == "paste":
                history.push(paste_nodes(graph, fragment_of(graph, ids[: 1 + i % len(ids)])))
            # code that edits the list directly (tests, scripts) must not leave the index stale
            elif op == "append":
                graph.edges.append(Edge(ids[i % len(ids)], ids[j % len(ids)], i % 3))
            elif op == "assign":
                graph.edges = list(reversed(graph.edges))
            elif op == "delitem" and graph.edges:
                del graph.edges[i % len(graph.edges)]
            elif op == "sort":
                graph.edges.sort(key=lambda e: (e.dst, -e.port))
        except CommandError:
            pass
        if op in ("append", "assign", "delitem", "sort"):
            # Undo steps assume the graph is as they left it; code that edits the list
            # behind the history's back starts a new one (as opening a file does).
            history = UndoHistory(ProjectDocument(graph=graph))
        assert_index_exact(graph)


def test_copy_has_its_own_index():
    b = GraphBuilder()
    x = b.add("input")
    r = b.add("relu", x)
    other = b.graph.copy()
    other.edges.append(Edge(r, x, 0))
    assert b.graph.outputs_of(r) == [] and other.outputs_of(r) == [Edge(r, x, 0)]
    assert type(other.edges) is type(b.graph.edges)


# -- one re-analysis per edit ----------------------------------------------------------------
def test_removing_a_merge_reanalyses_once_and_undo_restores_the_exact_order():
    doc = parse_project(json.dumps(lattice(60)))
    graph, history = doc.graph, UndoHistory(doc)
    before = (graph.to_dict(), list(graph.nodes), list(graph.edges))
    changes, removed = [], []
    graph.changed.connect(lambda: changes.append(1))
    graph.edge_removed.connect(removed.append)
    victim = list(graph.nodes)[30]
    history.push(RemoveNodes([victim]))
    assert changes == [1] and len(removed) == 20  # ten in, ten out; one change announced
    assert victim not in graph.nodes and all(victim not in (e.src, e.dst) for e in graph.edges)
    assert_index_exact(graph)
    history.undo()
    assert changes == [1, 1]
    assert (graph.to_dict(), list(graph.nodes), list(graph.edges)) == before
    assert_index_exact(graph)


def test_a_paste_is_one_change():
    doc = parse_project(json.dumps(lattice(40)))
    graph, history = doc.graph, UndoHistory(doc)
    changes = []
    graph.changed.connect(lambda: changes.append(1))
    cmd = history.push(paste_nodes(graph, fragment_of(graph, list(graph.nodes)[:25])))
    assert len(cmd.commands) > 100 and changes == [1]
    history.undo()
    assert changes == [1, 1] and len(graph.nodes) == 40


# -- the attacks, at full size ---------------------------------------------------------------------
def test_a_file_at_the_limits_loads_analyses_and_summarises():
    data = lattice(10_000)
    extra = 100_000 - len(data["graph"]["edges"])  # top up to exactly 100,000 connections
    ids = [n["id"] for n in data["graph"]["nodes"]]
    data["graph"]["edges"] += [{"src": ids[i - 11], "dst": ids[i], "port": 10}
                               for i in range(len(ids) - extra, len(ids))]
    doc = parse_project(json.dumps(data))
    assert len(doc.graph.nodes) == 10_000 and len(doc.graph.edges) == 100_000
    analysis = analyze(doc.graph)
    assert analysis.ok, analysis.errors[:3]
    assert analysis.output_id == ids[-1] and len(analysis.order) == 10_000
    summary = summarize(doc.graph, doc.name, analysis=analysis)
    assert len(summary.rows) == 10_000 and summary.rows[-1].inputs[0] == f"add{len(ids) - 2}"
    assert len(summary.rows[-1].inputs) == 11
    # deleting everything and undoing it is linear too
    history = UndoHistory(doc)
    history.push(RemoveNodes(list(doc.graph.nodes)))
    assert not doc.graph.nodes and not doc.graph.edges
    history.undo()
    assert len(doc.graph.edges) == 100_000 and doc.graph.inputs_of(ids[-1])[10].port == 10


def test_a_cycle_in_front_of_a_long_chain_is_found_without_a_search_per_edge():
    # input -> add <-> relu forms the cycle; 9,997 ReLUs hang behind it, all stuck.
    n = 10_000
    nodes = [{"id": "in", "kind": "input", "name": "input"}, {"id": "a", "kind": "add", "name": "add1"}]
    nodes += [{"id": f"r{i}", "kind": "relu", "name": f"relu{i}"} for i in range(n - 2)]
    edges = [{"src": "in", "dst": "a", "port": 0}, {"src": "a", "dst": "r0"},
             {"src": "r0", "dst": "a", "port": 1}]
    edges += [{"src": f"r{i}", "dst": f"r{i + 1}"} for i in range(n - 3)]
    data = {"schema_version": 1, "graph": {"nodes": nodes, "edges": edges}}
    try:
        parse_project(json.dumps(data))
    except ProjectFormatError as exc:
        assert exc.json_path == "graph.edges[2]"
        assert "connecting relu0 to add1 creates a cycle" in str(exc)
    else:
        raise AssertionError("a cycle was accepted")


def test_ten_thousand_inputs_do_not_name_each_other_in_every_message():
    nodes = [{"id": f"i{k}", "kind": "input", "name": f"input{k}"} for k in range(9_999)]
    nodes.append({"id": "d", "kind": "dense", "name": "dense1"})
    data = {"schema_version": 1, "graph": {"nodes": nodes, "edges": [{"src": "i0", "dst": "d"}]}}
    analysis = analyze(parse_project(json.dumps(data)).graph)
    messages = [d.message for d in analysis.diagnostics]
    assert len(messages) >= 9_999
    assert max(len(m) for m in messages) < 300
    assert any("only one Input is supported (found input0, input1" in m and "and 9,991 more" in m
               for m in messages)


def test_many_outputs_are_summarised_in_a_bounded_message():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=2, width=2)
    for _ in range(500):
        b.add("relu", x)
    analysis = analyze(b.graph)
    several = [d.message for info in analysis.nodes.values() for d in info.diagnostics
               if "several outputs" in d.message]
    several += [d.message for d in analysis.diagnostics if "several outputs" in d.message]
    assert len(several) == 501 and max(len(m) for m in several) < 300
    assert all("and 492 more" in m for m in several)


def test_saved_large_graph_reloads_identically():
    doc = parse_project(json.dumps(lattice(300)))
    again = parse_project(dumps_project(doc))
    assert again.to_dict() == doc.to_dict()
    assert [again.graph.inputs_of(n) for n in again.graph.nodes] == [
        doc.graph.inputs_of(n) for n in doc.graph.nodes]


def test_edges_read_in_bulk_or_one_by_one_give_the_same_graph():
    from collections import OrderedDict

    from visionstudio.core.project import document_from_dict

    data = lattice(50)
    plain = document_from_dict(copy.deepcopy(data))
    # dict subclasses are valid too; they take the edge-by-edge path
    data["graph"]["edges"] = [OrderedDict(e) for e in data["graph"]["edges"]]
    odd = document_from_dict(data)
    assert list(odd.graph.edges) == list(plain.graph.edges) and len(plain.graph.edges) > 300
    assert odd.to_dict() == plain.to_dict()
