"""Editing rules: placement (never on another layer), append after a mid-chain layer,
insert on an edge, paste offsets, undo of the room made, unique names, and the graph's
traversal methods."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionstudio.core.commands import UndoHistory
from visionstudio.core.graph import AddNode, Connect, Edge, GraphModel
from visionstudio.core.graph.editing import (
    COLUMN_SPACING,
    NODE_HEIGHT,
    NODE_WIDTH,
    PASTE_STEP,
    ROW_SPACING,
    Occupancy,
    add_layer,
    added_ids,
    append_after,
    fragment_of,
    insert_on_edge,
    overlaps,
    paste_nodes,
)
from visionstudio.core.project import ProjectDocument


def build(spec: list[tuple[str, tuple[float, float]]], edges: list[tuple[int, int]] = ()):
    """A graph of ``(kind, position)`` layers wired by index pairs, with an undo history."""
    graph = GraphModel()
    ids = []
    for i, (kind, pos) in enumerate(spec):
        cmd = AddNode(kind, pos, node_id=f"n{i}")
        cmd.apply(graph)
        ids.append(cmd.node_id)
    for a, b in edges:
        Connect(ids[a], ids[b]).apply(graph)
    return graph, ids, UndoHistory(ProjectDocument(graph=graph))


def overlapping(graph: GraphModel, new_ids) -> list[tuple[str, str]]:
    pos = graph.positions
    return [(n, o) for n in new_ids for o in pos if o != n and overlaps(pos[n], pos[o])]


def chain(n: int, kinds=("conv2d", "relu", "maxpool2d", "flatten", "dense")):
    """An Input and ``n - 1`` layers of ``kinds`` in turn, a row apart, wired in a line."""
    return build([(kinds[(i - 1) % len(kinds)] if i else "input", (0.0, i * ROW_SPACING)) for i in range(n)],
                 [(i, i + 1) for i in range(n - 1)])


# -- placement never overlaps ---------------------------------------------------------
def _random_graph(rng: random.Random):
    """Up to 12 layers on a coarse grid (so some already touch), a random acyclic wiring."""
    n = rng.randint(1, 12)
    spec = [("input" if i == 0 else rng.choice(["relu", "conv2d", "add", "dropout"]),
             (rng.randint(-3, 3) * 100.0, rng.randint(0, 8) * 60.0)) for i in range(n)]
    graph, ids, history = build(spec)
    for j in range(1, n):
        for i in rng.sample(range(j), k=min(j, rng.randint(0, 2))):
            if graph.connection_problem(ids[i], ids[j]) is None:
                Connect(ids[i], ids[j]).apply(graph)
    return graph, ids, history


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), gesture=st.sampled_from(["append", "insert", "drop", "paste"]))
def test_a_new_or_pasted_layer_never_overlaps_another_and_undo_restores_everything(seed, gesture):
    rng = random.Random(seed)
    graph, ids, history = _random_graph(rng)
    before = (graph.to_dict(), dict(graph.positions))
    if gesture == "append":
        cmd = append_after(graph, rng.choice(["relu", "conv2d", "input"]), rng.choice(ids + [None]))
    elif gesture == "insert" and graph.edges:
        edge = rng.choice(list(graph.edges))
        cmd = insert_on_edge(graph, "relu", edge, (rng.uniform(-300, 300), rng.uniform(0, 500)))
    elif gesture == "paste":
        cmd = paste_nodes(graph, fragment_of(graph, rng.sample(ids, rng.randint(1, len(ids)))),
                          repeat=rng.randint(1, 3))
    else:
        cmd = add_layer(graph, "relu", (rng.uniform(-300, 300), rng.uniform(0, 500)))
    history.push(cmd)
    new = added_ids(cmd)
    assert new and all(n in graph.nodes for n in new)
    assert overlapping(graph, new) == [] or gesture == "paste" and _only_among(graph, new)
    assert history.undo()
    assert (graph.to_dict(), dict(graph.positions)) == before


def _only_among(graph: GraphModel, new) -> bool:
    """A pasted fragment keeps its own layout: its layers may touch each other (they did
    when copied), never a layer that was there before."""
    fresh = set(new)
    return all(o in fresh for _, o in overlapping(graph, new))


def test_occupancy_agrees_with_a_search_of_every_layer():
    rng = random.Random(7)
    spots = [(rng.uniform(-2000, 2000), rng.uniform(-2000, 2000)) for _ in range(400)]
    grid = Occupancy(spots)
    for _ in range(2000):
        p = (rng.uniform(-2100, 2100), rng.uniform(-2100, 2100))
        assert grid.hits(p) == any(overlaps(p, q) for q in spots)
    assert overlaps((0, 0), (NODE_WIDTH, 0)) and not overlaps((0, 0), (0, NODE_HEIGHT + 20))


def test_a_drop_onto_a_layer_moves_aside_and_onto_free_canvas_stays():
    graph, ids, history = build([("input", (0.0, 0.0))])
    assert history.push(add_layer(graph, "relu", (500.0, 40.0))).position == (500.0, 40.0)
    cmd = history.push(add_layer(graph, "relu", (10.0, 10.0)))
    assert cmd.position == (10.0 + COLUMN_SPACING, 10.0)


# -- append after ----------------------------------------------------------------------
def test_append_after_a_mid_chain_layer_inserts_it_into_the_chain():
    graph, (a, b, c, d), history = chain(4)
    cmd = history.push(append_after(graph, "dropout", b))
    (new,) = added_ids(cmd)
    assert set(graph.edges) == {Edge(a, b), Edge(b, new), Edge(new, c), Edge(c, d)}
    assert graph.positions[new] == (0.0, 2 * ROW_SPACING)  # a row under b, where c was
    assert graph.positions[c] == (0.0, 3 * ROW_SPACING) and graph.positions[d] == (0.0, 4 * ROW_SPACING)
    assert overlapping(graph, list(graph.nodes)) == []
    assert len(history.texts()) == 1  # one undo step


def test_append_after_the_last_layer_or_a_fork_adds_a_branch_below_it():
    graph, (a, b, c), history = build([("input", (0.0, 0.0)), ("relu", (0.0, 130.0)),
                                       ("relu", (240.0, 130.0))], [(0, 1), (0, 2)])
    cmd = history.push(append_after(graph, "conv2d", a))  # a feeds two: a side branch
    (new,) = added_ids(cmd)
    assert cmd.text == "Append Conv2d" and Edge(a, new) in graph.edges and len(graph.edges) == 3
    assert graph.positions[new][1] == 130.0 and overlapping(graph, [new]) == []
    last = history.push(append_after(graph, "relu", new))
    assert graph.positions[added_ids(last)[0]] == (graph.positions[new][0], 260.0)


def test_append_of_an_input_or_without_selection_is_not_wired():
    graph, (a, b), history = chain(2)
    assert isinstance(append_after(graph, "input", a), AddNode)
    cmd = history.push(append_after(graph, "relu", None))
    assert graph.positions[cmd.node_id] == (0.0, 2 * ROW_SPACING)  # under the lowest layer
    assert not graph.outputs_of(b) and len(graph.edges) == 1


# -- insert on an edge -----------------------------------------------------------------
def test_insert_on_an_edge_goes_between_its_ends_and_makes_room():
    graph, (a, b, c), history = chain(3)
    before = dict(graph.positions)
    cmd = history.push(insert_on_edge(graph, "batchnorm2d", Edge(a, b), (3.0, 60.0)))
    (new,) = added_ids(cmd)
    assert graph.positions[new] == (3.0, ROW_SPACING)  # at least a row under a
    assert graph.positions[b] == (0.0, 2 * ROW_SPACING) and graph.positions[c] == (0.0, 3 * ROW_SPACING)
    assert overlapping(graph, list(graph.nodes)) == []
    assert cmd.text == "Insert BatchNorm2d"
    history.undo()
    assert dict(graph.positions) == before and set(graph.edges) == {Edge(a, b), Edge(b, c)}
    history.redo()
    assert graph.positions[b] == (0.0, 2 * ROW_SPACING)


def test_insert_on_a_long_edge_moves_nothing():
    graph, (a, b), history = build([("input", (0.0, 0.0)), ("relu", (0.0, 600.0))], [(0, 1)])
    cmd = history.push(insert_on_edge(graph, "relu", Edge(a, b), (0.0, 300.0)))
    assert [type(c).__name__ for c in cmd.commands][0] == "AddNode"
    assert graph.positions[b] == (0.0, 600.0)


# -- paste -----------------------------------------------------------------------------
def test_paste_steps_its_offset_and_keeps_clear_of_the_layers_there():
    graph, (a, b, c), history = chain(3)
    clip = fragment_of(graph, [b, c])
    first = history.push(paste_nodes(graph, clip, repeat=1))
    second = history.push(paste_nodes(graph, clip, repeat=2))
    for cmd, step in ((first, 1), (second, 2)):
        ids = added_ids(cmd)
        x, y = graph.positions[ids[0]]
        assert y == ROW_SPACING + PASTE_STEP * step
        assert (x - PASTE_STEP * step) % COLUMN_SPACING == 0 and x > 0
        assert _only_among(graph, ids)
    assert graph.positions[added_ids(second)[0]] != graph.positions[added_ids(first)[0]]
    # an explicit offset is taken as given
    exact = paste_nodes(graph, clip, offset=(5.0, 5.0))
    assert exact.commands[0].position == (5.0, ROW_SPACING + 5.0)


# -- unique names ----------------------------------------------------------------------
def test_unique_names_come_from_one_rule():
    graph, ids, history = build([("input", (0.0, 0.0)), ("relu", (0.0, 130.0)), ("relu", (0.0, 260.0))])
    assert [graph.nodes[i].name for i in ids] == ["input1", "relu1", "relu2"]
    assert graph.unique_name("relu") == "relu3"
    assert graph.unique_name("relu", {"relu1", "relu3"}) == "relu2"
    cmd = history.push(paste_nodes(graph, fragment_of(graph, ids[1:])))
    assert [graph.nodes[n].name for n in added_ids(cmd)] == ["relu3", "relu4"]
    clip = fragment_of(graph, ids[1:2])
    clip["nodes"][0]["name"] = "9 bad"
    cmd = history.push(paste_nodes(graph, clip))
    assert graph.nodes[added_ids(cmd)[0]].name == "relu5"


# -- traversal -------------------------------------------------------------------------
def test_traversal_methods():
    # input -> conv -> relu -> add(port 1) ; input -> add(port 0) ; add -> flatten
    graph, (x, conv, relu, add, flat), _ = build(
        [("input", (0, 0)), ("conv2d", (0, 130)), ("relu", (0, 260)), ("add", (0, 390)),
         ("flatten", (0, 520))], [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4)])
    order, stuck = graph.topological_order()
    assert order == [x, conv, relu, add, flat] and stuck == set()
    assert graph.predecessors(add) == [relu, x]  # port order
    assert graph.successors(x) == [conv, add]
    assert graph.reachable_from(relu) == {relu, add, flat}
    assert graph.reachable_from(relu, upstream=True) == {relu, conv, x}
    assert graph.would_cycle(flat, x) and graph.would_cycle(x, x) and not graph.would_cycle(x, flat)
    assert graph.has_path(x, flat) and not graph.has_path(flat, x)
    assert graph.dangling_edges() == []
    graph.edges.append(Edge(flat, conv))  # a hand-made cycle, and a dangling edge
    graph.edges.append(Edge("ghost", flat))
    order, stuck = graph.topological_order()
    assert order == [x] and stuck == {conv, relu, add, flat}
    parts = graph.components(stuck)
    assert len(set(parts.values())) == 1
    assert graph.dangling_edges() == [Edge("ghost", flat)]


def test_traversal_of_a_long_chain_does_not_recurse():
    graph, ids, _ = chain(3000, kinds=("relu",))
    assert graph.topological_order()[0] == ids
    assert len(graph.reachable_from(ids[0])) == 3000
    assert graph.would_cycle(ids[-1], ids[0])


@pytest.mark.parametrize("gesture", ["append", "insert"])
def test_undo_restores_every_moved_position(gesture):
    graph, ids, history = chain(6)
    before = dict(graph.positions)
    cmd = (append_after(graph, "relu", ids[2]) if gesture == "append"
           else insert_on_edge(graph, "relu", Edge(ids[0], ids[1])))
    history.push(cmd)
    assert any(graph.positions[i] != before[i] for i in ids)
    history.undo()
    assert dict(graph.positions) == before
