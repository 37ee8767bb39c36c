"""Editing a block definition on the canvas: open by double-click, edit inside (every
instance changes), the breadcrumb back, each level's view kept, undo from outside,
the training lock inside, and a project saved and opened again with its blocks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from visionstudio.core.blocks.analysis import analyze_definition
from visionstudio.core.graph import MoveNodes, SetParam
from visionstudio.core.layers import fmt_shape
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.canvas.block_item import BlockItem
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.scope import ScopeLevel

from .block_helpers import (
    CHANNELS,
    click_node,
    double_click_node,
    install_window_actions,
    node_named,
    press,
    two_instances,
)
from .canvas_helpers import open_view
from .shell_helpers import make_window

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def view(qtbot, controller):
    v = open_view(qtbot, controller, centre=(0.0, 260.0))
    install_window_actions(v)
    v.messages = []
    v.status_message.connect(v.messages.append)
    controller.refused.connect(v.messages.append)
    return v


@pytest.fixture
def ids(controller):
    return two_instances(controller)


def inner_ids(controller, instance: str) -> set[str]:
    return set(controller.network_analysis.nodes[instance].inner.nodes)


def test_double_click_opens_the_definition_under_a_breadcrumb(view, controller, ids):
    double_click_node(view, ids["block2"])
    assert controller.scope == (ScopeLevel("basic_block", ids["block2"]),)
    bar = view.breadcrumb
    assert bar.isVisible() and bar.crumb_texts() == ["Network", "Basic block"]
    assert "all 2 instances" in bar.note.text()
    assert view.viewportMargins().top() == bar.height()   # the bar covers no layer
    definition = controller.document.graph.blocks.get("basic_block")
    scene = view.graph_scene
    assert {i.node_id for i in scene.node_items()} == set(definition.graph.nodes)
    assert not any(isinstance(i, BlockItem) for i in scene.node_items())
    conv1 = scene.node_item(node_named(definition.graph, "conv1"))
    assert conv1.shape_text == f"{CHANNELS}×8×8"      # the instance's shapes, not "?"
    assert controller.graph is definition.graph
    # the summary side of the controller still sees the whole network
    assert ids["block1"] in controller.network_analysis.nodes


def test_an_edit_inside_changes_every_instance_and_undoes_from_outside(view, controller, ids, qtbot):
    palette = LayerPalette(controller)
    qtbot.addWidget(palette)
    palette.show()
    double_click_node(view, ids["block1"])
    definition = controller.graph
    relu1 = node_named(definition, "relu1")
    click_node(view, relu1)
    assert controller.selection == [relu1]
    params_before = controller.network_analysis.nodes[ids["block2"]].params
    item = palette.item_for("batchnorm2d")
    palette.tree.scrollToItem(item)
    rect, tree = palette.tree.visualItemRect(item), palette.tree.viewport()
    QTest.mouseClick(tree, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(tree, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    (added,) = [nid for nid, n in definition.nodes.items() if n.kind == "batchnorm2d" and n.name not in
                ("bn1", "bn2")]
    assert controller.selection == [added]
    assert view.graph_scene.node_item(added) is not None
    assert controller.analysis.nodes[added].output_shape == (CHANNELS, 8, 8)
    assert controller.undo_stack.undoText().endswith("in Basic block")
    # back through the breadcrumb's first crumb, with a real click
    QTest.mouseClick(view.breadcrumb.crumbs[0], Qt.MouseButton.LeftButton)
    assert controller.scope == () and not view.breadcrumb.isVisible()
    assert controller.selection == [ids["block1"]]       # where the canvas came out
    for instance in ("block1", "block2"):
        assert added in inner_ids(controller, ids[instance])
        assert controller.network_analysis.nodes[ids[instance]].params == params_before + 2 * CHANNELS
    item2 = view.graph_scene.node_item(ids["block2"])
    assert item2.params_text == view.graph_scene.node_item(ids["block1"]).params_text
    press(view, Qt.Key.Key_Z, CTRL)                    # the inner step, undone outside
    assert added not in definition.nodes
    assert controller.network_analysis.nodes[ids["block2"]].params == params_before
    press(view, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert added in definition.nodes


def test_a_parameter_changed_inside_shows_on_both_instances(view, controller, ids):
    click_node(view, ids["block1"])
    press(view, Qt.Key.Key_Return, CTRL)                 # Open Block from the keyboard
    assert controller.scope == (ScopeLevel("basic_block", ids["block1"]),)
    conv1 = node_named(controller.graph, "conv1")
    assert controller.push(SetParam(conv1, "kernel_size", 5))
    assert controller.push(SetParam(conv1, "kernel_size", 1))   # merged with the first: one step
    assert controller.undo_stack.count() == 1
    assert view.graph_scene.node_item(conv1).summary.startswith(f"{CHANNELS} · 1×1")
    press(view, Qt.Key.Key_Escape)                       # Esc goes up one level
    assert controller.scope == ()
    small = controller.network_analysis.nodes[ids["block1"]].params
    assert small == controller.network_analysis.nodes[ids["block2"]].params
    assert controller.undo()
    assert controller.network_analysis.nodes[ids["block2"]].params > small


def test_each_level_keeps_its_view_position(view, controller, ids):
    view.set_zoom(0.8)
    view.centerOn(40.0, 300.0)
    before = view.mapToScene(view.viewport().rect().center())
    double_click_node(view, ids["block2"])
    view.set_zoom(1.6)
    view.centerOn(0.0, 0.0)
    inside = view.mapToScene(view.viewport().rect().center())
    press(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)        # Leave Block
    assert controller.scope == ()
    assert view.zoom == pytest.approx(0.8)
    after = view.mapToScene(view.viewport().rect().center())
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    double_click_node(view, ids["block2"])
    assert view.zoom == pytest.approx(1.6)
    again = view.mapToScene(view.viewport().rect().center())
    assert abs(again.x() - inside.x()) < 2 and abs(again.y() - inside.y()) < 2


def test_undoing_the_group_while_inside_goes_back_to_the_network(view, controller, ids):
    controller.set_selection([ids["flatten"], ids["dense"]])
    instance = view.group_into_block()
    double_click_node(view, instance)
    assert controller.scope[-1].instance == instance
    press(view, Qt.Key.Key_Z, CTRL)
    assert controller.scope == () and not view.breadcrumb.isVisible()
    assert view.graph_scene.node_item(ids["flatten"]) is not None


def test_inner_edits_are_refused_while_training_but_moves_are_not(view, controller, ids):
    controller.lock("Stop training to change the model", allow=lambda c: isinstance(c, MoveNodes))
    assert controller.open_definition("basic_block", ids["block1"])   # looking is allowed
    conv1 = node_named(controller.graph, "conv1")
    assert not controller.push(SetParam(conv1, "kernel_size", 5))
    assert view.messages[-1] == "Stop training to change the model"
    assert controller.graph.nodes[conv1].params["kernel_size"] == 3
    assert controller.push(MoveNodes({conv1: (300.0, 0.0)}))


def test_in_the_window_group_edit_inside_save_and_open_again(qtbot, tmp_path):
    """The real window: Edit menu entries, Ctrl+G, an edit inside, Ctrl+S, File › Open."""
    window = make_window(qtbot, tmp_path, show=True)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    controller, canvas = window.controller, window.canvas
    controller.replace_document(ProjectDocument())
    ids = two_instances(controller)
    edit_menu = [a.objectName() for a in window.menus["edit"].actions()]
    assert {"action_group_block", "action_ungroup_block", "action_detach_block", "action_open_block",
            "action_leave_block"} <= set(edit_menu)
    canvas.set_zoom(1.0)
    canvas.centerOn(0.0, 400.0)
    click_node(canvas, ids["flatten"])
    click_node(canvas, ids["dense"], CTRL)
    press(canvas, Qt.Key.Key_G, CTRL)
    assert controller.selection and window.statusBar().currentMessage() == ""
    (head,) = [n.id for n in controller.graph.nodes.values()
               if n.kind == "block" and n.id not in ids.values()]
    head_key = controller.graph.nodes[head].params["block"]
    canvas.centerOn(0.0, 260.0)
    double_click_node(canvas, ids["block2"])
    conv2 = node_named(controller.graph, "conv2")
    assert controller.push(SetParam(conv2, "bias", True))
    press(canvas, Qt.Key.Key_Escape)
    path = tmp_path / "blocks.vsproj"
    window.answers.save_path = str(path)
    press(canvas, Qt.Key.Key_S, CTRL)
    assert path.exists() and not window.answers.errors
    assert window.files.open_path(path, ask=False)
    graph = controller.graph
    assert controller.scope == () and not canvas.breadcrumb.isVisible()
    assert [graph.nodes[ids[b]].params["block"] for b in ("block1", "block2")] == ["basic_block"] * 2
    assert graph.nodes[head].params["block"] == head_key
    assert set(graph.blocks.keys()) == {"basic_block", head_key}
    assert graph.blocks.get("basic_block").graph.node_by_name("conv2").params["bias"] is True
    assert all(isinstance(canvas.graph_scene.node_item(ids[b]), BlockItem) for b in ("block1", "block2"))
    assert controller.network_analysis.ok
    canvas.centerOn(0.0, 260.0)
    double_click_node(canvas, ids["block2"])
    assert controller.graph is graph.blocks.get("basic_block").graph
    assert canvas.breadcrumb.crumb_texts() == ["Network", "Basic block"]


def test_a_definition_opened_without_an_instance_shows_its_preview_shapes(view, controller, ids):
    assert controller.open_definition("basic_block")
    conv1 = node_named(controller.graph, "conv1")
    expected = analyze_definition(controller.document.graph.blocks, "basic_block").nodes[conv1].output_shape
    assert expected is not None
    assert view.graph_scene.node_item(conv1).shape_text == fmt_shape(expected)
    assert view.breadcrumb.crumb_texts() == ["Network", "Basic block"]
    assert "all 2 instances" in view.breadcrumb.note.text()


def test_a_block_grouped_inside_a_block_opens_two_levels_deep(view, controller, ids):
    double_click_node(view, ids["block1"])
    outer = controller.graph
    conv1, bn1 = node_named(outer, "conv1"), node_named(outer, "bn1")
    click_node(view, conv1)
    click_node(view, bn1, CTRL)
    press(view, Qt.Key.Key_G, CTRL)                     # grouped inside the definition
    (nested,) = [nid for nid, n in outer.nodes.items() if n.kind == "block"]
    assert controller.undo_stack.undoText().endswith("in Basic block")
    assert controller.network_analysis.ok
    # both instances of the outer block now hold the nested one
    for instance in ("block1", "block2"):
        assert nested in inner_ids(controller, ids[instance])
    double_click_node(view, nested)
    nested_key = outer.nodes[nested].params["block"]
    assert [level.key for level in controller.scope] == ["basic_block", nested_key]
    texts = view.breadcrumb.crumb_texts()
    assert texts[:2] == ["Network", "Basic block"] and len(texts) == 3
    inner_conv = node_named(controller.graph, "conv1")
    assert view.graph_scene.node_item(inner_conv).shape_text == f"{CHANNELS}×8×8"
    QTest.mouseClick(view.breadcrumb.crumbs[1], Qt.MouseButton.LeftButton)
    assert controller.graph is outer and controller.selection == [nested]
    press(view, Qt.Key.Key_Escape)
    assert controller.scope == ()
    press(view, Qt.Key.Key_Z, CTRL)                      # the nested group, undone from outside
    assert nested_key not in controller.document.graph.blocks
    assert conv1 in outer.nodes


def test_a_summary_row_clicked_inside_a_block_goes_back_to_the_network(qtbot, tmp_path):
    """The summary lists the whole network: picking one of its rows while a block is open
    leaves the block and selects that layer on the network's canvas."""
    window = make_window(qtbot, tmp_path, show=True)
    controller = window.controller
    controller.replace_document(ProjectDocument())
    ids = two_instances(controller)
    assert controller.open_definition("basic_block", ids["block1"])
    table = window.summary.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "dense1")
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert controller.scope == ()
    assert controller.selection == [ids["dense"]]
