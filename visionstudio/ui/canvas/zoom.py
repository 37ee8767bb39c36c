"""Zoom for GraphView: absolute zoom within limits, fit-to-view, wheel and pinch.

A mouse wheel zooms around the cursor; a touchpad's two-finger scroll pans and
Ctrl+scroll on it zooms; pinch gestures (Qt gesture or native) zoom around their centre.
Mixed into GraphView (a QGraphicsView) before the Qt base, so the event overrides here
chain to QGraphicsView through ``super()``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsView, QPinchGesture

MIN_ZOOM, MAX_ZOOM = 0.15, 3.0


class ZoomMixin:
    """Zoom and fit for a QGraphicsView with a ``graph_scene``."""

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Absolute zoom (1.0 = 100 %), kept within limits, around ``anchor`` (viewport px)."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        ratio = factor / self.zoom
        if abs(ratio - 1.0) < 1e-6:
            return
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(ratio, ratio)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
            return
        before = self.mapToScene(anchor.toPoint())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(ratio, ratio)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / 1.25)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def fit_to_view(self) -> None:
        items = self.graph_scene.node_items()
        if not items:
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect = rect.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.25:
            self.set_zoom(1.25)
        elif self.zoom < MIN_ZOOM:
            self.set_zoom(MIN_ZOOM)
        self.centerOn(rect.center())

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Node-editor convention: a mouse wheel zooms around the cursor; a touchpad's
        # two-finger scroll (pixel deltas) pans, and Ctrl+scroll on it zooms.
        pixel = event.pixelDelta()
        touchpad = not pixel.isNull() and not (event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if touchpad:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - pixel.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - pixel.y())
            event.accept()
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * (1.15 ** steps), event.position())
        event.accept()

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Gesture:
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                factor = pinch.scaleFactor()
                if factor > 0:
                    center = self.viewport().mapFromGlobal(pinch.centerPoint().toPoint())
                    self.set_zoom(self.zoom * factor, QPointF(center))
                event.accept()
                return True
        if (event.type() == QEvent.Type.NativeGesture
                and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):
            # touchpad pinch on macOS / Wayland: value() is the relative scale change
            self.set_zoom(self.zoom * (1.0 + event.value()), event.position())
            event.accept()
            return True
        return super().viewportEvent(event)
