"""Right-click menus: layer, connection, empty canvas and palette item.

Each menu is built by a function the test calls (``menu_for_*``), its actions are
triggered as a click would, and Ctrl+Z on the view undoes the edit. A real right-click
(a context-menu event on the viewport, and a right mouse click) opens the right menu;
ContextMenu.exec is patched to record instead of blocking.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QMenu

from visionstudio.core.graph import Edge, MoveNodes
from visionstudio.core.graph.editing import overlaps
from visionstudio.core.layers import LAYERS
from visionstudio.ui.canvas import FRAGMENT_MIME
from visionstudio.ui.canvas import context_menu as cm
from visionstudio.ui.canvas.layer_help import layer_help_html
from visionstudio.ui.canvas.layer_menu import ContextMenu, kind_action, kind_actions
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.shell.actions import add_undo_actions
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, open_view, snapshot, vpos, wire


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def view(qtbot, controller):
    v = open_view(qtbot, controller)
    actions: dict = {}
    add_undo_actions(v, controller, actions)   # Ctrl+Z as the window has it
    v.addAction(actions["undo"])
    v.activateWindow()
    v.setFocus()
    return v


@pytest.fixture
def chain(controller):
    """input -> conv -> relu -> dense, a column of layers."""
    ids = [add(controller, "input", (0, 0)), add(controller, "conv2d", (0, 130)),
           add(controller, "relu", (0, 260)), add(controller, "dense", (0, 390))]
    for a, b in zip(ids, ids[1:]):
        wire(controller, a, b)
    controller.undo_stack.clear()
    return ids


@pytest.fixture
def opened(monkeypatch):
    """ContextMenu.exec records the menu it was asked to show instead of blocking
    (PySide6 ignores a patch of QMenu.exec itself)."""
    menus: list[str] = []   # their object names: a shown menu is deleted afterwards

    def fake_exec(self, *args, **kwargs):
        menus.append(self.objectName())
        return None

    monkeypatch.setattr(ContextMenu, "exec", fake_exec)
    return menus


def entries(menu: QMenu) -> dict[str, object]:
    """Visible entry texts (mnemonics removed) -> action."""
    return {a.text().replace("&", ""): a for a in menu.actions() if not a.isSeparator() and a.text()}


def undo(view, qtbot) -> None:
    """Ctrl+Z, pressed on the canvas."""
    steps = view.controller.undo_stack.index()
    view.activateWindow()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert view.controller.undo_stack.index() == steps - 1


def no_overlaps(controller) -> None:
    pos = list(controller.graph.positions.values())
    for i, a in enumerate(pos):
        for b in pos[i + 1:]:
            assert not overlaps(a, b), (a, b)


# -- a layer ---------------------------------------------------------------------------
def test_node_menu_has_every_entry_with_mnemonics_and_shortcuts(view, controller, chain):
    menu = cm.menu_for_node(view, chain[1])
    names = entries(menu)
    for text in ("Rename…", "Insert Before", "Insert After", "Disconnect", "Select Upstream",
                 "Select Downstream", "Duplicate", "Delete"):
        assert text in names, text
    assert "&" in names["Rename…"].text() and "&" in names["Insert After"].text()
    assert names["Duplicate"].shortcut().toString() == "Ctrl+D"
    assert not names["Delete"].shortcut().isEmpty()
    after = names["Insert After"].menu()
    keys = [a.property("layer_kind") for a in kind_actions(after)]
    assert "dense" in keys and "input" not in keys       # a source takes no input
    categories = [a.text() for a in after.actions() if a.menu() is not None]   # one submenu each
    assert "Convolution" in categories and "Activation" in categories and "Input" not in categories
    assert kind_action(after, "dense") in after.actions()[categories.index("Dense")].menu().actions()
    assert controller.selection == [chain[1]]            # right-click selects the layer


def test_insert_after_goes_into_the_chain_and_undoes(view, controller, chain, qtbot):
    before = snapshot(controller)
    menu = cm.menu_for_node(view, chain[1])
    kind_action(entries(menu)["Insert After"].menu(), "batchnorm2d").trigger()
    graph = controller.graph
    (new,) = [n for n in graph.nodes.values() if n.kind == "batchnorm2d"]
    assert graph.has_edge(Edge(chain[1], new.id, 0)) and graph.has_edge(Edge(new.id, chain[2], 0))
    assert not graph.has_edge(Edge(chain[1], chain[2], 0))
    assert controller.selection == [new.id]
    no_overlaps(controller)
    undo(view, qtbot)
    assert snapshot(controller) == before


def test_insert_before_on_the_input_connection_and_above_an_unfed_layer(view, controller, chain, qtbot):
    before = snapshot(controller)
    kind_action(entries(cm.menu_for_node(view, chain[2]))["Insert Before"].menu(), "dropout").trigger()
    graph = controller.graph
    (drop,) = [n for n in graph.nodes.values() if n.kind == "dropout"]
    assert graph.has_edge(Edge(chain[1], drop.id, 0)) and graph.has_edge(Edge(drop.id, chain[2], 0))
    no_overlaps(controller)
    undo(view, qtbot)
    assert snapshot(controller) == before
    lone = add(controller, "dense", (600, 300))
    menu = entries(cm.menu_for_node(view, lone))["Insert Before"].menu()
    assert kind_action(menu, "input") is not None           # nothing feeds it: an Input may
    kind_action(menu, "flatten").trigger()
    (flat,) = [n for n in graph.nodes.values() if n.kind == "flatten"]
    assert graph.has_edge(Edge(flat.id, lone, 0))
    assert graph.positions[flat.id][1] < graph.positions[lone][1]
    no_overlaps(controller)


def test_insert_before_is_off_on_an_input_and_a_merge(view, controller, chain):
    assert not entries(cm.menu_for_node(view, chain[0]))["Insert Before"].isEnabled()
    merge = add(controller, "add", (400, 400))
    other = add(controller, "conv2d", (400, 130))
    wire(controller, chain[0], other)
    wire(controller, chain[1], merge)
    wire(controller, other, merge)
    item = entries(cm.menu_for_node(view, merge))["Insert Before"]
    assert not item.isEnabled() and "connections" in item.toolTip()


def test_rename_disconnect_and_select_up_and_downstream(view, controller, chain, qtbot, monkeypatch):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("features", True))
    entries(cm.menu_for_node(view, chain[1]))["Rename…"].trigger()
    assert controller.graph.nodes[chain[1]].name == "features"
    undo(view, qtbot)
    assert controller.graph.nodes[chain[1]].name != "features"

    entries(cm.menu_for_node(view, chain[2]))["Select Upstream"].trigger()
    assert set(controller.selection) == set(chain[:3])
    entries(cm.menu_for_node(view, chain[1]))["Select Downstream"].trigger()
    assert set(controller.selection) == set(chain[1:])

    before, steps = snapshot(controller), controller.undo_stack.index()
    entries(cm.menu_for_node(view, chain[2]))["Disconnect"].trigger()
    assert not controller.graph.inputs_of(chain[2]) and not controller.graph.outputs_of(chain[2])
    assert controller.undo_stack.index() == steps + 1    # one step for both connections
    undo(view, qtbot)
    assert snapshot(controller) == before
    lone = add(controller, "dense", (700, 0))
    assert not entries(cm.menu_for_node(view, lone))["Disconnect"].isEnabled()


def test_delete_and_duplicate_act_on_the_whole_selection(view, controller, chain, qtbot):
    before = snapshot(controller)
    controller.set_selection(chain[1:3])
    names = entries(cm.menu_for_node(view, chain[2]))   # inside the selection: it stays
    assert controller.selection == chain[1:3]
    assert "Duplicate 2 Layers" in names and "Delete 2 Layers" in names
    names["Duplicate 2 Layers"].trigger()
    assert len(controller.graph.nodes) == 6 and len(controller.selection) == 2
    no_overlaps(controller)
    undo(view, qtbot)
    assert snapshot(controller) == before
    controller.set_selection(chain[1:3])
    entries(cm.menu_for_node(view, chain[1]))["Delete 2 Layers"].trigger()
    assert set(controller.graph.nodes) == {chain[0], chain[3]}
    undo(view, qtbot)
    assert snapshot(controller) == before
    entries(cm.menu_for_node(view, chain[3]))           # outside the selection: it is chosen
    assert controller.selection == [chain[3]]


def test_quick_fix_entries_come_from_the_core_and_undo(view, controller, qtbot):
    src = add(controller, "input", (0, 0))
    dense = add(controller, "dense", (0, 130), units=10)
    wire(controller, src, dense)                         # dense fed a 1×28×28 map: needs Flatten
    before = snapshot(controller)
    names = entries(cm.menu_for_node(view, dense))
    fix = next(a for t, a in names.items() if "Flatten" in t)
    assert fix.isEnabled()
    fix.trigger()
    assert any(n.kind == "flatten" for n in controller.graph.nodes.values())
    assert controller.analysis.nodes[dense].ok
    undo(view, qtbot)
    assert snapshot(controller) == before
    healthy = entries(cm.menu_for_node(view, src))
    assert "No quick fix" in healthy and not healthy["No quick fix"].isEnabled()


def test_the_last_dense_offers_the_datasets_classes(view, controller, chain):
    """The chain ends in a 64-unit Dense; the default dataset (Shapes) has 10 classes."""
    texts = list(entries(cm.menu_for_node(view, chain[3])))
    assert any("10" in t and "units" in t for t in texts), texts


# -- a connection --------------------------------------------------------------------
def test_edge_menu_inserts_a_layer_and_deletes_the_connection(view, controller, chain, qtbot):
    edge = Edge(chain[1], chain[2], 0)
    before = snapshot(controller)
    menu = cm.menu_for_edge(view, edge)
    names = entries(menu)
    assert set(names) == {"Insert Layer", "Delete Connection"}
    assert view.graph_scene.edge_item(edge).isSelected()
    kind_action(names["Insert Layer"].menu(), "maxpool2d").trigger()
    (pool,) = [n for n in controller.graph.nodes.values() if n.kind == "maxpool2d"]
    assert controller.graph.has_edge(Edge(chain[1], pool.id, 0))
    assert controller.graph.has_edge(Edge(pool.id, chain[2], 0))
    no_overlaps(controller)
    undo(view, qtbot)
    assert snapshot(controller) == before
    entries(cm.menu_for_edge(view, edge))["Delete Connection"].trigger()
    assert not controller.graph.has_edge(edge)
    undo(view, qtbot)
    assert snapshot(controller) == before


# -- empty canvas ------------------------------------------------------------------------
def test_canvas_menu_add_layer_with_search_lands_at_the_click_point(view, controller, qtbot):
    QGuiApplication.clipboard().clear()
    point = view.mapToScene(QPoint(420, 260))
    menu = cm.menu_for_canvas(view, point)
    names = entries(menu)
    assert {"Paste", "Add Layer", "Auto Layout", "Fit to Window"} <= set(names)
    assert not names["Paste"].isEnabled()                 # nothing to paste yet
    assert names["Auto Layout"].shortcut().toString() == "Ctrl+Shift+L"
    add_menu = names["Add Layer"].menu()
    add_menu.popup(view.mapToGlobal(QPoint(10, 10)))
    qtbot.waitUntil(add_menu.isVisible)
    add_menu.search.setFocus()
    QTest.keyClicks(add_menu.search, "batchnorm2d")
    assert add_menu.shown_kinds() == ["batchnorm2d"]
    QTest.keyClick(add_menu.search, Qt.Key.Key_Return)
    (node,) = controller.graph.nodes.values()
    assert node.kind == "batchnorm2d"
    assert controller.graph.positions[node.id] == pytest.approx((point.x(), point.y()), abs=0.1)
    assert controller.selection == [node.id] and not add_menu.isVisible()
    undo(view, qtbot)
    assert not controller.graph.nodes


def test_canvas_add_layer_moves_aside_from_a_layer_there(view, controller):
    taken = add(controller, "conv2d", (0, 0))
    kind_action(entries(cm.menu_for_canvas(view, view.mapToScene(vpos(view, view.graph_scene
                .node_item(taken).pos()) + QPoint(0, 60))))["Add Layer"].menu(), "relu").trigger()
    no_overlaps(controller)


def test_canvas_menu_paste_auto_layout_and_fit(view, controller, chain, qtbot):
    controller.set_selection([chain[1]])
    assert view.copy_selection()
    menu = cm.menu_for_canvas(view, view.mapToScene(QPoint(700, 100)))
    names = entries(menu)
    assert names["Paste"].isEnabled()
    names["Paste"].trigger()
    assert len(controller.graph.nodes) == 5
    no_overlaps(controller)
    controller.push(MoveNodes({chain[3]: (900.0, 900.0)}))
    entries(cm.menu_for_canvas(view, view.mapToScene(QPoint(5, 5))))["Auto Layout"].trigger()
    assert controller.graph.positions[chain[3]] != (900.0, 900.0)
    view.set_zoom(2.5)
    entries(cm.menu_for_canvas(view, view.mapToScene(QPoint(5, 5))))["Fit to Window"].trigger()
    assert view.zoom < 2.5


def test_paste_is_enabled_by_a_fragment_only(view):
    mime = QMimeData()
    mime.setText("just words")
    QGuiApplication.clipboard().setMimeData(mime)
    assert not entries(cm.menu_for_canvas(view, view.mapToScene(QPoint(5, 5))))["Paste"].isEnabled()
    mime = QMimeData()
    mime.setData(FRAGMENT_MIME, b'{"nodes": [], "edges": [], "positions": {}}')
    QGuiApplication.clipboard().setMimeData(mime)
    assert entries(cm.menu_for_canvas(view, view.mapToScene(QPoint(5, 5))))["Paste"].isEnabled()


# -- real right-clicks ------------------------------------------------------------------------
def context_click(view, pos: QPoint) -> None:
    vp = view.viewport()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, vp.mapToGlobal(pos))
    QApplication.sendEvent(vp, event)


def test_a_right_click_opens_the_menu_of_what_is_under_it(view, controller, chain, opened):
    node_point = vpos(view, view.graph_scene.node_item(chain[1]).pos())
    # Through the window, as the platform delivers it: Qt makes the context-menu event.
    window_point = view.viewport().mapTo(view.window(), node_point)
    QTest.mouseClick(view.window().windowHandle(), Qt.MouseButton.RightButton, pos=window_point)
    assert opened == ["nodeContextMenu"]
    assert controller.selection == [chain[1]]
    edge_item = view.graph_scene.edge_item(Edge(chain[1], chain[2], 0))
    context_click(view, vpos(view, edge_item.path().pointAtPercent(0.3)))
    assert opened[-1] == "edgeContextMenu"
    context_click(view, QPoint(800, 40))
    assert opened[-1] == "canvasContextMenu"
    assert len(opened) == 3


def test_the_menu_key_opens_the_selected_layers_menu(view, controller, chain, opened):
    controller.set_selection([chain[2]])
    vp = view.viewport()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, QPoint(5, 5), vp.mapToGlobal(QPoint(5, 5)))
    QApplication.sendEvent(vp, event)
    assert opened and opened[-1] == "nodeContextMenu"
    assert controller.selection == [chain[2]]


# -- palette item ------------------------------------------------------------------------------
@pytest.fixture
def palette(qtbot, controller):
    p = LayerPalette(controller)
    qtbot.addWidget(p)
    p.resize(260, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_palette_item_add_to_network_and_help(palette, controller, chain, qtbot, opened):
    controller.set_selection([chain[1]])
    item = palette.item_for("batchnorm2d")
    palette.tree.scrollToItem(item)
    point = palette.tree.viewport().mapTo(palette.window(), palette.tree.visualItemRect(item).center())
    QTest.mouseClick(palette.window().windowHandle(), Qt.MouseButton.RightButton, pos=point)
    assert opened == ["paletteContextMenu"]
    names = entries(palette.menu_for("batchnorm2d"))
    assert set(names) == {"Add to Network", "Help"}
    before = snapshot(controller)
    names["Add to Network"].trigger()
    (new,) = [n for n in controller.graph.nodes.values() if n.kind == "batchnorm2d"]
    assert controller.graph.has_edge(Edge(chain[1], new.id, 0))
    assert controller.graph.has_edge(Edge(new.id, chain[2], 0))   # into the chain, as a double-click
    controller.undo()
    assert snapshot(controller) == before
    names = entries(palette.menu_for("conv2d"))
    names["Help"].trigger()
    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "layerHelp" and w.isVisible()]
    assert dialogs
    text = dialogs[-1].text.toPlainText()
    spec = LAYERS.get("conv2d")
    assert spec.title in text and spec.description in text
    for p in spec.params:
        assert p.label in text
    assert "same, valid or 0 to 1024" in text
    dialogs[-1].close()


def test_help_text_of_every_kind_names_its_parameters():
    for key in LAYERS.keys():
        text = layer_help_html(key)
        spec = LAYERS.get(key)
        assert spec.title in text
        assert ("No parameters" in text) == (not spec.params)
