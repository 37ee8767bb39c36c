"""Helpers shared by the canvas, palette and inspector tests."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from visionstudio.core.graph import AddNode, Connect
from visionstudio.ui.canvas import LAYER_MIME, GraphView


def open_view(qtbot, controller, centre=(0.0, 150.0)) -> GraphView:
    """A shown 900×700 canvas at zoom 1 centred on ``centre``: the tests' common view."""
    v = GraphView(controller)
    qtbot.addWidget(v)
    v.resize(900, 700)
    v.show()
    qtbot.waitExposed(v)
    v.set_zoom(1.0)
    v.centerOn(*centre)
    return v


def add(controller, kind: str, pos=(0.0, 0.0), **params) -> str:
    cmd = AddNode(kind, pos, params=params or None)
    assert controller.push(cmd)
    return cmd.node_id


def wire(controller, a: str, b: str) -> None:
    assert controller.push(Connect(a, b))


def snapshot(controller):
    return controller.graph.to_dict(), controller.graph.layout_dict()


def layer_mime(key: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_MIME, key.encode("utf-8"))
    return mime


def drop(view, mime: QMimeData, pos: QPoint) -> bool:
    """Drag enter, move and drop on the view's viewport, as a real drag would."""
    vp = view.viewport()
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(pos, copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    ev = QDropEvent(QPointF(pos), copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)
    return ev.isAccepted()


def mouse(view, kind, pos: QPoint, buttons=Qt.MouseButton.LeftButton,
          button=Qt.MouseButton.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    types = {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove,
             "release": QMouseEvent.Type.MouseButtonRelease}
    if kind == "move":
        button = Qt.MouseButton.NoButton
    if kind == "release":
        buttons = Qt.MouseButton.NoButton
    ev = QMouseEvent(types[kind], QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(vp, ev)


def drag(view, start: QPoint, end: QPoint, steps: int = 5, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    mouse(view, "press", start, modifiers=modifiers)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        mouse(view, "move", QPoint(round(p.x()), round(p.y())), modifiers=modifiers)
    mouse(view, "release", end, modifiers=modifiers)


def vpos(view, scene_point) -> QPoint:
    return view.mapFromScene(scene_point)
