"""InspectorPanel: the selected layer's name and parameters, and what the analysis says
(its problems, their hints and quick fixes: problems.py).

Editors are generated from the node's ParamSpecs (a block instance's are its
definition's exposed parameters, with the definition's name and buttons above them;
inside an opened block each parameter has an "Expose" box: block_header.py). Every
change is one SetParam or
RenameNode pushed through the controller (successive changes of one field merge
into one undo step); a value the spec refuses is not applied and the reason is shown
in red next to the field. Run ``python -m visionstudio.ui.inspector`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.blocks.specs import node_param_specs
from visionstudio.core.graph import GraphAnalysis, GraphModel, RenameNode, SetParam
from visionstudio.core.layers import LAYERS, fmt_shape
from visionstudio.core.layers.block_ports import BLOCK, BLOCK_KINDS
from visionstudio.core.params import ParamSpec
from visionstudio.ui.canvas.layer_style import ERROR_COLOR, layer_icon
from visionstudio.ui.canvas.scene import format_count
from visionstudio.ui.forms import ParamEditor, editor_for
from visionstudio.ui.inspector.block_header import (
    BlockHeader,
    expose_box,
    exposed_as,
    open_definition_key,
    toggle_exposed,
)
from visionstudio.ui.inspector.depthwise import DepthwiseToggle
from visionstudio.ui.inspector.problems import ProblemsBox
from visionstudio.ui.inspector.sections import build_analysis, build_header
from visionstudio.ui.inspector.transfer_box import TransferBox
from visionstudio.ui.shell.push import push_or_reason


@dataclass
class _Row:
    spec: ParamSpec
    label: QLabel
    editor: ParamEditor
    error: QLabel
    expose: QCheckBox | None = None


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {ERROR_COLOR.name()};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


class InspectorPanel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.setAccessibleName("Layer inspector")
        self.controller = controller
        self._graph: GraphModel | None = None
        self._node_id: str | None = None
        self._rows: dict[str, _Row] = {}
        self._shown_schema: tuple = ()
        self._build_pages()
        body = QVBoxLayout(self.page)
        body.setContentsMargins(10, 10, 10, 10)
        body.setSpacing(8)
        build_header(self, body)
        self.block_header = BlockHeader(controller, self.page)
        body.addWidget(self.block_header)
        # the layer's problems first, where a short dock still shows them, with their fixes
        self.problems = ProblemsBox(controller, self.page)
        self.diagnostics_label = self.problems.label
        body.addWidget(self.problems)
        self._build_params(body)
        build_analysis(self, body)
        body.addStretch(1)

        controller.selection_changed.connect(self._on_controller_selection_changed)
        controller.analysis_changed.connect(self._on_controller_analysis_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        controller.scope_changed.connect(self._on_controller_scope_changed)
        self._bind(controller.graph)
        self._on_controller_selection_changed(controller.selection)

    # -- building ----------------------------------------------------------------------------
    def _build_pages(self) -> None:
        """Two pages: the placeholder (nothing or several selected) and the layer's page."""
        self.stack = QStackedWidget(self)
        self.placeholder = QLabel(self)
        self.placeholder.setObjectName("inspectorPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self.placeholder.setMargin(12)
        self.stack.addWidget(self.placeholder)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page = QWidget()
        scroll.setWidget(self.page)
        self.stack.addWidget(scroll)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    def _build_params(self, body: QVBoxLayout) -> None:
        """The name and the basic parameters share one form, so labels line up; the
        advanced ones sit in a collapsible group below."""
        self.params_form = QFormLayout()
        self.params_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit(self.page)
        self.name_edit.setObjectName("layerName")
        self.name_edit.setAccessibleName("Layer name")
        self.name_edit.setToolTip("The layer's name: letters, digits and underscores; used in exported code.")
        self.name_edit.editingFinished.connect(self._on_name_edit_finished)
        self.name_error = _error_label(self.page)
        name_box = QVBoxLayout()
        name_box.setSpacing(2)
        name_box.addWidget(self.name_edit)
        name_box.addWidget(self.name_error)
        self.params_form.addRow("Name", name_box)
        body.addLayout(self.params_form)
        self.no_params_label = QLabel("This layer has no parameters.", self.page)
        self.no_params_label.setEnabled(False)
        body.addWidget(self.no_params_label)
        self.depthwise = DepthwiseToggle(self.controller, self.page)  # Conv2d only: depthwise.py
        body.addWidget(self.depthwise)
        self.transfer_box = TransferBox(self.controller, self.page)  # trainable, lr ×: transfer_box.py
        body.addWidget(self.transfer_box)
        self.advanced_toggle = QToolButton(self.page)
        self.advanced_toggle.setObjectName("advancedToggle")
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setAccessibleName("Show advanced parameters")
        self.advanced_toggle.setToolTip("Show or hide the parameters most networks leave at "
                                        "their defaults")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._on_advanced_toggled)
        body.addWidget(self.advanced_toggle)
        self.advanced_box = QWidget(self.page)
        self.advanced_form = QFormLayout(self.advanced_box)
        self.advanced_form.setContentsMargins(12, 0, 0, 0)
        self.advanced_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.advanced_box.hide()
        body.addWidget(self.advanced_box)

    # -- binding ---------------------------------------------------------------------------
    def _bind(self, graph: GraphModel) -> None:
        if self._graph is not None:
            self._graph.params_changed.disconnect(self._on_graph_params_changed)
            self._graph.node_renamed.disconnect(self._on_graph_node_renamed)
        self._graph = graph
        graph.params_changed.connect(self._on_graph_params_changed)
        graph.node_renamed.connect(self._on_graph_node_renamed)

    def _on_controller_document_replaced(self, document) -> None:
        self._bind(document.graph)
        self._show_node(None)

    def _on_controller_scope_changed(self, _scope) -> None:
        """Another graph is edited now (a block opened or left): its nodes, its events."""
        self._bind(self.controller.graph)
        self._show_node(None)

    @property
    def node_id(self) -> str | None:
        return self._node_id

    def row(self, name: str) -> _Row:
        return self._rows[name]

    def editor(self, name: str) -> ParamEditor:
        return self._rows[name].editor

    # -- selection ----------------------------------------------------------------------------
    def _on_controller_selection_changed(self, ids: list[str]) -> None:
        if len(ids) == 1:
            self._show_node(ids[0])
            return
        self._show_node(None)
        if ids:
            self.placeholder.setText(f"{len(ids)} layers selected")
        else:
            self.placeholder.setText("Select a layer on the canvas to edit its parameters.")

    def _show_node(self, node_id: str | None) -> None:
        graph = self.controller.graph
        if node_id is None or node_id not in graph.nodes:
            self._node_id = None
            self._clear_rows()
            self.stack.setCurrentIndex(0)
            return
        node = graph.nodes[node_id]
        if node_id != self._node_id or self._schema(node) != self._shown_schema:
            self._node_id = node_id
            self._build_rows(node)
        self.stack.setCurrentIndex(1)
        self._refresh_values()
        self._refresh_info(self.controller.analysis)

    def _clear_rows(self) -> None:
        for form, keep in ((self.params_form, 1), (self.advanced_form, 0)):
            while form.rowCount() > keep:
                form.removeRow(keep)
        self._rows.clear()

    def _schema(self, node) -> tuple:
        """What the rows depend on: the node's specs and whether they can be exposed."""
        graph = self.controller.graph
        definition = graph.blocks.find(node.params.get("block")) if node.kind == BLOCK else None
        title = (definition.title, definition.description) if definition is not None else None
        return node.kind, node_param_specs(graph, node), open_definition_key(self.controller), title

    def _build_rows(self, node) -> None:
        self._clear_rows()
        self.name_error.hide()
        kind = node.kind
        spec = LAYERS.get(kind) if kind in LAYERS else None
        definition = self.controller.graph.blocks.find(node.params.get("block")) if kind == BLOCK else None
        self.icon_label.setPixmap(layer_icon(kind).pixmap(QSize(28, 28)))
        self.kind_label.setText(definition.title or definition.key if definition else
                                spec.title if spec else kind)
        self.description_label.setText(definition.description if definition else
                                       spec.description if spec else "Unknown layer kind")
        self.block_header.show_for(node)
        self._shown_schema = self._schema(node)
        params = self._shown_schema[1]
        exposable = self._shown_schema[2] is not None and (kind == BLOCK or kind not in BLOCK_KINDS)
        for pspec in params:
            if pspec.name not in self._rows:   # one field per name (a name may set several layers)
                self._add_row(pspec, exposable)
        has_advanced = any(p.advanced for p in params)
        self.advanced_toggle.setVisible(has_advanced)
        self.advanced_box.setVisible(has_advanced and self.advanced_toggle.isChecked())
        self.no_params_label.setVisible(not params)

    def _add_row(self, pspec: ParamSpec, exposable: bool = False) -> None:
        """A label, the factory's editor and an error line under it (hidden until needed)."""
        form = self.advanced_form if pspec.advanced else self.params_form
        label = QLabel(pspec.label.capitalize(), self.page)
        label.setToolTip(pspec.describe())
        editor = editor_for(pspec, self.page)
        error = _error_label(self.page)
        label.setBuddy(editor.field)
        box = QWidget(self.page)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        line = QHBoxLayout()
        line.addWidget(editor, 1)
        expose = expose_box(self.page) if exposable else None
        if expose is not None:
            line.addWidget(expose)
            expose.toggled.connect(lambda on, p=pspec: self._on_expose_toggled(p, on))
        lay.addLayout(line)
        lay.addWidget(error)
        form.addRow(label, box)
        editor.committed.connect(lambda value, n=pspec.name: self._on_editor_committed(n, value))
        editor.invalid.connect(lambda reason, n=pspec.name: self._show_error(n, reason))
        self._rows[pspec.name] = _Row(pspec, label, editor, error, expose)

    def _on_advanced_toggled(self, on: bool) -> None:
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.advanced_box.setVisible(on)

    # -- values -----------------------------------------------------------------------------------
    def _refresh_values(self) -> None:
        node = self.controller.graph.nodes[self._node_id]
        if not self.name_edit.hasFocus() or self.name_edit.text() == node.name:
            self.name_edit.setText(node.name)
        for name, row in self._rows.items():
            row.editor.set_value(node.params.get(name, row.spec.default))
        self._refresh_exposed()

    def _refresh_exposed(self) -> None:
        key = open_definition_key(self.controller)
        definition = self.controller.graph.blocks.find(key)
        for name, row in self._rows.items():
            if row.expose is not None and definition is not None:
                row.expose.blockSignals(True)
                row.expose.setChecked(exposed_as(definition, self._node_id, name) is not None)
                row.expose.blockSignals(False)

    def _on_expose_toggled(self, spec: ParamSpec, on: bool) -> None:
        reason = toggle_exposed(self.controller, self._node_id, spec, on)
        if reason:
            self._show_error(spec.name, reason)
        self._refresh_exposed()

    def _on_graph_params_changed(self, node_id: str, name: str, value: Any) -> None:
        if node_id == self._node_id and name in self._rows:
            self._rows[name].editor.set_value(value)
            self._clear_error(name)

    def _on_graph_node_renamed(self, node_id: str, name: str) -> None:
        if node_id == self._node_id:
            self.name_edit.setText(name)
            self.name_error.hide()

    def _show_error(self, name: str, reason: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            row.error.setText(reason)
            row.error.show()
            row.editor.show_problem(reason)

    def _clear_error(self, name: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            row.error.hide()
            row.error.clear()
            row.editor.show_problem(None)

    def error_text(self, name: str) -> str:
        row = self._rows[name]
        return row.error.text() if not row.error.isHidden() else ""

    def _on_editor_committed(self, name: str, clean: Any) -> None:
        """The editor's spec accepted ``clean``; the graph may still refuse (a lock)."""
        node = self.controller.graph.nodes.get(self._node_id) if self._node_id else None
        if node is None:
            return
        if clean == node.params.get(name):
            self._clear_error(name)
            self._rows[name].editor.set_value(clean)
            return
        reason = push_or_reason(self.controller, SetParam(node.id, name, clean))
        if reason:
            self._show_error(name, reason)
        else:
            self._clear_error(name)

    def _on_name_edit_finished(self) -> None:
        node = self.controller.graph.nodes.get(self._node_id) if self._node_id else None
        if node is None:
            return
        text = self.name_edit.text().strip()
        if text == node.name:
            self.name_error.hide()
            return
        reason = push_or_reason(self.controller, RenameNode(node.id, text))
        if reason:
            self.name_error.setText(reason)
            self.name_error.show()
        else:
            self.name_error.hide()

    # -- analysis ----------------------------------------------------------------------------------
    def _on_controller_analysis_changed(self, analysis: GraphAnalysis) -> None:
        if self._node_id is not None:
            node = self.controller.graph.nodes.get(self._node_id)
            if node is None:
                return  # the selection update follows
            if self._schema(node) != self._shown_schema:   # the block's exposed list changed
                self._build_rows(node)
                self._refresh_values()
            self._refresh_exposed()
            self.block_header.show_for(node)
            self._refresh_info(analysis)

    def _refresh_info(self, analysis: GraphAnalysis) -> None:
        self.depthwise.show_for(self._node_id, analysis)
        info = analysis.nodes.get(self._node_id)
        if info is None:
            return
        self.shape_label.setText(fmt_shape(info.output_shape))
        self.inputs_label.setText(", ".join(fmt_shape(s) for s in info.input_shapes) or "—")
        self.params_label.setText(f"{info.params:,}")
        self.flops_label.setText(format_count(info.flops) if info.flops else "0")
        self.receptive_label.show_for(self.controller.graph, analysis, self._node_id)
        self.problems.show_for(analysis, self._node_id)

