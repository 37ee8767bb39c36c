"""The inspector's "Depthwise" box for a Conv2d: one click sets groups to the number of
input channels (each channel filtered on its own, as MobileNet does) and, where needed,
the filters to a multiple of it, as one undo step; unticking it makes the layer a full
convolution again (groups 1).

The box shows what the graph says (ticked while groups equals the input channels) and is
disabled while the input channels are unknown (the layer is not connected yet) or one.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QWidget

from visionstudio.core.commands import Command, Macro
from visionstudio.core.graph import GraphAnalysis, SetParam
from visionstudio.ui.shell.push import push_or_reason

DEPTHWISE_KINDS = ("conv2d",)


def input_channels(analysis: GraphAnalysis, node_id: str) -> int | None:
    info = analysis.nodes.get(node_id)
    if info is None or len(info.input_shapes) != 1 or len(info.input_shapes[0]) != 3:
        return None
    return info.input_shapes[0][0]


def depthwise_command(graph, node_id: str, channels: int, on: bool) -> Command | None:
    """The edit that makes the layer depthwise over ``channels`` inputs (or a full
    convolution again); None when it already is. Always a Macro: a click is one step of
    its own, never merged with the typing into the groups field before it."""
    node = graph.nodes[node_id]
    if not on:
        if node.params.get("groups", 1) == 1:
            return None
        return Macro(f"Make {node.name} a full convolution", [SetParam(node_id, "groups", 1)])
    filters = node.params.get("out_channels", channels)
    steps: list[Command] = []
    if filters % channels:  # keep the depth multiplier the filters had, at least 1
        steps.append(SetParam(node_id, "out_channels", channels * max(1, filters // channels)))
    if node.params.get("groups", 1) != channels:
        steps.append(SetParam(node_id, "groups", channels))
    return Macro(f"Make {node.name} depthwise", steps) if steps else None


class DepthwiseToggle(QCheckBox):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__("Depthwise (one filter group per input channel)", parent)
        self.setObjectName("depthwiseToggle")
        self.setAccessibleName("Depthwise convolution")
        self.controller = controller
        self._node_id: str | None = None
        self._channels: int | None = None
        self.clicked.connect(self._on_clicked)
        self.hide()

    def show_for(self, node_id: str | None, analysis: GraphAnalysis) -> None:
        graph = self.controller.graph
        node = graph.nodes.get(node_id) if node_id else None
        self._node_id = node_id if node is not None and node.kind in DEPTHWISE_KINDS else None
        self.setVisible(self._node_id is not None)
        if self._node_id is None:
            return
        self._channels = input_channels(analysis, self._node_id)
        self.setEnabled(self._channels is not None and self._channels > 1)
        if not self.isEnabled():
            self.setChecked(False)
            self.setToolTip("Connect an input first: a depthwise convolution has one group per "
                            "input channel." if self._channels is None else
                            "The input has one channel: this convolution is already depthwise.")
            return
        self.setChecked(self._channels > 1 and node.params.get("groups", 1) == self._channels)
        self.setToolTip(f"Set groups to the {self._channels} input channels, so each channel is "
                        "filtered on its own (filters become a multiple of it); untick for a full "
                        "convolution (groups 1).")

    def _on_clicked(self, checked: bool) -> None:
        if self._node_id is None or self._channels is None:
            return
        command = depthwise_command(self.controller.graph, self._node_id, self._channels, checked)
        if command is not None:
            push_or_reason(self.controller, command)  # a refusal is announced on the status bar
        self.show_for(self._node_id, self.controller.analysis)  # the box shows the graph again
