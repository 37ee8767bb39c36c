"""Find and overview: Ctrl+F finds a layer, the minimap, arrows along edges, Tab leaves tables.

Real key and mouse events throughout (QTest through qtbot): the findings were about
what the keyboard and the mouse do, not about what the methods do when called.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from visionstudio.core.graph import MoveNodes
from visionstudio.core.templates import load_template
from visionstudio.ui.canvas.find import DOWN, LEFT, RIGHT, UP, completion_words, find_layers, step_along_edges
from visionstudio.ui.inspector.summary_panel import SummaryPanel
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, open_view, wire
from .shell_helpers import make_window

KEY, CTRL, SHIFT = Qt.Key, Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def view(qtbot, controller):
    return open_view(qtbot, controller, (0, 0))


def chain(controller, n: int, kind: str = "relu", dy: float = 120.0) -> list[str]:
    ids = [add(controller, "input", (0.0, 0.0))]
    for i in range(1, n):
        ids.append(add(controller, kind, (0.0, i * dy)))
        wire(controller, ids[-2], ids[-1])
    return ids


def branch(controller) -> dict[str, str]:
    """input -> a, which feeds left and right (right placed first in the edge list), then add."""
    ids = {"input": add(controller, "input", (0.0, 0.0)), "a": add(controller, "relu", (0.0, 120.0)),
           "right": add(controller, "relu", (240.0, 240.0)), "left": add(controller, "relu", (-240.0, 240.0)),
           "add": add(controller, "add", (0.0, 360.0))}
    for src, dst in (("input", "a"), ("a", "right"), ("a", "left"), ("left", "add"), ("right", "add")):
        wire(controller, ids[src], ids[dst])
    return ids


def centre_in_view(view, node_id: str) -> QPointF:
    """Where the layer's centre is on the viewport, minus the viewport's centre."""
    pos = view.mapFromScene(view.graph_scene.node_item(node_id).scenePos())
    return QPointF(pos) - QPointF(view.viewport().rect().center())


# -- the matching rules ----------------------------------------------------------------
def test_find_layers_matches_name_and_kind_in_reading_order(controller):
    ids = chain(controller, 4, kind="conv2d")
    g = controller.graph
    assert find_layers(g, "CONV") == ids[1:]                 # the kind's key, any case
    assert find_layers(g, "conv2d_") == []
    assert g.nodes[ids[3]].name == "conv3" and find_layers(g, "CONV3") == [ids[3]]
    assert find_layers(g, "inp") == [ids[0]]
    assert find_layers(g, "  ") == []
    words = completion_words(g)
    assert g.nodes[ids[1]].name in words and "Input" in words


def test_step_along_edges_rules(controller):
    ids = branch(controller)
    g = controller.graph
    assert step_along_edges(g, ids["a"], DOWN) == ids["left"]    # the left-most successor
    assert step_along_edges(g, ids["left"], RIGHT) == ids["right"]
    assert step_along_edges(g, ids["right"], LEFT) == ids["left"]
    assert step_along_edges(g, ids["left"], LEFT) is None
    assert step_along_edges(g, ids["add"], UP) == ids["left"]
    assert step_along_edges(g, ids["add"], UP, came_from=ids["right"]) == ids["right"]
    assert step_along_edges(g, ids["input"], UP) is None
    assert step_along_edges(g, "gone", DOWN) is None


# -- Ctrl+F ------------------------------------------------------------------------------
def test_ctrl_f_in_the_window_opens_the_find_bar(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    action = w.actions_by_name["find"]
    assert action in w.menus["edit"].actions()
    assert any(s.toString() == "Ctrl+F" for s in action.shortcuts())
    w.activateWindow()
    w.canvas.setFocus()
    qtbot.waitUntil(lambda: w.canvas.hasFocus())
    qtbot.keyClick(w.canvas, KEY.Key_F, CTRL)
    bar = w.canvas.find_bar
    assert bar.isVisible() and bar.edit.hasFocus()
    dense = next(n for n in w.controller.graph.nodes.values() if n.kind == "dense")
    qtbot.keyClicks(bar.edit, dense.name)
    qtbot.keyClick(bar.edit, KEY.Key_Return)
    assert w.controller.selection == [dense.id]
    from visionstudio.ui.dialogs.shortcuts import shortcut_rows

    rows = {name: keys for name, keys, _tip in shortcut_rows(w)}
    assert rows["Find Layer"] == "Ctrl+F"
    assert rows["Find Next Layer"] == "F3" and rows["Find Previous Layer"] == "Shift+F3"
    if bar.completer.popup().isVisible():                 # the completion list has the keys first
        qtbot.keyClick(bar.completer.popup(), KEY.Key_Escape)
    qtbot.keyClick(bar.edit, KEY.Key_Escape)
    assert not bar.isVisible() and w.canvas.hasFocus()
    w.controller.set_selection([])
    qtbot.keyClick(w.canvas, KEY.Key_F3)                  # the window's F3 reaches the canvas's action
    assert w.controller.selection == [dense.id]
    table = w.summary.table                               # and the summary shows that row
    row = w.summary.node_ids().index(dense.id)
    assert table.viewport().rect().intersects(table.visualRect(table.model().index(row, 0)))


def test_type_and_enter_selects_and_centres_each_match(qtbot, view, controller):
    ids = chain(controller, 12, kind="conv2d", dy=300.0)
    view.centerOn(0, 0)
    view.setFocus()
    view.show_find()
    bar = view.find_bar
    assert bar.isVisible() and bar.edit.hasFocus()
    qtbot.keyClicks(bar.edit, "conv")
    assert bar.status.text() == "11 layers match"
    popup = bar.completer.popup()
    if popup.isVisible():                                  # the completion list has the keys first
        qtbot.keyClick(popup, KEY.Key_Escape)
    assert not popup.isVisible() and bar.isVisible()
    qtbot.keyClick(bar.edit, KEY.Key_Return)
    assert controller.selection == [ids[1]]
    assert centre_in_view(view, ids[1]).manhattanLength() < 3
    qtbot.keyClick(bar.edit, KEY.Key_Return)
    assert controller.selection == [ids[2]] and bar.status.text() == "2 of 11"
    assert centre_in_view(view, ids[2]).manhattanLength() < 3
    qtbot.keyClick(bar.edit, KEY.Key_F3)
    assert controller.selection == [ids[3]]
    qtbot.keyClick(bar.edit, KEY.Key_F3, SHIFT)
    qtbot.keyClick(bar.edit, KEY.Key_Return, SHIFT)
    assert controller.selection == [ids[1]]
    qtbot.keyClick(bar.edit, KEY.Key_Return, SHIFT)        # wraps round to the last
    assert controller.selection == [ids[-1]]
    assert view.zoom >= 0.75 - 1e-6
    qtbot.keyClick(bar.edit, KEY.Key_Escape)
    assert not bar.isVisible() and view.hasFocus()
    qtbot.keyClick(view, KEY.Key_F3)                       # F3 on the canvas: the next match again
    assert controller.selection == [ids[1]]


def test_picking_a_completion_goes_to_its_layer(qtbot, view, controller):
    ids = chain(controller, 5, kind="conv2d")
    controller.set_selection([ids[1]])
    view.show_find()
    bar = view.find_bar
    qtbot.keyClicks(bar.edit, "nv4")
    popup = bar.completer.popup()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, KEY.Key_Down)
    qtbot.keyClick(popup, KEY.Key_Return)
    assert bar.edit.text() == "conv4" and controller.selection == [ids[4]]
    assert not popup.isVisible() and bar.isVisible()


def test_no_match_says_so_and_keeps_the_selection(qtbot, view, controller):
    ids = chain(controller, 3)
    controller.set_selection([ids[1]])
    view.show_find()
    qtbot.keyClicks(view.find_bar.edit, "lstm")
    assert view.find_bar.status.text() == "No layer matches 'lstm'"
    qtbot.keyClick(view.find_bar.edit, KEY.Key_Return)
    assert view.find_bar.status.text() == "No layer matches 'lstm'"
    assert controller.selection == [ids[1]]


def test_keys_typed_in_the_find_bar_stay_there(qtbot, view, controller):
    ids = chain(controller, 3)
    controller.set_selection([ids[1]])
    view.show_find()
    qtbot.keyClick(view.find_bar.edit, KEY.Key_Down)
    qtbot.keyClick(view.find_bar.edit, KEY.Key_Delete)
    assert controller.selection == [ids[1]] and len(controller.graph.nodes) == 3


# -- minimap --------------------------------------------------------------------------------
def test_minimap_only_when_the_graph_exceeds_the_view(qtbot, view, controller):
    ids = chain(controller, 3)
    view.fit_to_view()
    qtbot.wait(20)
    view.minimap.refresh()
    assert not view.minimap.isVisible()
    far = add(controller, "relu", (0.0, 2500.0))
    wire(controller, ids[-1], far)
    qtbot.waitUntil(lambda: view.minimap.isVisible())
    geo, vp = view.minimap.geometry(), view.viewport().geometry()
    assert vp.contains(geo) and geo.bottom() > vp.center().y() and geo.right() > vp.center().x()
    view.fit_to_view()                                    # the whole network fits again
    qtbot.waitUntil(lambda: not view.minimap.isVisible())


def test_minimap_click_and_drag_move_the_view(qtbot, view, controller):
    chain(controller, 40, dy=150.0)                        # 6,000 scene units tall
    view.set_zoom(1.0)
    view.centerOn(0, 0)
    qtbot.waitUntil(lambda: view.minimap.isVisible())
    mm = view.minimap
    bottom = mm.to_widget(QPointF(0.0, 5850.0)).toPoint()
    qtbot.mouseClick(mm, Qt.MouseButton.LeftButton, pos=bottom)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(QPointF(0.0, 5850.0))
    middle = mm.to_widget(QPointF(0.0, 3000.0)).toPoint()
    qtbot.mousePress(mm, Qt.MouseButton.LeftButton, pos=bottom)
    qtbot.mouseMove(mm, QPoint(middle.x(), (bottom.y() + middle.y()) // 2))
    qtbot.mouseMove(mm, middle)
    qtbot.mouseRelease(mm, Qt.MouseButton.LeftButton, pos=middle)
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.y() - 3000.0) < 3000.0 / mm.height() * 3 + 2


def test_minimap_follows_edits_and_new_documents(qtbot, view, controller):
    ids = chain(controller, 40, dy=150.0)
    qtbot.waitUntil(lambda: view.minimap.isVisible())
    before = view.minimap._bounds
    controller.push(MoveNodes({ids[-1]: (3000.0, 9000.0)}))
    qtbot.waitUntil(lambda: view.minimap._bounds != before)
    assert view.minimap._bounds.contains(QPointF(3000.0, 9000.0))
    controller.replace_document(load_template("lenet5"))
    view.fit_to_view()
    qtbot.waitUntil(lambda: not view.minimap.isVisible())


# -- arrows ------------------------------------------------------------------------------------
def test_arrows_walk_a_chain(qtbot, view, controller):
    ids = chain(controller, 8, dy=200.0)
    controller.set_selection([ids[0]])
    view.setFocus()
    for expected in ids[1:]:
        qtbot.keyClick(view, KEY.Key_Down)
        assert controller.selection == [expected]
    last = view.mapFromScene(view.graph_scene.node_item(ids[-1]).scenePos())
    assert view.viewport().rect().contains(last)           # the walk scrolls the canvas along
    qtbot.keyClick(view, KEY.Key_Down)                     # the end of the chain: stays
    assert controller.selection == [ids[-1]]
    qtbot.keyClick(view, KEY.Key_Up)
    qtbot.keyClick(view, KEY.Key_Up)
    assert controller.selection == [ids[-3]]
    assert controller.undo_stack.count() == 15           # 8 adds + 7 wires: nothing moved


def test_arrows_walk_a_branch_and_back(qtbot, view, controller):
    ids = branch(controller)
    controller.set_selection([ids["a"]])
    view.setFocus()
    qtbot.keyClick(view, KEY.Key_Down)
    assert controller.selection == [ids["left"]]
    qtbot.keyClick(view, KEY.Key_Right)
    assert controller.selection == [ids["right"]]
    qtbot.keyClick(view, KEY.Key_Down)
    assert controller.selection == [ids["add"]]
    qtbot.keyClick(view, KEY.Key_Up)                       # back up the arm it came down
    assert controller.selection == [ids["right"]]
    qtbot.keyClick(view, KEY.Key_Left)
    qtbot.keyClick(view, KEY.Key_Up)
    qtbot.keyClick(view, KEY.Key_Up)
    assert controller.selection == [ids["input"]]


def test_arrows_without_a_selection_still_scroll(qtbot, view, controller):
    chain(controller, 3)
    controller.set_selection([])
    view.setFocus()
    before = view.verticalScrollBar().value()
    qtbot.keyClick(view, KEY.Key_Down)
    assert view.verticalScrollBar().value() > before and controller.selection == []


# -- Tab leaves the summary table ------------------------------------------------------------------
def test_tab_leaves_the_summary_table(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    before = QLineEdit(host)
    panel = SummaryPanel(DocumentController(load_template("classic_cnn")), host)
    after = QLineEdit(host)
    layout = QVBoxLayout(host)
    for w in (before, panel, after):
        layout.addWidget(w)
    host.show()
    qtbot.waitExposed(host)
    table = panel.table
    table.setFocus()
    table.setCurrentCell(0, 0)
    qtbot.waitUntil(table.hasFocus)
    qtbot.keyClick(table, KEY.Key_Down)                  # the arrows still move between cells
    qtbot.keyClick(table, KEY.Key_Right)
    assert (table.currentRow(), table.currentColumn()) == (1, 1) and table.hasFocus()
    qtbot.keyClick(table, KEY.Key_Tab)
    assert after.hasFocus()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    qtbot.keyClick(table, KEY.Key_Backtab, SHIFT)
    assert before.hasFocus()


def test_no_table_in_the_window_traps_tab(qtbot, tmp_path):
    """Every item view of every panel (the later docks too) lets Tab move on."""
    from PySide6.QtWidgets import QAbstractItemView

    w = make_window(qtbot, tmp_path, show=True, panels=True)
    qtbot.waitUntil(lambda: w.later_docks_added, timeout=30_000)
    views = w.findChildren(QAbstractItemView)
    names = {v.objectName() for v in views}
    assert {"classMetrics"} <= names, names          # the walk reaches the later docks
    trapping = [v.objectName() or type(v).__name__ for v in views if v.tabKeyNavigation()]
    assert not trapping, trapping
    # the panels' own background work (loading torch, then the feature viewer's model,
    # which starts when torch is in) ends before the window goes
    from visionstudio.ui.shell import torch_loader
    from visionstudio.ui.shell.tasks import live_tasks

    for _ in range(2):
        qtbot.waitUntil(lambda: not torch_loader.loading() and not live_tasks(), timeout=120_000)
        qtbot.wait(300)
