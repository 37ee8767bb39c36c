"""A deep network's feature maps stay visible: with 53 conv layers (a ResNet-50) the grid
scrolls instead of squeezing every map under its title, and a draw does not compute the
per-channel statistics that only the hover line needs."""

from __future__ import annotations

import numpy as np

from visionstudio.core.inspect import Activation
from visionstudio.ui.features.grid import MIN_MAP_HEIGHT, ActivationGrid
from visionstudio.ui.features.view_layout import QScrollArea


def _acts(n: int) -> dict[str, Activation]:
    rng = np.random.default_rng(0)
    out = {f"conv{i}": Activation(f"conv{i}", rng.normal(size=(8, 6, 6)).astype(np.float32))
           for i in range(n)}
    out["conv0"].array[3] = 0.0                        # a dead channel
    return out


def test_many_layers_keep_their_height_and_scroll(qtbot):
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    grid = ActivationGrid()
    scroll.setWidget(grid)
    qtbot.addWidget(scroll)
    scroll.resize(900, 600)
    scroll.show()
    acts = _acts(53)
    grid.show_activations(acts, list(acts))
    qtbot.waitUntil(lambda: grid.height() > 53 * MIN_MAP_HEIGHT)
    heights = [view.view.sceneBoundingRect().height() for view in grid.layers.values()]
    assert min(heights) >= MIN_MAP_HEIGHT
    assert scroll.verticalScrollBar().maximum() > 0          # the user can reach the last layer
    assert all(a._stats is None for a in acts.values())      # statistics wait for a hover
    assert grid.layers["conv0"].stats[3].maximum == 0.0       # ... and are there when asked
    assert "1 of 8 channels flat" in grid.layers["conv0"].title.text


def test_few_layers_fill_the_window_without_scrolling(qtbot):
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    grid = ActivationGrid()
    scroll.setWidget(grid)
    qtbot.addWidget(scroll)
    scroll.resize(900, 700)
    scroll.show()
    acts = _acts(2)
    grid.show_activations(acts, list(acts))
    qtbot.wait(50)
    assert scroll.verticalScrollBar().maximum() == 0
    grid.clear_layers()
    assert grid.minimumHeight() == 0


def test_the_viewer_wraps_its_grid_in_a_scroll_area(qtbot):
    from visionstudio.core.templates import load_template
    from visionstudio.ui.features import FeatureMapView
    from visionstudio.ui.shell.controller import DocumentController

    view = FeatureMapView(DocumentController(load_template("classic_cnn")))
    qtbot.addWidget(view)
    assert view.grid_scroll.widget() is view.grid
