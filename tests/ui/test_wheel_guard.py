"""No combo box, spin box or slider changes by the mouse wheel unless it has focus,
in every panel of the window (issue #13: scrolling over the Training form switched the
optimizer from Adam to Adagrad). Real wheel events: sent to the window, Qt finds the
widget under the pointer, gives focus by policy and propagates, as for a mouse
(QTest.wheelEvent goes through the window system interface: a spontaneous event)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollArea,
    QScrollBar,
    QWidget,
)

from .shell_helpers import make_window


def _wheel(at: QPointF, down: bool) -> QWheelEvent:
    delta = QPoint(0, -120 if down else 120)
    return QWheelEvent(at, at, QPoint(), delta, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                       Qt.ScrollPhase.NoScrollPhase, False)


def _value(widget: QWidget):
    if isinstance(widget, QComboBox):
        return widget.currentIndex(), widget.currentText()
    if isinstance(widget, QAbstractSlider):
        return widget.value()
    return widget.text()


def _guarded(window) -> list[QWidget]:
    found = window.findChildren(QComboBox) + window.findChildren(QAbstractSpinBox)
    found += [s for s in window.findChildren(QAbstractSlider) if not isinstance(s, QScrollBar)]
    return found


def _spin_over(window, widget: QWidget, down: bool) -> None:
    """A wheel over ``widget``: through the window (what a mouse does) when its centre is
    on screen, else straight to it."""
    centre = widget.rect().center()
    if widget.isVisible() and widget.visibleRegion().contains(centre):
        at = QPointF(widget.mapTo(window, centre))
        QTest.wheelEvent(window.windowHandle(), at, QPoint(0, -120 if down else 120))
    else:
        QApplication.sendEvent(widget, _wheel(QPointF(centre), down))


def _window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True, panels=True)
    qtbot.waitUntil(lambda: w.later_docks_added, timeout=20_000)
    from visionstudio.ui.shell.tasks import live_tasks

    qtbot.waitUntil(lambda: not live_tasks(), timeout=60_000)  # the device list and samples are in
    w.resize(1280, 800)
    w.reset_layout()
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.wait(50)
    return w


def test_an_unfocused_value_widget_ignores_the_wheel_everywhere(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    w.canvas.setFocus()
    widgets = _guarded(w)
    names = {x.objectName() for x in widgets}
    assert {"optimizerCombo", "deviceCombo", "sampleIndex", "timelapseSlider"} <= names, names
    assert len(widgets) > 10
    for key in ("trainingPanel", "featureMapView", "metricsPlots", "summary", "inspector"):
        w.docks[key].raise_()
        qtbot.wait(10)
        for widget in _guarded(w.docks[key]):
            before = _value(widget)
            for down in (True, False, True):
                _spin_over(w, widget, down)
            assert not widget.hasFocus(), f"the wheel focused {widget.objectName()}"
            assert _value(widget) == before, f"the wheel changed {widget.objectName() or widget}"


def test_the_wheel_scrolls_the_training_form_and_changes_a_focused_combo(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    w.docks["trainingPanel"].raise_()
    qtbot.wait(20)
    combo = w.findChild(QComboBox, "optimizerCombo")
    area = next(a for a in w.docks["trainingPanel"].findChildren(QScrollArea) if a.isAncestorOf(combo))
    area.ensureWidgetVisible(combo)
    qtbot.wait(20)
    bar = area.verticalScrollBar()
    scrolled, index = bar.value(), combo.currentIndex()
    _spin_over(w, combo, down=bar.value() < bar.maximum())
    assert combo.currentIndex() == index
    assert bar.value() != scrolled  # the form scrolled instead
    # clicked into (focused), the wheel changes it as usual
    area.ensureWidgetVisible(combo)
    qtbot.wait(20)
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(combo.hasFocus, timeout=2_000)
    combo.setCurrentIndex(0)
    _spin_over(w, combo, down=True)
    assert combo.currentIndex() == 1
