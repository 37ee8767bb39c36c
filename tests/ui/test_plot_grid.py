"""The plots' grid: lines at the axes' ticks, drawn by the view, not by pyqtgraph's axes
(whose recorded polygons were filled on Qt's GUI thread pool, waking it ~700 times a frame)."""

from __future__ import annotations

import pyqtgraph as pg

from visionstudio.ui.plots.grid import TickGrid, add_grid


def _plot(qtbot, **grid):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    plot = widget.getPlotItem()
    plot.setXRange(0, 10, padding=0)
    plot.setYRange(0, 1, padding=0)
    add_grid(plot, **grid)
    widget.show()
    qtbot.waitExposed(widget)
    return widget, plot


def _grid(plot) -> TickGrid:
    return next(item for item in plot.items if isinstance(item, TickGrid))


def test_grid_lines_sit_at_the_axes_ticks(qtbot):
    widget, plot = _plot(qtbot, x=True, y=True, alpha=0.5)
    grid = _grid(plot)
    rect = plot.getViewBox().viewRect()
    size = plot.getViewBox().size()
    vertical = [line.x1() for _pen, lines in grid._lines("bottom", rect, size.width()) for line in lines]
    ticks = [v for _spacing, values in plot.getAxis("bottom").tickValues(0, 10, size.width()) for v in values]
    assert vertical and set(vertical) <= set(ticks)
    assert 5.0 in vertical                               # a major tick of 0..10
    horizontal = [line.y1() for _pen, lines in grid._lines("left", rect, size.height()) for line in lines]
    assert 0.5 in horizontal
    # finer tick levels draw fainter, as pyqtgraph's own grid
    alphas = [pen.color().alpha() for pen, _lines in grid._lines("bottom", rect, size.width())]
    assert alphas == sorted(alphas, reverse=True) and alphas[0] > 0


def test_the_grid_is_painted_and_the_axes_draw_none(qtbot):
    widget, plot = _plot(qtbot, x=True, alpha=1.0)
    assert plot.getAxis("bottom").grid is False and plot.getAxis("left").grid is False
    image = widget.grab().toImage()
    view = plot.getViewBox()
    x5 = view.mapViewToScene(pg.Point(5.0, 0.5))
    at = widget.mapFromScene(x5)
    background = image.pixelColor(at.x() + 7, at.y())
    near = [image.pixelColor(at.x() + dx, at.y()) for dx in (-1, 0, 1)]
    assert any(c != background for c in near)            # the line at x = 5 is drawn


def test_y_only_grid_draws_no_vertical_lines(qtbot):
    widget, plot = _plot(qtbot, y=True)
    grid = _grid(plot)
    assert grid.x is False and grid.y is True
    painted = []
    grid._lines = lambda name, rect, pixels: painted.append(name) or []
    widget.grab()
    assert painted and set(painted) == {"left"}


def test_grid_follows_the_range(qtbot):
    widget, plot = _plot(qtbot, x=True)
    grid = _grid(plot)
    plot.setXRange(100, 200, padding=0)
    assert grid.boundingRect().left() == 100 and grid.boundingRect().right() == 200


def test_every_dashboard_plot_has_the_view_grid(qtbot, tmp_path):
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController

    plots = MetricsPlots(DocumentController())
    qtbot.addWidget(plots)
    for name, plot in plots.plots.items():
        assert any(isinstance(item, TickGrid) for item in plot.items), name
        assert plot.getAxis("left").grid is False, name


def test_the_dashboard_paints_its_background_without_a_cached_image(qtbot):
    """A cached background is a view-sized image blended at every paint, on Qt's GUI
    thread pool: the dashboard paints its one-colour background instead."""
    from PySide6.QtWidgets import QGraphicsView

    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController

    plots = MetricsPlots(DocumentController())
    qtbot.addWidget(plots)
    assert plots.graphics.cacheMode() == QGraphicsView.CacheModeFlag.CacheNone


def test_the_lines_of_an_unmoved_range_are_kept_and_rebuilt_when_it_moves(qtbot):
    widget, plot = _plot(qtbot, x=True, y=True)
    grid = _grid(plot)
    built = []
    lines = grid._lines
    grid._lines = lambda name, rect, pixels: built.append((name, rect.left(), rect.right())) or \
        lines(name, rect, pixels)
    widget.grab()
    widget.grab()                                   # a new point, same range: nothing rebuilt
    assert [name for name, *_ in built] == ["bottom", "left"]
    plot.setXRange(0, 20, padding=0)
    widget.grab()
    assert built[-2:] == [("bottom", 0.0, 20.0), ("left", 0.0, 20.0)]
    plot.getAxis("bottom").setTickPen(pg.mkPen("#ff0000"))   # a theme change: new colours
    widget.grab()
    assert len(built) == 6
    red = [pen.color().red() for pen, _lines in grid._lines_drawn]
    assert red and red[0] == 255
