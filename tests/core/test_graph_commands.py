"""Commands: do/undo of each edit, merging in UndoHistory, refusals that change nothing,
and a random edit session undone and redone entirely."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from visionstudio.core.commands import CommandError, Macro, UndoHistory
from visionstudio.core.graph import (
    AddNode,
    Connect,
    Disconnect,
    Edge,
    GraphModel,
    MoveNodes,
    RemoveNodes,
    RenameNode,
    SetParam,
    analyze,
    append_after,
    fragment_of,
    insert_on_edge,
    paste_nodes,
)
from visionstudio.core.project import ProjectDocument

from .graph_strategies import GraphBuilder


def snapshot(graph: GraphModel):
    return graph.to_dict(), graph.layout_dict()


@pytest.fixture
def net():
    """input1 -> conv1 -> relu1 -> pool1, with an undo history."""
    b = GraphBuilder()
    x = b.add("input", channels=1, height=8, width=8)
    c = b.add("conv2d", x, out_channels=4, padding=1)
    r = b.add("relu", c)
    b.add("maxpool2d", r)
    return b, UndoHistory(ProjectDocument(graph=b.graph))


def roundtrip(history: UndoHistory, cmd):
    """Push, undo, redo; checks the document at each step and returns the command."""
    graph = history.document.graph
    before = snapshot(graph)
    history.push(cmd)
    after = snapshot(graph)
    assert after != before or isinstance(cmd, MoveNodes)
    assert history.undo()
    assert snapshot(graph) == before
    assert history.redo()
    assert snapshot(graph) == after
    return cmd


def test_add_node(net):
    b, h = net
    cmd = roundtrip(h, AddNode("linear", (10, 20)))
    node = b.graph.nodes[cmd.node_id]
    assert node.kind == "dense" and node.name == "dense1"
    assert b.graph.positions[cmd.node_id] == (10.0, 20.0)
    assert h.texts()[-1] == "Add Dense"


def test_add_node_keeps_its_name_on_redo(net):
    b, h = net
    h.push(AddNode("relu"))
    h.undo()
    h.push(AddNode("relu", name="relu2"))  # takes the freed name
    h.undo()
    assert b.graph.unique_name("relu") == "relu2"


def test_add_node_refusals(net):
    b, h = net
    before = snapshot(b.graph)
    with pytest.raises(CommandError, match="a layer named conv1 already exists"):
        h.push(AddNode("conv2d", name="conv1"))
    with pytest.raises(CommandError, match="not a valid name"):
        h.push(AddNode("conv2d", name="2conv"))
    with pytest.raises(CommandError, match="Python keyword"):
        h.push(AddNode("conv2d", name="class"))
    assert snapshot(b.graph) == before and not h.can_redo and len(h.texts()) == 0


def test_remove_nodes_restores_order_and_edges(net):
    b, h = net
    relu, inp = b.id("relu1"), b.id("input1")
    roundtrip(h, RemoveNodes([b.id("conv1")]))
    cmd = roundtrip(h, RemoveNodes([relu, inp, relu]))
    assert cmd.node_ids == [relu, inp]
    assert h.texts()[-2:] == ["Delete conv1", "Delete 2 layers"]
    with pytest.raises(CommandError, match="no longer exist"):
        h.push(RemoveNodes([inp]))


def test_connect_and_disconnect(net):
    b, h = net
    extra = b.add("tanh")
    cmd = roundtrip(h, Connect(b.id("pool1"), extra))
    assert cmd.edge == Edge(b.id("pool1"), extra, 0)
    assert h.texts()[-1] == "Connect pool1 to tanh1"
    roundtrip(h, Disconnect(Edge(b.id("conv1"), b.id("relu1"), 0)))
    assert h.texts()[-1] == "Disconnect conv1 from relu1"
    assert analyze(b.graph).nodes[b.id("relu1")].diagnostics


@pytest.mark.parametrize("src, dst, port, message", [
    ("relu1", "relu1", None, "relu1 cannot feed itself"),
    ("relu1", "input1", None, "input1 is an Input and takes no inputs"),
    ("conv1", "relu1", None, "conv1 is already connected to relu1"),
    ("input1", "relu1", None, "relu1 already has its input from conv1; a ReLU takes one input"),
    ("pool1", "conv1", None, "already has its input"),
])
def test_connect_refusals(net, src, dst, port, message):
    b, h = net
    before = snapshot(b.graph)
    with pytest.raises(CommandError) as info:
        h.push(Connect(b.id(src), b.id(dst), port))
    assert message in str(info.value)
    assert snapshot(b.graph) == before and not h.can_undo


def test_connect_refuses_cycles_and_taken_ports(net):
    b, h = net
    add = b.add("add", b.id("pool1"))
    b.graph._delete_edge(Edge(b.id("input1"), b.id("conv1"), 0))
    with pytest.raises(CommandError, match="connecting add1 to conv1 would create a cycle"):
        h.push(Connect(add, b.id("conv1")))
    with pytest.raises(CommandError, match="input 0 of add1 is already connected"):
        h.push(Connect(b.id("input1"), add, 0))
    with pytest.raises(CommandError, match="both ends must be existing layers"):
        h.push(Connect("nope", add))
    with pytest.raises(CommandError, match="that connection no longer exists"):
        h.push(Disconnect(Edge(b.id("input1"), b.id("conv1"), 0)))


def test_set_param(net):
    b, h = net
    conv = b.id("conv1")
    roundtrip(h, SetParam(conv, "kernel_size", [5, 5]))
    assert b.graph.nodes[conv].params["kernel_size"] == 5  # stored canonical
    assert h.texts()[-1] == "Set kernel size of conv1 to 5"
    h.push(SetParam(conv, "stride", (2, 1)))
    assert b.graph.nodes[conv].params["stride"] == [2, 1]
    assert h.texts()[-1] == "Set stride of conv1 to 2×1"


@pytest.mark.parametrize("name, value, message", [
    ("out_channels", 0, "conv1: filters must be at least 1 (got 0)"),
    ("stride", -1, "conv1: stride must be at least 1 (got -1)"),
    ("padding", "full", "conv1: padding must be a number, a pair or one of same, valid"),
    ("bias", 1, "conv1: bias must be true or false (got 1)"),
    ("out_channels", True, "conv1: filters must be a whole number (got True)"),
    ("colour", 3, "Conv2d has no parameter 'colour'"),
])
def test_set_param_refusals(net, name, value, message):
    b, h = net
    before = snapshot(b.graph)
    with pytest.raises(CommandError) as info:
        h.push(SetParam(b.id("conv1"), name, value))
    assert message in str(info.value)
    assert snapshot(b.graph) == before and not h.can_undo


def test_set_param_edits_merge_into_one_undo_step(net):
    b, h = net
    conv = b.id("conv1")
    for value in (5, 6, 7, 8):
        h.push(SetParam(conv, "out_channels", value))
    assert h.texts() == ["Set filters of conv1 to 8"]
    assert b.graph.nodes[conv].params["out_channels"] == 8
    h.push(SetParam(conv, "kernel_size", 5))      # another field: a new step
    h.push(SetParam(conv, "out_channels", 9))     # not adjacent to the first run
    assert len(h.texts()) == 3
    h.undo()
    h.undo()
    assert b.graph.nodes[conv].params["out_channels"] == 8
    h.undo()
    assert b.graph.nodes[conv].params["out_channels"] == 4
    assert not h.can_undo
    h.redo()
    assert b.graph.nodes[conv].params["out_channels"] == 8


def test_set_param_does_not_merge_across_a_save(net):
    b, h = net
    conv = b.id("conv1")
    h.push(SetParam(conv, "out_channels", 5))
    h.set_clean()
    assert h.is_clean
    h.push(SetParam(conv, "out_channels", 6))
    assert not h.is_clean and len(h.texts()) == 2
    h.undo()
    assert h.is_clean and b.graph.nodes[conv].params["out_channels"] == 5


def test_set_param_on_different_nodes_does_not_merge(net):
    b, h = net
    h.push(SetParam(b.id("conv1"), "out_channels", 5))
    h.push(SetParam(b.id("pool1"), "kernel_size", 3))
    assert len(h.texts()) == 2


def test_rename(net):
    b, h = net
    roundtrip(h, RenameNode(b.id("conv1"), " stem "))
    assert b.graph.nodes[b.id("stem")].name == "stem"
    assert h.texts()[-1] == "Rename conv1 to stem"
    before = snapshot(b.graph)
    for name, message in [("relu1", "a layer named relu1 already exists"),
                          ("", "a name cannot be empty"), ("a b", "not a valid name"),
                          ("x" * 65, "at most 64 characters"), ("lambda", "Python keyword")]:
        with pytest.raises(CommandError, match=message):
            h.push(RenameNode(b.id("stem"), name))
    assert snapshot(b.graph) == before
    h.push(RenameNode(b.id("stem"), "stem"))  # to its own name: allowed, no change


def test_move_nodes(net):
    b, h = net
    conv, relu = b.id("conv1"), b.id("relu1")
    old = dict(b.graph.positions)
    changed = []
    b.graph.changed.connect(lambda: changed.append(1))
    h.push(MoveNodes({conv: (1, 2), relu: (3, 4)}))
    assert b.graph.positions[conv] == (1.0, 2.0) and h.texts()[-1] == "Move 2 layers"
    assert changed == []  # moving is not a semantic change
    h.undo()
    assert b.graph.positions == old
    h.redo()
    assert b.graph.positions[relu] == (3.0, 4.0)
    # with the old positions given (the view moved the item already)
    cmd = MoveNodes({conv: (9, 9)}, old={conv: (1, 2)})
    h.push(cmd)
    h.undo()
    assert b.graph.positions[conv] == (1.0, 2.0)


def test_macro_rolls_back_when_a_part_fails(net):
    b, h = net
    before = snapshot(b.graph)
    add = AddNode("relu")
    bad = Macro("Broken", [add, Connect(add.node_id, b.id("input1"))])
    with pytest.raises(CommandError):
        h.push(bad)
    assert snapshot(b.graph) == before and not h.can_undo


def test_insert_on_edge(net):
    b, h = net
    edge = Edge(b.id("conv1"), b.id("relu1"), 0)
    cmd = roundtrip(h, insert_on_edge(b.graph, "batchnorm2d", edge, (5, 5)))
    bn = b.id("bn1")
    assert Edge(b.id("conv1"), bn, 0) in b.graph.edges and Edge(bn, b.id("relu1"), 0) in b.graph.edges
    assert edge not in b.graph.edges and cmd.text == "Insert BatchNorm2d"
    assert analyze(b.graph).ok
    with pytest.raises(CommandError, match="cannot be inserted"):
        insert_on_edge(b.graph, "input", Edge(bn, b.id("relu1"), 0), (0, 0))


def test_insert_on_edge_keeps_the_merge_port():
    b = GraphBuilder()
    x = b.add("input", channels=2, height=4, width=4)
    r = b.add("relu", x)
    add = b.add("add", x, r)
    h = UndoHistory(ProjectDocument(graph=b.graph))
    h.push(insert_on_edge(b.graph, "dropout", Edge(r, add, 1), (0, 0)))
    assert Edge(b.id("dropout1"), add, 1) in b.graph.edges


def test_append_after(net):
    b, h = net
    cmd = roundtrip(h, append_after(b.graph, "flatten", b.id("pool1"), (0, 0)))
    assert cmd.text == "Append Flatten"
    assert Edge(b.id("pool1"), b.id("flatten1"), 0) in b.graph.edges
    assert analyze(b.graph).ok
    assert isinstance(append_after(b.graph, "input", b.id("pool1"), (0, 0)), AddNode)
    assert isinstance(append_after(b.graph, "relu", None, (0, 0)), AddNode)


def test_copy_paste(net):
    b, h = net
    clip = fragment_of(b.graph, [b.id("relu1"), b.id("conv1")])
    assert [n["name"] for n in clip["nodes"]] == ["conv1", "relu1"]
    assert clip["edges"] == [{"src": b.id("conv1"), "dst": b.id("relu1"), "port": 0}]
    cmd = roundtrip(h, paste_nodes(b.graph, clip, offset=(30, 30)))
    assert cmd.text == "Paste 2 layers"
    conv2, relu2 = b.id("conv2"), b.id("relu2")
    assert Edge(conv2, relu2, 0) in b.graph.edges
    assert b.graph.nodes[conv2].params == b.graph.nodes[b.id("conv1")].params
    x, y = b.graph.positions[b.id("conv1")]
    assert b.graph.positions[conv2] == (x + 30, y + 30)
    # a pasted name that is free is kept
    clip = fragment_of(b.graph, [conv2])
    clip["nodes"][0]["name"] = "stem"
    h.push(paste_nodes(b.graph, clip))
    assert b.graph.node_by_name("stem") is not None


def test_history_signals_and_empty_stacks():
    graph = GraphModel()
    h = UndoHistory(ProjectDocument(graph=graph))
    seen = []
    h.changed.connect(lambda: seen.append(1))
    assert not h.undo() and not h.redo() and h.is_clean
    h.push(AddNode("input"))
    assert seen == [1] and h.can_undo and not h.can_redo
    h.undo()
    assert h.can_redo and seen == [1, 1]
    h.push(AddNode("relu"))
    assert not h.can_redo  # a new edit drops the redo stack


def test_model_events_fire_for_each_change(net):
    b, h = net
    log = []
    g = b.graph
    g.node_added.connect(lambda n: log.append(("added", n.name)))
    g.node_removed.connect(lambda n: log.append(("removed", n.name)))
    g.edge_removed.connect(lambda e: log.append(("edge_removed", g.nodes[e.src].name)))
    g.params_changed.connect(lambda nid, name, value: log.append(("param", name, value)))
    g.node_renamed.connect(lambda nid, name: log.append(("renamed", name)))
    h.push(SetParam(b.id("conv1"), "out_channels", 3))
    h.push(RenameNode(b.id("conv1"), "stem"))
    h.push(RemoveNodes([b.id("relu1")]))
    h.undo()
    assert log == [("param", "out_channels", 3), ("renamed", "stem"),
                   ("edge_removed", "stem"), ("edge_removed", "relu1"), ("removed", "relu1"),
                   ("added", "relu1")]


# -- a random editing session, undone and redone entirely ---------------------------------
KINDS = ["conv2d", "relu", "batchnorm2d", "maxpool2d", "dense", "flatten", "add", "concat",
         "dropout", "weighted_sum", "input"]
PARAM_EDITS = {
    "conv2d": [("out_channels", st.integers(-1, 20)), ("kernel_size", st.sampled_from([1, 3, [3, 5], 0])),
               ("padding", st.sampled_from([0, 1, "same", "full", [1, 2]])), ("bias", st.booleans())],
    "dense": [("units", st.integers(0, 20)), ("activation", st.sampled_from(["relu", "none", "swish"]))],
    "dropout": [("p", st.floats(-0.5, 1.5, allow_nan=False))],
    "maxpool2d": [("kernel_size", st.integers(0, 4)), ("stride", st.sampled_from([None, 1, 2]))],
    "input": [("channels", st.integers(0, 4)), ("height", st.integers(1, 40))],
    "weighted_sum": [("weights", st.sampled_from([[], [1.0, 2.0], "x"])),
                     ("learnable", st.booleans())],
    "batchnorm2d": [("momentum", st.floats(0, 2))],
}
OPS = ["add", "add", "remove", "connect", "connect", "disconnect", "set_param", "set_param",
       "rename", "move", "paste", "insert_on_edge", "append_after", "undo", "redo"]


def _draw_command(data, graph: GraphModel):
    op = data.draw(st.sampled_from(OPS), label="op")
    ids = list(graph.nodes)
    pick = (lambda label: data.draw(st.sampled_from(ids), label=label)) if ids else None
    if op in ("undo", "redo"):
        return op
    if op == "add" or not ids:
        return AddNode(data.draw(st.sampled_from(KINDS), label="kind"),
                       (data.draw(st.integers(-500, 500)), data.draw(st.integers(-500, 500))))
    if op == "remove":
        return RemoveNodes(data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3), label="ids"))
    if op == "connect":
        port = data.draw(st.one_of(st.none(), st.integers(0, 2)), label="port")
        return Connect(pick("src"), pick("dst"), port)
    if op == "disconnect":
        if not graph.edges:
            return Disconnect(Edge(ids[0], ids[-1], 0))  # refused: no such connection
        return Disconnect(data.draw(st.sampled_from(graph.edges), label="edge"))
    if op == "set_param":
        nid = pick("node")
        edits = PARAM_EDITS.get(graph.nodes[nid].kind, [("nonexistent", st.just(1))])
        name, values = data.draw(st.sampled_from(edits), label="param")
        return SetParam(nid, name, data.draw(values, label="value"))
    if op == "rename":
        others = [graph.nodes[n].name for n in ids]
        name = data.draw(st.sampled_from(others + ["stem", "head", "block_a", "9bad", "for"]),
                         label="name")
        return RenameNode(pick("node"), name)
    if op == "move":
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
        return MoveNodes({n: (data.draw(st.floats(-1e3, 1e3)), data.draw(st.floats(-1e3, 1e3)))
                          for n in chosen})
    if op == "paste":
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True))
        return paste_nodes(graph, fragment_of(graph, chosen))
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    try:
        if op == "insert_on_edge":
            if not graph.edges:
                return AddNode(kind)
            return insert_on_edge(graph, kind, data.draw(st.sampled_from(graph.edges)), (0.0, 0.0))
        return append_after(graph, kind, pick("after"), (1.0, 1.0))
    except CommandError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_session_undone_and_redone_entirely(data):
    b = GraphBuilder()
    x = b.add("input", channels=1, height=8, width=8)
    b.add("relu", b.add("conv2d", x, out_channels=4))
    graph = b.graph
    history = UndoHistory(ProjectDocument(graph=graph))
    start = snapshot(graph)
    states = [start]  # the document after each undo step, by history depth
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        cmd = _draw_command(data, graph)
        if cmd is None:
            continue
        if cmd == "undo":
            if history.undo():
                assert snapshot(graph) == states[len(history.texts())]
            continue
        if cmd == "redo":
            if history.redo():
                assert snapshot(graph) == states[len(history.texts())]
            continue
        before = snapshot(graph)
        depth = len(history.texts())
        try:
            history.push(cmd)
        except CommandError:
            assert snapshot(graph) == before, f"refused {type(cmd).__name__} changed the graph"
            assert len(history.texts()) == depth
            continue
        note(history.texts()[-1])
        # drop the redo-able states and, when the edit merged into the previous step,
        # the state it replaces
        del states[len(history.texts()):]
        states.append(snapshot(graph))
        analyze(graph)  # never raises, whatever the edits produced
    assert snapshot(graph) == states[len(history.texts())]
    while history.undo():
        assert snapshot(graph) == states[len(history.texts())]
    assert snapshot(graph) == start
    while history.redo():
        pass
    # redo all: the last document of the session (including steps undone at its end)
    assert len(history.texts()) == len(states) - 1
    assert snapshot(graph) == states[-1]
