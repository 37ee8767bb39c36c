"""Default dock sizes at 1280x800 (issue #13): after View › Reset Panels the window fits
a 1024 px screen and the Training form and Feature maps open readable, not as strips."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QScrollArea

from .shell_helpers import make_window

READABLE = 250  # px of scroll area the training form / feature maps get at least


def _settle(qtbot) -> None:
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(20)


def _tall_window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True, panels=True)
    qtbot.waitUntil(lambda: w.later_docks_added, timeout=20_000)
    w.resize(1280, 800)
    qtbot.waitUntil(lambda: (w.width(), w.height()) == (1280, 800), timeout=5_000)
    _settle(qtbot)
    return w


def _viewport_height(w, qtbot, key: str, name: str | None = None) -> int:
    dock = w.docks[key]
    dock.raise_()
    _settle(qtbot)
    areas = [a for a in dock.findChildren(QScrollArea) if a.isVisible()
             and (name is None or a.objectName() == name)]
    assert areas, f"no visible scroll area in the {key} panel"
    return max(a.viewport().height() for a in areas)


def test_reset_panels_fits_1024_and_opens_the_panels_readable(qtbot, tmp_path):
    w = _tall_window(qtbot, tmp_path)
    w.docks["metricsPlots"].raise_()
    w.reset_layout()
    _settle(qtbot)
    assert (w.width(), w.height()) == (1280, 800)  # resetting never widens the window
    assert w.minimumSizeHint().width() <= 1024, w.minimumSizeHint()
    # later panels are tabbed again, not laid side by side at the bottom
    assert w.docks["featureMapView"] in w.tabifiedDockWidgets(w.docks["summary"])
    assert w.docks["metricsPlots"] in w.tabifiedDockWidgets(w.docks["summary"])
    assert w.docks["trainingPanel"] in w.tabifiedDockWidgets(w.docks["history"])
    assert _viewport_height(w, qtbot, "trainingPanel") >= READABLE
    assert w.docks["featureMapView"].height() > 3 * 60  # not a strip
    assert _viewport_height(w, qtbot, "featureMapView", "featureTabScroll") >= READABLE
    assert w.canvas.height() >= 200 and w.canvas.width() >= 500  # the canvas keeps its room


def test_first_start_opens_the_training_form_readable(qtbot, tmp_path):
    w = _tall_window(qtbot, tmp_path)
    w._default_dock_sizes()  # what showEvent does on a first start at this size
    _settle(qtbot)
    assert w.minimumSizeHint().width() <= 1024, w.minimumSizeHint()
    assert _viewport_height(w, qtbot, "trainingPanel") >= READABLE
    assert _viewport_height(w, qtbot, "featureMapView", "featureTabScroll") >= READABLE
