"""The inspector's fixed parts, built once: the header (icon, kind, description) and
the analysis lines (shapes, parameter count, FLOPs). The panel keeps the widgets as
attributes; panel.py fills them in."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFormLayout, QFrame, QHBoxLayout, QLabel, QVBoxLayout

from visionstudio.ui.canvas.layer_style import mix
from visionstudio.ui.inspector.receptive import ReceptiveLabel


def build_header(panel, body: QVBoxLayout) -> None:
    """Icon, kind and description of the layer."""
    header = QHBoxLayout()
    panel.icon_label = QLabel(panel.page)
    panel.icon_label.setFixedSize(QSize(28, 28))
    panel.kind_label = QLabel(panel.page)
    panel.kind_label.setObjectName("inspectorKind")
    font = panel.kind_label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() + 1.5)
    panel.kind_label.setFont(font)
    header.addWidget(panel.icon_label)
    header.addWidget(panel.kind_label, 1)
    body.addLayout(header)
    panel.description_label = QLabel(panel.page)
    panel.description_label.setWordWrap(True)
    muted = panel.description_label.palette()
    muted.setColor(QPalette.ColorRole.WindowText, mix(
        muted.color(QPalette.ColorRole.WindowText), muted.color(QPalette.ColorRole.Window), 0.35))
    panel.description_label.setPalette(muted)
    body.addWidget(panel.description_label)


def build_analysis(panel, body: QVBoxLayout) -> None:
    """What the shape analysis says about the layer: shapes and counts."""
    line = QFrame(panel.page)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    body.addWidget(line)
    info = QFormLayout()
    panel.shape_label = QLabel(panel.page)
    panel.shape_label.setObjectName("outputShape")
    panel.inputs_label = QLabel(panel.page)
    panel.params_label = QLabel(panel.page)
    panel.params_label.setObjectName("paramCount")
    panel.flops_label = QLabel(panel.page)
    panel.flops_label.setObjectName("flops")
    for label in (panel.shape_label, panel.inputs_label, panel.params_label, panel.flops_label):
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    info.addRow("Output", panel.shape_label)
    info.addRow("Input", panel.inputs_label)
    info.addRow("Parameters", panel.params_label)
    info.addRow("FLOPs", panel.flops_label)
    panel.receptive_label = ReceptiveLabel(panel.page)
    info.addRow("Receptive field", panel.receptive_label)
    body.addLayout(info)
