"""The layer palette: groups, search, drag to the canvas, append by double-click / Enter."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from visionstudio.core.graph import Edge
from visionstudio.core.graph.editing import ROW_SPACING, overlaps
from visionstudio.core.layers import LAYERS, palette_groups
from visionstudio.ui.canvas import LAYER_MIME, GraphView
from visionstudio.ui.canvas.layer_style import icon_path
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, drop, vpos, wire


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def palette(qtbot, controller):
    p = LayerPalette(controller)
    qtbot.addWidget(p)
    p.resize(260, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def palette_kinds() -> set[str]:
    """Every kind but the block ports and instances (category Blocks, not a palette group)."""
    return {key for _category, keys in palette_groups() for key in keys}


def test_every_kind_grouped_with_icon_and_tooltip(palette):
    tree = palette.tree
    groups = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert groups == [c for c, _ in palette_groups()] + ["Blocks"]  # blocks: test_palette_blocks.py
    assert set(palette.visible_keys()) == palette_kinds()
    for key in palette_kinds():
        item = palette.item_for(key)
        spec = LAYERS.get(key)
        assert item.text(0) == spec.title and spec.description in item.toolTip(0)
        assert not item.icon(0).isNull()
        assert icon_path(spec.icon) is not None, f"missing SVG for {spec.icon}"
    assert palette.search.accessibleName() and palette.tree.accessibleName()
    assert palette.objectName() == "layerPalette"


def test_search_filters_by_title_and_description(palette):
    palette.set_filter("conv")
    assert "conv2d" in palette.visible_keys() and "dense" not in palette.visible_keys()
    palette.set_filter("probabilities")  # in softmax's description only
    assert palette.visible_keys() == ["softmax"] or "softmax" in palette.visible_keys()
    palette.set_filter("no such layer")
    assert palette.visible_keys() == [] and palette.empty_label.isVisible()
    palette.set_filter("")
    assert len(palette.visible_keys()) == len(palette_kinds())


def test_drag_from_palette_drops_on_canvas(qtbot, palette, controller):
    view = GraphView(controller)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    mime = palette.tree.mimeData([palette.item_for("maxpool2d")])
    assert mime.hasFormat(LAYER_MIME) and bytes(mime.data(LAYER_MIME)) == b"maxpool2d"
    assert LAYER_MIME in palette.tree.mimeTypes()
    point = vpos(view, QPointF(120, 80))
    assert drop(view, mime, point)
    (node,) = controller.graph.nodes.values()
    assert node.kind == "maxpool2d"
    scene_point = view.mapToScene(point)
    assert controller.graph.positions[node.id] == pytest.approx((scene_point.x(), scene_point.y()), abs=0.6)


def test_double_click_appends_after_selected(palette, controller):
    a = add(controller, "input", (10, 20))
    controller.set_selection([a])
    item = palette.item_for("conv2d")
    rect = palette.tree.visualItemRect(item)
    vp = palette.tree.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    conv = next(n.id for n in controller.graph.nodes.values() if n.kind == "conv2d")
    assert controller.graph.edges == [Edge(a, conv, 0)]
    x, y = controller.graph.positions[conv]
    assert x == 10 and y > 20  # placed below
    assert controller.selection == [conv]  # so the next one chains on
    assert controller.undo_stack.count() == 2  # add input + one append step
    # Enter on the current item appends again, after the new selection
    palette.tree.setCurrentItem(palette.item_for("relu"))
    palette.tree.setFocus()
    QTest.keyClick(palette.tree, Qt.Key.Key_Return)
    relu = next(n.id for n in controller.graph.nodes.values() if n.kind == "relu")
    assert Edge(conv, relu, 0) in controller.graph.edges
    assert controller.graph.positions[relu][1] > y


def test_search_enter_appends_first_match(palette, controller):
    palette.set_filter("flat")
    QTest.keyClick(palette.search, Qt.Key.Key_Return)
    assert [n.kind for n in controller.graph.nodes.values()] == ["flatten"]


def test_append_without_selection_and_to_a_busy_spot(palette, controller):
    a = add(controller, "input", (0, 0))
    c = add(controller, "conv2d", (0, 130))
    wire(controller, a, c)
    controller.set_selection([a])
    new = palette.append("conv2d")
    # inserted between input and conv (a -> new -> c), conv moved down out of its way
    assert not overlaps(controller.graph.positions[new], controller.graph.positions[c])
    assert controller.graph.positions[c][1] >= controller.graph.positions[new][1] + ROW_SPACING
    assert Edge(a, new, 0) in controller.graph.edges
    controller.set_selection([])
    extra = palette.append("relu")
    assert not [e for e in controller.graph.edges if extra in (e.src, e.dst)]


def test_append_input_is_never_wired(palette, controller):
    a = add(controller, "conv2d")
    controller.set_selection([a])
    new = palette.append("input")
    assert new in controller.graph.nodes and not controller.graph.edges


def test_double_click_with_a_mid_chain_layer_selected_inserts_into_the_chain(palette, controller):
    """Issue #13: with conv selected in input -> conv -> pool, double-clicking ReLU gave a
    dangling side branch; it goes between conv and pool, pool and the head move down."""
    a = add(controller, "input", (0, 0))
    conv = add(controller, "conv2d", (0, 130))
    pool = add(controller, "maxpool2d", (0, 260))
    head = add(controller, "flatten", (0, 390))
    wire(controller, a, conv)
    wire(controller, conv, pool)
    wire(controller, pool, head)
    before = dict(controller.graph.positions)
    steps = controller.undo_stack.count()
    controller.set_selection([conv])
    item = palette.item_for("relu")
    rect = palette.tree.visualItemRect(item)
    vp = palette.tree.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    graph = controller.graph
    relu = next(n.id for n in graph.nodes.values() if n.kind == "relu")
    assert set(graph.edges) == {Edge(a, conv, 0), Edge(conv, relu, 0), Edge(relu, pool, 0),
                                Edge(pool, head, 0)}
    assert graph.positions[relu] == (0.0, 260.0)  # a row under conv, where pool was
    assert graph.positions[pool] == (0.0, 390.0) and graph.positions[head] == (0.0, 520.0)
    positions = graph.positions
    assert not [(p, q) for p in positions for q in positions
                if p < q and overlaps(positions[p], positions[q])]
    assert controller.selection == [relu]
    assert controller.undo_stack.count() == steps + 1  # one step for the whole gesture
    controller.undo_stack.undo()
    assert relu not in graph.nodes and dict(graph.positions) == before
    assert set(graph.edges) == {Edge(a, conv, 0), Edge(conv, pool, 0), Edge(pool, head, 0)}
