"""Block instances on the canvas: how they look, Group into Block / Ungroup / Detach with
real keys and clicks, the refusal of a selection with two outputs, the block menus."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from visionstudio.core.graph import Disconnect, Edge, SetParam
from visionstudio.ui.canvas import context_menu as cm
from visionstudio.ui.canvas.block_item import BlockItem
from visionstudio.ui.canvas.layer_menu import ContextMenu
from visionstudio.ui.shell.controller import DocumentController

from .block_helpers import (
    CHANNELS,
    click_node,
    double_click_node,
    install_window_actions,
    press,
    two_instances,
)
from .canvas_helpers import add, drag, open_view, snapshot, vpos, wire

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def view(qtbot, controller):
    v = open_view(qtbot, controller, centre=(0.0, 260.0))
    v.window_actions = install_window_actions(v)
    v.messages = []
    v.status_message.connect(v.messages.append)
    controller.refused.connect(v.messages.append)
    return v


@pytest.fixture
def chain(controller):
    """input -> conv_a -> relu_a -> conv_b -> flatten -> dense, one column."""
    ids = [add(controller, "input", (0, 0), channels=3, height=8, width=8),
           add(controller, "conv2d", (0, 130), out_channels=4),
           add(controller, "relu", (0, 260)),
           add(controller, "conv2d", (0, 390), out_channels=4),
           add(controller, "flatten", (0, 520)),
           add(controller, "dense", (0, 650), units=10)]
    for a, b in zip(ids, ids[1:]):
        wire(controller, a, b)
    controller.undo_stack.clear()
    return ids


def entries(menu) -> dict[str, object]:
    return {a.text().replace("&", ""): a for a in menu.actions() if not a.isSeparator() and a.text()}


# -- the look -----------------------------------------------------------------------------
def test_an_instance_is_drawn_as_a_block_with_its_definitions_title_shape_and_params(view, controller):
    ids = two_instances(controller)
    item = view.graph_scene.node_item(ids["block1"])
    assert isinstance(item, BlockItem)
    assert not isinstance(view.graph_scene.node_item(ids["flatten"]), BlockItem)
    assert (item.name, item.kind_title) == ("block1", "Basic block")
    assert item.summary == f"channels {CHANNELS}"          # the exposed values, each name once
    assert item.shape_text == f"{CHANNELS}×8×8"
    info = controller.analysis.nodes[ids["block1"]]
    assert info.params > 0 and item.params_text.endswith("params")
    assert "double-click to open it" in item.toolTip()
    assert len(item.input_ports) == 1 and item.input_ports[0].isVisible()
    image = view.grab().toImage()     # painted without error: the card behind shows
    assert not image.isNull()


def test_a_problem_inside_shows_on_the_instance(view, controller):
    ids = two_instances(controller)
    assert controller.push(SetParam(ids["block2"], "stride", 2))   # identity add: 8×4×4 + 8×8×8
    item = view.graph_scene.node_item(ids["block2"])
    assert item.has_error
    assert item.problem_text.startswith("inside basic_block, add:")
    assert item.shape_text == "?"
    assert not view.graph_scene.node_item(ids["block1"]).has_error


def test_each_connection_lands_on_the_block_input_it_feeds(view, controller, qtbot):
    """Two branches grouped: the block has two input ports, one connection on each."""
    a = add(controller, "input", (-120, 0), channels=2, height=4, width=4)
    b = add(controller, "input", (120, 0), channels=2, height=4, width=4)
    merge = add(controller, "add", (0, 130))
    relu = add(controller, "relu", (0, 260))
    out = add(controller, "flatten", (0, 390))
    for src, dst in ((a, merge), (b, merge), (merge, relu), (relu, out)):
        wire(controller, src, dst)
    controller.set_selection([merge, relu])
    instance = view.group_into_block()
    assert instance is not None
    item = view.graph_scene.node_item(instance)
    assert len(item.input_ports) == 2
    offsets = {e.edge.port: e.dst_offset for e in item.edges if e.dst is item}
    assert offsets == {0: item.port_offset(0), 1: item.port_offset(1)} and offsets[0] < offsets[1]
    assert all(port.connected for port in item.input_ports)
    # a connection dropped on the second port is numbered for it
    controller.push(Disconnect(Edge(b, instance, 1)))
    assert not item.input_ports[1].connected
    start = vpos(view, view.graph_scene.node_item(b).output_port.scenePos())
    end = vpos(view, item.input_ports[1].scenePos())
    drag(view, start, end)
    assert Edge(b, instance, 1) in controller.graph.edges


# -- group, undo, redo ---------------------------------------------------------------------
def test_ctrl_g_groups_the_selection_and_undo_redo_restore_it_exactly(view, controller, chain, qtbot):
    before = snapshot(controller)
    click_node(view, chain[1])
    click_node(view, chain[2], CTRL)
    assert controller.selection == [chain[1], chain[2]]
    press(view, Qt.Key.Key_G, CTRL)
    graph = controller.graph
    assert len(graph.blocks) == 1
    (instance,) = [n for n in graph.nodes.values() if n.kind == "block"]
    assert controller.selection == [instance.id]
    assert chain[1] not in graph.nodes and chain[2] not in graph.nodes
    assert graph.inputs_of(instance.id)[0].src == chain[0]
    assert graph.outputs_of(instance.id)[0].dst == chain[3]
    assert isinstance(view.graph_scene.node_item(instance.id), BlockItem)
    assert controller.analysis.ok
    press(view, Qt.Key.Key_Z, CTRL)
    assert snapshot(controller) == before and len(graph.blocks) == 0
    assert view.graph_scene.node_item(chain[1]) is not None
    press(view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert instance.id in graph.nodes and len(graph.blocks) == 1


def test_a_selection_with_two_outputs_is_refused_with_the_reason(view, controller, chain):
    branch = add(controller, "relu", (200, 390))
    wire(controller, chain[2], branch)          # relu feeds conv_b and the new relu
    before = snapshot(controller)
    click_node(view, chain[1])
    click_node(view, chain[3], CTRL)            # conv_a and conv_b: both send out
    press(view, Qt.Key.Key_G, CTRL)
    assert snapshot(controller) == before
    assert view.messages and "one output" in view.messages[-1]
    steps = controller.undo_stack.count()
    controller.set_selection([])
    press(view, Qt.Key.Key_G, CTRL)
    assert view.messages[-1] == "Select the layers to group into a block"
    assert controller.undo_stack.count() == steps


# -- ungroup, detach -----------------------------------------------------------------------
def test_ctrl_shift_g_ungroups_and_undo_brings_the_block_back(view, controller, chain):
    controller.set_selection([chain[1], chain[2]])
    instance = view.group_into_block()
    before = snapshot(controller)
    click_node(view, instance)
    press(view, Qt.Key.Key_G, CTRL | SHIFT)
    graph = controller.graph
    assert instance not in graph.nodes
    assert sorted(graph.nodes[n].kind for n in controller.selection) == ["conv2d", "relu"]
    assert sorted(n.kind for n in graph.nodes.values()) == sorted(
        ["input", "conv2d", "relu", "conv2d", "flatten", "dense"])
    assert len(graph.blocks) == 0                 # no other instance used it
    assert controller.analysis.ok
    press(view, Qt.Key.Key_Z, CTRL)
    assert snapshot(controller) == before


def test_detach_from_the_instance_menu_gives_it_its_own_definition(view, controller):
    ids = two_instances(controller)
    menu = cm.menu_for_node(view, ids["block2"])
    items = entries(menu)
    assert {"Open Block", "Ungroup Block", "Detach Block (Make Unique)"} <= set(items)
    assert items["Open Block"].font().bold()
    items["Detach Block (Make Unique)"].trigger()
    graph = controller.graph
    key2 = graph.nodes[ids["block2"]].params["block"]
    assert key2 != "basic_block" and key2 in graph.blocks
    assert graph.nodes[ids["block1"]].params["block"] == "basic_block"
    item = view.graph_scene.node_item(ids["block2"])
    assert item.kind_title == graph.blocks.get(key2).title
    # an edit of the copy changes the detached instance only
    params = {b: controller.network_analysis.nodes[ids[b]].params for b in ("block1", "block2")}
    double_click_node(view, ids["block2"])
    assert controller.scope[-1].key == key2
    conv1 = controller.graph.node_by_name("conv1").id
    assert controller.push(SetParam(conv1, "bias", True))
    press(view, Qt.Key.Key_Escape)
    assert controller.network_analysis.nodes[ids["block2"]].params == params["block2"] + CHANNELS
    assert controller.network_analysis.nodes[ids["block1"]].params == params["block1"]
    assert controller.undo() and controller.undo()
    assert graph.nodes[ids["block2"]].params["block"] == "basic_block" and key2 not in graph.blocks


def test_group_is_in_the_layer_menu_and_the_canvas_menu_of_a_selection(view, controller, chain, monkeypatch):
    controller.set_selection([chain[1], chain[2]])
    layer_menu = entries(cm.menu_for_node(view, chain[2]))
    assert "Group 2 Layers into Block" in layer_menu
    assert "Open Block" not in layer_menu               # not an instance
    shown: list[dict] = []

    def fake_exec(menu, *args, **kwargs):  # the shown menu, chosen from at once
        shown.append(entries(menu))
        if "Group 2 Layers into Block" in shown[-1]:
            shown[-1]["Group 2 Layers into Block"].trigger()

    monkeypatch.setattr(ContextMenu, "exec", fake_exec)
    # a real right-click on empty canvas keeps the selection, and its menu groups it
    window_point = view.viewport().mapTo(view.window(), QPoint(800, 40))
    QTest.mouseClick(view.window().windowHandle(), Qt.MouseButton.RightButton, pos=window_point)
    assert "Add Layer" in shown[-1] and "Group 2 Layers into Block" in shown[-1]
    assert any(n.kind == "block" for n in controller.graph.nodes.values())
    controller.set_selection([])
    empty = entries(cm.menu_for_canvas(view, view.mapToScene(QPoint(5, 5))))
    assert not any(text.startswith("Group") for text in empty)
