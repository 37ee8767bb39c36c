"""The model canvas: drop, connect, select, move, clipboard, layout, undo."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from visionstudio.core.graph import Edge, SetParam
from visionstudio.core.graph.editing import COLUMN_SPACING, overlaps
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.canvas import FRAGMENT_MIME, EdgeItem, NodeItem
from visionstudio.ui.canvas.layout import layered_positions
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, drag, drop, layer_mime, mouse, open_view, snapshot, vpos, wire


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def view(qtbot, controller):
    return open_view(qtbot, controller, (0, 150))


def messages(view):
    got: list[str] = []
    view.status_message.connect(got.append)
    return got


# -- drop from the palette ------------------------------------------------------------
def test_drop_creates_node_at_drop_position(view, controller):
    point = QPoint(300, 220)
    assert drop(view, layer_mime("conv2d"), point)
    (node,) = controller.graph.nodes.values()
    assert node.kind == "conv2d"
    expected = view.mapToScene(point)
    x, y = controller.graph.positions[node.id]
    assert (x, y) == pytest.approx((expected.x(), expected.y()), abs=0.6)
    item = view.graph_scene.node_item(node.id)
    assert item.pos() == QPointF(x, y)
    assert controller.selection == [node.id]
    assert controller.undo_stack.count() == 1


def test_drop_on_edge_inserts_between(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 300))
    wire(controller, a, b)
    edge_item = view.graph_scene.edge_item(Edge(a, b, 0))
    mid = edge_item.path().pointAtPercent(0.5) + QPointF(3, 0)
    assert drop(view, layer_mime("relu"), vpos(view, mid))
    new = next(n for n in controller.graph.nodes.values() if n.kind == "relu")
    edges = {(e.src, e.dst) for e in controller.graph.edges}
    assert edges == {(a, new.id), (new.id, b)}
    # the layer after the insertion moved down to make room, in the same undo step
    assert controller.graph.positions[b][1] >= controller.graph.positions[new.id][1] + 100
    assert controller.undo_stack.count() == 4
    controller.undo_stack.undo()
    assert {(e.src, e.dst) for e in controller.graph.edges} == {(a, b)}
    assert controller.graph.positions[b] == (0.0, 300.0)
    assert {i.edge for i in view.graph_scene.edge_items()} == {Edge(a, b, 0)}


def test_drop_of_foreign_data_is_ignored(view, controller):
    from PySide6.QtCore import QMimeData

    mime = QMimeData()
    mime.setText("conv2d")
    assert not drop(view, mime, QPoint(100, 100))
    assert not controller.graph.nodes


# -- connecting by dragging between ports ---------------------------------------------------
def test_connect_by_dragging_output_to_input(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (40, 200))
    sa, sb = view.graph_scene.node_item(a), view.graph_scene.node_item(b)
    start, end = vpos(view, sa.output_anchor()), vpos(view, sb.input_anchor())
    mouse(view, "press", start)
    mouse(view, "move", (start + end) / 2)
    assert view._wire is not None and view._wire.scene() is view.graph_scene  # live rubber line
    mouse(view, "move", end)
    assert sb.input_port.state == "ok"
    mouse(view, "release", end)
    assert controller.graph.edges == [Edge(a, b, 0)]
    assert view._wire is None
    edge = view.graph_scene.edge_item(Edge(a, b, 0))
    assert edge.label == "1×28×28"  # the tensor flowing out of the input
    assert sa.pos() == QPointF(0, 0)  # dragging from a port does not move the node


def test_connect_dragging_backwards_from_input(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 200))
    sa, sb = view.graph_scene.node_item(a), view.graph_scene.node_item(b)
    drag(view, vpos(view, sb.input_anchor()), vpos(view, sa.output_anchor()))
    assert controller.graph.edges == [Edge(a, b, 0)]


def test_cycle_is_refused_and_explained(view, controller):
    a = add(controller, "input", (0, 0))
    c1 = add(controller, "conv2d", (0, 150))
    c2 = add(controller, "conv2d", (0, 300))
    c3 = add(controller, "conv2d", (0, 450))
    wire(controller, a, c1)
    wire(controller, c1, c2)
    wire(controller, c2, c3)
    before, count = snapshot(controller), controller.undo_stack.count()
    said = messages(view)
    refused: list[str] = []
    controller.refused.connect(refused.append)
    scene = view.graph_scene
    # c2 already has its input (from c1)
    drag(view, vpos(view, scene.node_item(c3).output_anchor()),
         vpos(view, scene.node_item(c2).input_anchor()))
    assert snapshot(controller) == before and controller.undo_stack.count() == count
    assert said and refused and "already has its input" in said[-1]
    assert said[-1].startswith("Cannot connect:") and refused[-1] in said[-1]


def test_second_input_into_conv_is_refused(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (250, 0))
    c = add(controller, "conv2d", (0, 250))
    wire(controller, a, c)
    wire(controller, a, b)
    before = snapshot(controller)
    said = messages(view)
    scene = view.graph_scene
    drag(view, vpos(view, scene.node_item(b).output_anchor()), vpos(view, scene.node_item(c).input_anchor()))
    assert snapshot(controller) == before
    assert "already has its input" in said[-1] and "Add or Concat" in said[-1]
    assert scene.node_item(c).input_port.state is None  # highlight cleared


def test_cycle_through_ports_only(view, controller):
    c1 = add(controller, "conv2d", (0, 0))
    c2 = add(controller, "conv2d", (0, 200))
    wire(controller, c1, c2)
    said = messages(view)
    scene = view.graph_scene
    drag(view, vpos(view, scene.node_item(c2).output_anchor()),
         vpos(view, scene.node_item(c1).input_anchor()))
    assert controller.graph.edges == [Edge(c1, c2, 0)]
    assert "cycle" in said[-1]


def test_merge_takes_next_free_port(view, controller):
    a = add(controller, "input", (0, 0))
    left = add(controller, "conv2d", (-150, 150), padding="same")
    r = add(controller, "conv2d", (150, 150), padding="same")
    m = add(controller, "add", (0, 330))
    wire(controller, a, left)
    wire(controller, a, r)
    scene = view.graph_scene
    for src in (left, r):
        drag(view, vpos(view, scene.node_item(src).output_anchor()),
             vpos(view, scene.node_item(m).input_anchor()))
    assert sorted((e.src, e.port) for e in controller.graph.inputs_of(m)) == sorted([(left, 0), (r, 1)])
    offsets = sorted(scene.edge_item(e).dst_offset for e in controller.graph.inputs_of(m))
    assert offsets[0] < 0 < offsets[1]  # arrive side by side
    assert not controller.analysis.nodes[m].diagnostics


# -- analysis on the canvas ----------------------------------------------------------------
def test_labels_and_badges_follow_analysis(view, controller):
    a = add(controller, "input", (0, 0))
    c = add(controller, "conv2d", (0, 150))
    d = add(controller, "dense", (0, 300))
    wire(controller, a, c)
    wire(controller, c, d)
    scene = view.graph_scene
    item = scene.node_item(c)
    assert item.shape_text == "32×26×26" and item.params_text == "320 params"
    assert scene.node_item(d).diagnostics  # dense after a conv without flatten
    assert "⚠" in scene.node_item(d).toolTip()
    controller.push(SetParam(c, "out_channels", 8))
    assert item.shape_text == "8×26×26" and item.summary.startswith("8")
    assert scene.edge_item(Edge(c, d, 0)).label == "8×26×26"
    controller.push(SetParam(c, "kernel_size", 40))
    assert item.has_error and item.shape_text == "?"
    assert "40" in item.toolTip() or "kernel" in item.toolTip()


# -- selection, move, delete ------------------------------------------------------------------
def test_selection_sync_both_ways(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 200))
    scene = view.graph_scene
    controller.set_selection([b])
    assert scene.node_item(b).isSelected() and not scene.node_item(a).isSelected()
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     vpos(view, QPointF(-40, 0)))
    assert controller.selection == [a]
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     vpos(view, QPointF(-40, 200)))
    assert set(controller.selection) == {a, b}
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     vpos(view, QPointF(400, 100)))
    assert controller.selection == []


def test_rubber_band_selects(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 200))
    add(controller, "conv2d", (0, 600))
    drag(view, vpos(view, QPointF(-200, -80)), vpos(view, QPointF(200, 280)))
    assert set(controller.selection) == {a, b}


def test_move_is_one_undo_step(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 200))
    controller.set_selection([a, b])
    count = controller.undo_stack.count()
    drag(view, vpos(view, QPointF(-40, 200)), vpos(view, QPointF(60, 250)), steps=6)
    assert controller.undo_stack.count() == count + 1
    assert controller.graph.positions[a] == pytest.approx((100, 50), abs=1)
    assert controller.graph.positions[b] == pytest.approx((100, 250), abs=1)
    controller.undo_stack.undo()
    assert controller.graph.positions[a] == (0, 0)
    assert view.graph_scene.node_item(b).pos() == QPointF(0, 200)


def test_delete_selection_and_undo(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 200))
    wire(controller, a, b)
    before = snapshot(controller)
    controller.set_selection([b])
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert list(controller.graph.nodes) == [a] and not controller.graph.edges
    assert view.graph_scene.node_item(b) is None and not view.graph_scene.edge_items()
    controller.undo_stack.undo()
    assert snapshot(controller) == before
    assert len(view.graph_scene.edge_items()) == 1


def test_delete_selected_edge(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 250))
    wire(controller, a, b)
    edge_item = view.graph_scene.edge_item(Edge(a, b, 0))
    edge_item.setSelected(True)
    assert view.delete_selection()
    assert not controller.graph.edges and len(controller.graph.nodes) == 2


# -- clipboard ---------------------------------------------------------------------------------
def test_copy_paste_fresh_ids_wiring_kept(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 150), out_channels=7)
    c = add(controller, "relu", (0, 300))
    wire(controller, a, b)
    wire(controller, b, c)
    controller.set_selection([b, c])
    assert view.copy_selection()
    mime = QGuiApplication.clipboard().mimeData()
    fragment = json.loads(bytes(mime.data(FRAGMENT_MIME)).decode())
    assert {n["id"] for n in fragment["nodes"]} == {b, c} and len(fragment["edges"]) == 1
    assert "conv" in mime.text()
    new = view.paste()
    assert len(new) == 2 and not set(new) & {a, b, c}
    assert set(controller.selection) == set(new)
    kinds = {controller.graph.nodes[n].kind: n for n in new}
    assert controller.graph.nodes[kinds["conv2d"]].params["out_channels"] == 7
    assert Edge(kinds["conv2d"], kinds["relu"], 0) in controller.graph.edges
    assert len({n.name for n in controller.graph.nodes.values()}) == 5  # fresh names
    # 40 down and right, then whole columns right: clear of the layers copied
    x, y = controller.graph.positions[kinds["conv2d"]]
    assert (x, y) == (40.0 + COLUMN_SPACING, 190.0)
    assert_no_overlap(controller, new)
    again = view.paste()
    x2, y2 = controller.graph.positions[next(n for n in again if controller.graph.nodes[n].kind == "conv2d")]
    assert y2 == 230.0 and (x2 - 80.0) % COLUMN_SPACING == 0  # a step further, clear of the first copy
    assert_no_overlap(controller, again)
    controller.undo_stack.undo()
    controller.undo_stack.undo()
    assert set(controller.graph.nodes) == {a, b, c}


def assert_no_overlap(controller, ids):
    positions = controller.graph.positions
    for nid in ids:
        assert not [o for o in positions if o != nid and overlaps(positions[o], positions[nid])]


def test_cut_and_duplicate(view, controller):
    a = add(controller, "input", (0, 0))
    b = add(controller, "conv2d", (0, 150))
    wire(controller, a, b)
    controller.set_selection([b])
    ids = view.duplicate_selection()
    assert len(ids) == 1 and controller.graph.positions[ids[0]] == (40.0 + COLUMN_SPACING, 190.0)
    assert_no_overlap(controller, ids)
    controller.set_selection([b])
    assert view.cut_selection()
    assert b not in controller.graph.nodes
    pasted = view.paste()
    assert len(pasted) == 1 and controller.graph.nodes[pasted[0]].kind == "conv2d"


def test_paste_with_foreign_clipboard_explains(view, controller):
    QGuiApplication.clipboard().setText("hello")
    said = messages(view)
    assert view.paste() == []
    assert said and "clipboard" in said[-1]


# -- layout, zoom, documents --------------------------------------------------------------------
def test_auto_layout_layers_and_is_undoable(view, controller):
    a = add(controller, "input", (500, 500))
    left = add(controller, "conv2d", (-300, 20), padding="same")
    r = add(controller, "conv2d", (10, 10), padding="same")
    m = add(controller, "add", (30, -400))
    wire(controller, a, left)
    wire(controller, a, r)
    wire(controller, left, m)
    wire(controller, r, m)
    before = snapshot(controller)
    assert view.auto_layout()
    pos = controller.graph.positions
    assert pos[a][1] < pos[left][1] == pos[r][1] < pos[m][1]
    assert abs(pos[left][0] - pos[r][0]) >= 200  # branches side by side
    assert controller.undo_stack.undoText() == "Arrange layers"
    controller.undo_stack.undo()
    assert snapshot(controller) == before
    assert view.graph_scene.node_item(m).pos() == QPointF(30, -400)


def test_layout_skip_edge_does_not_cross_branch(controller):
    a = add(controller, "input")
    c1 = add(controller, "conv2d", padding="same")
    c2 = add(controller, "conv2d", padding="same")
    m = add(controller, "add")
    for s, d in [(a, c1), (c1, c2), (c2, m), (a, m)]:
        wire(controller, s, d)
    pos = layered_positions(controller.graph)
    assert pos[c1][0] == pos[c2][0] and abs(pos[c1][0] - pos[a][0]) > 100


def test_zoom_and_fit(view, controller):
    add(controller, "input", (0, 0))
    add(controller, "conv2d", (0, 2000))
    view.zoom_in()
    assert view.zoom == pytest.approx(1.25)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom == pytest.approx(0.8)
    view.fit_to_view()
    assert view.zoom < 0.4
    top = view.mapFromScene(QPointF(0, 0))
    bottom = view.mapFromScene(QPointF(0, 2000))
    assert view.viewport().rect().contains(top) and view.viewport().rect().contains(bottom)
    for _ in range(40):
        view.zoom_in()
    assert view.zoom == pytest.approx(3.0)


def test_wheel_zooms(view, qtbot):
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    vp = view.viewport()
    ev = QWheelEvent(QPointF(200, 200), QPointF(vp.mapToGlobal(QPoint(200, 200))), QPoint(0, 0),
                     QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    anchor = view.mapToScene(QPoint(200, 200))
    QApplication.sendEvent(vp, ev)
    assert view.zoom == pytest.approx(1.15)
    after = view.mapToScene(QPoint(200, 200))
    assert abs(after.x() - anchor.x()) < 2 and abs(after.y() - anchor.y()) < 2  # zooms around cursor


def test_middle_drag_pans(view):
    before = view.mapToScene(QPoint(100, 100))
    mouse(view, "press", QPoint(300, 300), Qt.MouseButton.MiddleButton, Qt.MouseButton.MiddleButton)
    mouse(view, "move", QPoint(250, 260), Qt.MouseButton.MiddleButton)
    mouse(view, "release", QPoint(250, 260), button=Qt.MouseButton.MiddleButton)
    after = view.mapToScene(QPoint(100, 100))
    assert after.x() - before.x() == pytest.approx(50, abs=1)
    assert after.y() - before.y() == pytest.approx(40, abs=1)


def test_document_replaced_rebinds(view, controller):
    add(controller, "input")
    doc = ProjectDocument()
    controller.replace_document(doc)
    assert not view.graph_scene.node_items()
    nid = add(controller, "conv2d", (10, 10))
    assert isinstance(view.graph_scene.node_item(nid), NodeItem)


def test_undo_all_and_redo_all_is_identical(view, controller):
    start = snapshot(controller)
    drop(view, layer_mime("input"), vpos(view, QPointF(0, 0)))
    drop(view, layer_mime("conv2d"), vpos(view, QPointF(0, 250)))
    ids = list(controller.graph.nodes)
    scene = view.graph_scene
    drag(view, vpos(view, scene.node_item(ids[0]).output_anchor()),
         vpos(view, scene.node_item(ids[1]).input_anchor()))
    edge = controller.graph.edges[0]
    drop(view, layer_mime("relu"), vpos(view, scene.edge_item(edge).path().pointAtPercent(0.5)))
    controller.set_selection(ids[1:])
    view.duplicate_selection()
    view.auto_layout()
    controller.set_selection([ids[1]])
    view.delete_selection()
    end = snapshot(controller)
    n = controller.undo_stack.count()
    assert n >= 6
    for _ in range(n):
        controller.undo_stack.undo()
    assert snapshot(controller) == start and not scene.node_items() and not scene.edge_items()
    for _ in range(n):
        controller.undo_stack.redo()
    assert snapshot(controller) == end
    assert {i.node_id for i in scene.node_items()} == set(controller.graph.nodes)
    assert {i.edge for i in scene.edge_items()} == set(controller.graph.edges)
    for nid, item in ((i.node_id, i) for i in scene.node_items()):
        assert (item.pos().x(), item.pos().y()) == controller.graph.positions[nid]
    assert all(isinstance(i, EdgeItem) for i in scene.edge_items())


def test_pinch_gesture_zooms(view):
    from PySide6.QtGui import QNativeGestureEvent, QPointingDevice
    from PySide6.QtWidgets import QApplication

    pos = QPointF(300, 300)
    ev = QNativeGestureEvent(Qt.NativeGestureType.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(),
                             2, pos, pos, QPointF(view.viewport().mapToGlobal(pos.toPoint())), 0.5,
                             QPointF(0, 0), 1)
    QApplication.sendEvent(view.viewport(), ev)
    assert view.zoom == pytest.approx(1.5)


def test_palette_change_restyles(view):
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette(view.palette())
    pal.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    pal.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    view.setPalette(pal)
    assert view.graph_scene.style.dark
