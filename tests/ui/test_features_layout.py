"""The feature-map panels at the sizes a user sees them: filters as a readable grid under a
caption that fits, Grad-CAM framed to the image, the sample header kept in view when a
gallery image is clicked (a real mouse click, in the main window at 1280×800)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QScrollArea

pytest.importorskip("pyqtgraph")

from tests.ui.shell_helpers import make_window
from visionstudio.ui.features.filters import MIN_TILE_PX, FiltersView
from visionstudio.ui.features.mosaic import fit_columns
from visionstudio.ui.features.panels import OverlayView
from visionstudio.ui.shell.tasks import live_tasks


def _tile_sizes(view: FiltersView) -> tuple[int, int, int]:
    """(smallest tile width, smallest tile height, distinct columns) as painted."""
    rects = [view.grid.tile_rect(i) for i in range(len(view.tiles.rects))]
    return min(r.width() for r in rects), min(r.height() for r in rects), len({r.x() for r in rects})


def _caption_fits(view: FiltersView) -> bool:
    c = view.caption
    return c.fontMetrics().horizontalAdvance(c.full_text()) <= c.width() and not c.is_elided()


@pytest.mark.parametrize("size", [(1260, 130), (600, 420), (360, 300)])
def test_one_input_channel_filters_are_a_grid_of_readable_tiles(qtbot, size):
    view = FiltersView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.show_filters("conv1", np.random.default_rng(0).normal(size=(6, 1, 5, 5)))
    qtbot.wait(20)
    w, h, columns = _tile_sizes(view)
    assert w >= MIN_TILE_PX and h >= MIN_TILE_PX and w == h
    assert columns > 1
    assert view.caption.full_text().startswith("conv1: 6 filters of 1×5×5")
    assert _caption_fits(view)
    # the grid fits the room: nothing scrolls
    assert view.grid.width() <= view.scroll.width() and view.grid.height() <= view.scroll.height()


def test_near_square_grid_when_the_room_is_square():
    assert fit_columns(6, 5, 5, 400, 400) in (2, 3)
    assert fit_columns(32, 3, 3, 300, 300) == 6
    assert fit_columns(6, 5, 5, 2000, 60) == 6          # a strip: one row


def test_multi_channel_filters_are_rows_of_kernels_and_scroll_when_large(qtbot):
    view = FiltersView()
    qtbot.addWidget(view)
    view.resize(800, 300)
    view.show()
    qtbot.waitExposed(view)
    view.show_filters("conv2", np.random.default_rng(1).normal(size=(16, 8, 3, 3)))
    qtbot.wait(20)
    w, _h, columns = _tile_sizes(view)
    assert view.tiles.cols == 8 and columns == 8 and w >= MIN_TILE_PX
    assert view.grid.height() > view.scroll.height()     # 16 rows of readable tiles scroll
    view.show_filters("rgb", np.random.default_rng(2).normal(size=(12, 3, 5, 5)))
    qtbot.wait(20)
    assert len(view.tiles.rects) == 12 and "RGB kernels" in view.caption.full_text()
    assert _tile_sizes(view)[2] > 1


def test_a_caption_too_long_for_its_label_is_elided_with_a_tooltip(qtbot):
    view = FiltersView()
    qtbot.addWidget(view)
    view.resize(120, 200)
    view.show()
    qtbot.waitExposed(view)
    view.show_filters("a_rather_long_layer_name", np.zeros((4, 1, 3, 3)))
    c = view.caption
    assert c.is_elided() and c.text().endswith("…") and c.toolTip() == c.full_text()


@pytest.mark.parametrize("size,image", [((1000, 220), (28, 28)), ((240, 700), (28, 28)),
                                        ((700, 500), (20, 40))])
@pytest.mark.parametrize("shown_first", [True, False])
def test_grad_cam_view_is_the_image_extent(qtbot, size, image, shown_first):
    view = OverlayView()
    qtbot.addWidget(view)
    h, w = image
    display = (np.random.default_rng(0).random((h, w)) * 255).astype(np.uint8)
    if not shown_first:                                # the viewer fills the tab before it shows
        view.show_overlay(display, np.random.default_rng(1).random((h, w)), 0.5)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    if shown_first:
        view.show_overlay(display, np.random.default_rng(1).random((h, w)), 0.5)
    qtbot.wait(50)
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    assert abs(x0) <= 1 and abs(x1 - w) <= 1 and abs(y0) <= 1 and abs(y1 - h) <= 1
    vb = view.plot.getViewBox().geometry()
    assert vb.height() >= 0.8 * min(size[1], view.frame.height()) or vb.width() >= 0.6 * size[0]
    view.resize(size[1] + 100, size[0])                # another shape: still the image, no margins
    qtbot.wait(50)
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    assert abs(x0) <= 1 and abs(x1 - w) <= 1 and abs(y0) <= 1 and abs(y1 - h) <= 1


def test_main_window_filters_and_gallery_click_keep_the_header_in_view(qtbot, tmp_path):
    from visionstudio.ui.features import FeatureMapView

    window = make_window(qtbot, tmp_path, panels=True)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.later_docks_added, timeout=30_000)
    view = window.findChild(FeatureMapView)
    dock = window.findChild(QDockWidget, "featureMapViewDock")
    dock.show()
    dock.raise_()
    qtbot.waitUntil(lambda: view.state.num_samples > 0 and view.state.sample is not None, timeout=60_000)
    # the filters of the classic CNN's conv1 (32 × 1×3×3) at the dock's default size
    view.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: view.filters.tiles is not None, timeout=10_000)
    qtbot.wait(50)
    w, h, columns = _tile_sizes(view.filters)
    assert w >= MIN_TILE_PX and columns > 1
    assert _caption_fits(view.filters)
    # evaluate, open the fullest cell, click its first image
    view.tabs.setCurrentIndex(4)
    task = view.evaluation.run_evaluation()
    with qtbot.waitSignal(task.done, timeout=120_000):
        pass
    ev = view.evaluation.evaluation
    t, p = np.unravel_index(np.argmax(ev.confusion), ev.confusion.shape)
    view.evaluation.show_cell(int(t), int(p))
    gallery = view.evaluation.gallery
    item = gallery.item(0)
    gallery.scrollToItem(item)
    qtbot.wait(50)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton,
                     pos=gallery.visualItemRect(item).center())
    qtbot.waitUntil(lambda: view.state.sample.index == int(item.data(Qt.ItemDataRole.UserRole)),
                    timeout=10_000)
    qtbot.wait(100)
    assert view.tabs.currentIndex() == 0
    header = view.header
    assert header.isVisible() and not header.visibleRegion().isEmpty()
    assert header.visibleRegion().boundingRect().height() == header.height()
    area = _scroll_ancestor(view)
    if area is not None:                                  # wrapped: the header is inside its viewport
        top = header.mapTo(area.viewport(), header.rect().topLeft())
        assert 0 <= top.y() and top.y() + header.height() <= area.viewport().height()
    view.shutdown()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60_000)   # the window's device probe too


def _scroll_ancestor(widget):
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent
