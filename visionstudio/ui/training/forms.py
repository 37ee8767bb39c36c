"""ParamForm: a form of ParamSpec editors (one declaration, one editor) for the
training panel's settings sections.

The editors come from the shared factory (``visionstudio.ui.forms``), with floats as
text fields: learning rates and weight decay span decades and are typed as 1e-4. A
value reaches ``edited(name, value)`` only once its ParamSpec accepted it; a refused
entry is marked red and explained in the field's tooltip.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QWidget

from visionstudio.core.params import ParamSpec
from visionstudio.ui.forms import ParamEditor, editor_for


class ParamForm(QWidget):
    edited = Signal(str, object)   # name, validated value

    def __init__(self, specs: tuple[ParamSpec, ...] = (), values: dict[str, Any] | None = None,
                 parent: QWidget | None = None, object_prefix: str = "param") -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._prefix = object_prefix
        self._editors: dict[str, ParamEditor] = {}
        # each parameter's input control (spin box, check box, combo box, line edit)
        self.editors: dict[str, QWidget] = {}
        self.specs: dict[str, ParamSpec] = {}
        self.set_specs(specs, values or {})

    def editor(self, name: str) -> ParamEditor:
        return self._editors[name]

    def set_specs(self, specs: tuple[ParamSpec, ...], values: dict[str, Any]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._editors.clear()
        self.editors.clear()
        self.specs = {s.name: s for s in specs}
        for spec in specs:
            editor = editor_for(spec, self, floats_as_text=True)
            editor.field.setObjectName(f"{self._prefix}_{spec.name}")
            editor.committed.connect(lambda value, n=spec.name: self.edited.emit(n, value))
            self._editors[spec.name] = editor
            self.editors[spec.name] = editor.field
            self._layout.addRow(spec.label, editor)
            label = self._layout.labelForField(editor)
            if label is not None:  # hovering the row's label explains it too
                label.setToolTip(spec.describe())
        self.set_values(values)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the document's values; a field's mark of a refused entry is cleared."""
        for name, editor in self._editors.items():
            editor.set_value(values.get(name, self.specs[name].default))
            editor.show_problem(None)

    def set_editable(self, names: set[str] | None) -> None:
        """Enable only ``names`` (None: all)."""
        for name, editor in self._editors.items():
            editor.setEnabled(names is None or name in names)
