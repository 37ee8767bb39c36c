"""The inspector's receptive-field line: how much of the input image the selected
layer's output pixel sees (core.inspect.receptive_field), e.g.
"18×18 px · jump 4 · offset 1.5". The fields of the whole graph are computed once per
analysis and only while a layer is shown."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from visionstudio.core.graph import GraphAnalysis, GraphModel
from visionstudio.core.inspect.receptive_field import ReceptiveField, describe, receptive_fields

EXPLAINED = ("The input pixels one output pixel of this layer can see: the size of that window, "
             "how far it moves per output pixel (jump) and where the first one is centred "
             "(offset, in input pixels; negative reaches into the padding).")
UNKNOWN = "—"


class ReceptiveLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(UNKNOWN, parent)
        self.setObjectName("receptiveField")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setToolTip(EXPLAINED)
        self._for: tuple[GraphModel, GraphAnalysis] | None = None
        self._fields: dict[str, ReceptiveField] = {}

    def fields(self, graph: GraphModel, analysis: GraphAnalysis) -> dict[str, ReceptiveField]:
        if self._for is None or self._for[0] is not graph or self._for[1] is not analysis:
            self._fields = receptive_fields(graph, analysis)
            self._for = (graph, analysis)
        return self._fields

    def show_for(self, graph: GraphModel, analysis: GraphAnalysis, node_id: str | None) -> None:
        """The field of ``node_id``, or a dash where it has none (no shape yet, or inside
        a block definition without a preview input)."""
        field = self.fields(graph, analysis).get(node_id) if node_id is not None else None
        self.setText(describe(field) if field is not None else UNKNOWN)
