"""One editor widget per ParamSpec kind.

Editors only parse what the user typed into a value; the panel validates it with the
ParamSpec (one place for the rules) and turns it into a SetParam command. An editor
emits ``committed(value)`` when the user finishes an edit, or ``invalid(reason)``
when the text cannot even be read as the right kind of value.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from visionstudio.core.params import ParamSpec

_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1


class ParamEditor(QWidget):
    committed = Signal(object)
    invalid = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.field: QWidget = QWidget(self)

    def _install(self, field: QWidget) -> None:
        self.field = field
        field.setAccessibleName(self.spec.label)
        field.setToolTip(self.spec.describe())
        field.setObjectName(f"param_{self.spec.name}")
        self._layout.addWidget(field, 1)
        self.setFocusProxy(field)

    def set_value(self, value: Any) -> None:
        """Show ``value``; every concrete editor overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must implement set_value")


class IntEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        box = QSpinBox(self)
        box.setRange(int(spec.minimum) if spec.minimum is not None else _INT_MIN,
                     int(spec.maximum) if spec.maximum is not None else _INT_MAX)
        box.setKeyboardTracking(False)  # typing commits on Enter / focus-out, arrows at once
        box.setAccelerated(True)
        box.valueChanged.connect(self.committed.emit)
        self._install(box)

    def set_value(self, value: Any) -> None:
        box: QSpinBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            box.setValue(int(value))
        box.blockSignals(False)


class _CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows 0.5 rather than 0.500000, and 1e-05 for tiny values."""

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return f"{value:.6g}"


class FloatEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        box = _CompactDoubleSpinBox(self)
        box.setDecimals(8)
        box.setRange(spec.minimum if spec.minimum is not None else -1e12,
                     spec.maximum if spec.maximum is not None else 1e12)
        span = (spec.maximum or 10) - (spec.minimum or 0)
        box.setSingleStep(0.05 if span <= 1 else 0.1)
        box.setKeyboardTracking(False)
        box.valueChanged.connect(self.committed.emit)
        self._install(box)

    def set_value(self, value: Any) -> None:
        box: QDoubleSpinBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            box.setValue(float(value))
        box.blockSignals(False)


class BoolEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        box = QCheckBox(self)
        box.toggled.connect(self.committed.emit)
        self._install(box)

    def set_value(self, value: Any) -> None:
        box: QCheckBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        box.setChecked(bool(value))
        box.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        box = QComboBox(self)
        box.addItems(list(spec.choices))
        box.activated.connect(lambda i: self.committed.emit(spec.choices[i]))
        self._install(box)

    def set_value(self, value: Any) -> None:
        box: QComboBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        if value in self.spec.choices:
            box.setCurrentIndex(self.spec.choices.index(value))
        box.blockSignals(False)


_SPLIT = re.compile(r"[\s,;x×*()\[\]]+")


def format_value(spec: ParamSpec, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_text(spec: ParamSpec, text: str) -> Any:
    """The value typed as ``text`` (bounds are checked later); ValueError says why not."""
    text = text.strip()
    if not text:
        if spec.optional:
            return None
        if spec.kind == "str":
            return ""
        if spec.kind in ("int_list", "float_list"):
            return []
        raise ValueError(f"{spec.label} must be set")
    if spec.kind == "str":
        return text
    if spec.kind == "padding" and text.lower() in spec.choices:
        return text.lower()
    parts = [p for p in _SPLIT.split(text) if p]
    if spec.kind in ("pair", "padding"):
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            words = f" or one of {', '.join(spec.choices)}" if spec.kind == "padding" else ""
            raise ValueError(f"{spec.label}: enter a whole number or two like 3, 5{words}") from None
        if len(numbers) == 1:
            return numbers[0]
        if len(numbers) == 2:
            return numbers
        raise ValueError(f"{spec.label}: enter one number or two (height, width), not {len(numbers)}")
    if spec.kind == "int_list":
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"{spec.label}: enter whole numbers separated by commas") from None
    if spec.kind == "float_list":
        try:
            return [float(p) for p in re.split(r"[\s,;]+", text) if p]
        except ValueError:
            raise ValueError(f"{spec.label}: enter numbers separated by commas") from None
    try:  # optional int/float typed as text
        number = float(text)
    except ValueError:
        raise ValueError(f"{spec.label} must be a number") from None
    return int(number) if spec.kind == "int" and number.is_integer() else number


class TextEditor(ParamEditor):
    """A line edit for pairs ("3" or "3, 5"), lists, text and optional numbers;
    padding gets an editable combo box offering its words (same / valid)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        if spec.kind == "padding" and spec.choices:
            combo = QComboBox(self)
            combo.setEditable(True)
            combo.addItems(list(spec.choices))
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            combo.activated.connect(lambda i: self._finish())
            self.line = combo.lineEdit()
            self._install(combo)
        else:
            self.line = QLineEdit(self)
            self._install(self.line)
        if spec.optional:
            self.line.setClearButtonEnabled(True)
            self.line.setPlaceholderText("not set (default)")
        elif spec.kind in ("pair", "padding"):
            self.line.setPlaceholderText("3 or 3, 5")
        self.line.editingFinished.connect(self._finish)

    def _finish(self) -> None:
        try:
            value = parse_text(self.spec, self.line.text())
        except ValueError as exc:
            self.invalid.emit(str(exc))
            return
        self.committed.emit(value)

    def set_value(self, value: Any) -> None:
        self.line.blockSignals(True)
        self.line.setText(format_value(self.spec, value))
        self.line.blockSignals(False)
        if isinstance(self.field, QComboBox):
            self.field.blockSignals(True)
            self.field.setEditText(format_value(self.spec, value))
            self.field.blockSignals(False)


def editor_for(spec: ParamSpec, parent: QWidget | None = None) -> ParamEditor:
    if spec.kind == "int" and not spec.optional:
        return IntEditor(spec, parent)
    if spec.kind == "float" and not spec.optional:
        return FloatEditor(spec, parent)
    if spec.kind == "bool":
        return BoolEditor(spec, parent)
    if spec.kind == "choice":
        return ChoiceEditor(spec, parent)
    return TextEditor(spec, parent)
