"""ParamForm: editors generated from ParamSpec schemas (one declaration, one editor).

The inspector package had no shared editor factory when this was written, so this
small one serves the training panel: int -> spin box, float -> text field (learning
rates span 1e-6 … 10, which spin boxes render badly), bool -> check box, choice ->
combo box, anything else -> text. A value is validated by its ParamSpec before
``edited(name, value)`` is emitted; an invalid entry is marked and explained in place.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from visionstudio.core.params import ParamError, ParamSpec

INT_MAX = 2**31 - 1


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return str(value)


class ParamForm(QWidget):
    edited = Signal(str, object)   # name, validated value

    def __init__(self, specs: tuple[ParamSpec, ...] = (), values: dict[str, Any] | None = None,
                 parent: QWidget | None = None, object_prefix: str = "param") -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._prefix = object_prefix
        self.editors: dict[str, QWidget] = {}
        self.specs: dict[str, ParamSpec] = {}
        self.set_specs(specs, values or {})

    def set_specs(self, specs: tuple[ParamSpec, ...], values: dict[str, Any]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.editors.clear()
        self.specs = {s.name: s for s in specs}
        for spec in specs:
            editor = self._make(spec)
            editor.setObjectName(f"{self._prefix}_{spec.name}")
            editor.setToolTip(spec.describe())
            editor.setAccessibleName(spec.label)
            self.editors[spec.name] = editor
            self._layout.addRow(spec.label, editor)
            label = self._layout.labelForField(editor)
            if label is not None:  # hovering the row's label explains it too
                label.setToolTip(spec.describe())
        self.set_values(values)

    def _make(self, spec: ParamSpec) -> QWidget:
        name = spec.name
        if spec.kind == "int" and not spec.optional:
            box = QSpinBox()
            box.setKeyboardTracking(False)
            box.setRange(int(max(spec.minimum if spec.minimum is not None else -INT_MAX, -INT_MAX)),
                         int(min(spec.maximum if spec.maximum is not None else INT_MAX, INT_MAX)))
            box.valueChanged.connect(lambda v, n=name: self._commit(n, int(v)))
            return box
        if spec.kind == "bool":
            check = QCheckBox()
            check.toggled.connect(lambda v, n=name: self._commit(n, bool(v)))
            return check
        if spec.kind == "choice":
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.currentTextChanged.connect(lambda t, n=name: self._commit(n, t))
            return combo
        line = QLineEdit()
        if spec.optional:
            line.setPlaceholderText("not set")
        line.editingFinished.connect(lambda n=name: self._commit_text(n))
        return line

    def _commit_text(self, name: str) -> None:
        spec, line = self.specs[name], self.editors[name]
        text = line.text().strip()
        try:
            if text == "" and spec.optional:
                value: Any = None
            elif spec.kind in ("int", "float"):
                value = float(text)
                if spec.kind == "int" and value.is_integer():
                    value = int(value)
            elif spec.kind == "str":
                value = text
            else:
                value = json.loads(text) if text[:1] in "[0123456789-" else text
        except ValueError:
            self._mark(name, f"{spec.label}: enter a number" if spec.kind in ("int", "float")
                       else f"{spec.label}: cannot read {text!r}")
            return
        self._commit(name, value)

    def _commit(self, name: str, value: Any) -> None:
        spec = self.specs[name]
        try:
            clean = spec.validate(value)
        except ParamError as exc:
            self._mark(name, str(exc))
            return
        self._mark(name, None)
        self.edited.emit(name, clean)

    def _mark(self, name: str, problem: str | None) -> None:
        editor = self.editors[name]
        editor.setStyleSheet("border: 1px solid #c62828;" if problem else "")
        editor.setToolTip(problem or self.specs[name].describe())

    def set_values(self, values: dict[str, Any]) -> None:
        for name, editor in self.editors.items():
            value = values.get(name, self.specs[name].default)
            editor.blockSignals(True)
            try:
                if isinstance(editor, QSpinBox):
                    editor.setValue(int(value))
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QComboBox):
                    editor.setCurrentText(str(value))
                elif isinstance(editor, QLineEdit):
                    if not editor.hasFocus() or editor.text() != _fmt(value):
                        editor.setText(_fmt(value))
            finally:
                editor.blockSignals(False)

    def set_editable(self, names: set[str] | None) -> None:
        """Enable only ``names`` (None: all)."""
        for name, editor in self.editors.items():
            editor.setEnabled(names is None or name in names)
