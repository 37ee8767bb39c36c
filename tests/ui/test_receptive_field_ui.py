"""Receptive fields in the app: the inspector's line for the selected layer, and the
outline on the sample when a feature-map pixel is hovered (real mouse moves)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF
from pytestqt.exceptions import TimeoutError as NotYet

from visionstudio.ui.features.receptive_view import FieldOverlay
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, wire

pytest.importorskip("pyqtgraph")


def test_inspector_shows_the_selected_layers_receptive_field(qtbot):
    controller = DocumentController()
    chain = [add(controller, "input", (0, 0), channels=1, height=32, width=32)]
    padded = ("conv2d", {"padding": 1})
    for i, (kind, params) in enumerate([padded, ("maxpool2d", {}), padded, ("maxpool2d", {}), padded], 1):
        chain.append(add(controller, kind, (0, 120 * i), **params))
        wire(controller, chain[-2], chain[-1])
    panel = InspectorPanel(controller)
    qtbot.addWidget(panel)
    panel.show()
    controller.set_selection([chain[-1]])
    assert panel.receptive_label.text() == "18×18 px · jump 4 · offset 1.5"
    controller.set_selection([chain[2]])
    assert panel.receptive_label.text() == "4×4 px · jump 2 · offset 0.5"
    controller.set_selection([chain[0]])
    assert panel.receptive_label.text() == "1×1 px · jump 1 · offset 0"
    # an edit re-reads the field: a dilated first convolution widens everything after it
    from visionstudio.core.graph import SetParam
    assert controller.push(SetParam(chain[1], "dilation", 2))
    controller.set_selection([chain[-1]])
    assert panel.receptive_label.text().startswith("20×20 px")


@pytest.fixture(scope="module")
def demo():
    from visionstudio.ui.features.demo import train_demo
    return train_demo(epochs=1, samples=96, val_samples=32)


@pytest.fixture
def view(qtbot, demo):
    from visionstudio.ui.features.demo import open_viewer
    _controller, view = open_viewer(demo)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


def _hover(qtbot, graphics_view, view_box, x: float, y: float, region) -> None:
    """Move the mouse onto image point (x, y) until the overlay shows ``region``: a view
    still settling its range after a resize maps the point anew on each try, to another
    spot (the grid's hover is rate-limited, so each try waits for it)."""
    overlay = graphics_view.window().findChild(FieldOverlay)
    for _ in range(5):
        scene = view_box.mapViewToScene(QPointF(x, y))
        qtbot.mouseMove(graphics_view.viewport(), graphics_view.mapFromScene(scene))
        try:
            qtbot.waitUntil(lambda: overlay.region == region, timeout=600)
            return
        except NotYet:
            continue
    assert overlay.region == region


def test_hovering_a_mosaic_pixel_outlines_what_it_sees(view, qtbot):
    view.set_layer("conv1")                     # classic CNN: 3×3 valid convolution on 28×28
    lv = view.grid.layers["conv1"]
    overlay = view.field_overlay
    tx, ty, _w, _h = lv.tiles.rects[2]
    _hover(qtbot, view.grid, lv.view, tx + 5.5, ty + 3.5, (3, 5, 6, 8))  # channel 2, row 3, column 5
    assert overlay.outline.isVisible() and overlay.outline.rect() == QRectF(5, 3, 3, 3)
    assert "conv1 pixel (3, 5) sees rows 3–5, columns 5–7 (3×3 px of the 28×28 sample)" in \
        overlay.caption.text()
    assert overlay.toolTip() == overlay.caption.text()
    # a deeper layer: after conv1 and a 2×2 max-pool, pixel (0, 0) of conv2 sees 8×8
    view.set_layer("conv2")
    lv = view.grid.layers["conv2"]
    tx, ty, _w, _h = lv.tiles.rects[0]
    _hover(qtbot, view.grid, lv.view, tx + 0.5, ty + 0.5, (0, 0, 8, 8))
    assert overlay.outline.rect() == QRectF(0, 0, 8, 8)


def test_hovering_the_channel_zoom_outlines_what_it_sees(view, qtbot):
    view.set_layer("conv1")
    view.grid.select("conv1", 4)
    view._on_grid_channel_clicked("conv1", 4)
    detail = view.detail
    qtbot.waitUntil(lambda: detail.current == ("conv1", 4))
    _hover(qtbot, detail.plot, detail.plot.getViewBox(), 12.5, 10.5, (10, 12, 13, 15))  # row 10, col 12
    assert view.field_overlay.outline.rect() == QRectF(12, 10, 3, 3)
    assert view.field_overlay.image.image.shape[:2] == (28, 28)   # the sample is drawn under it
