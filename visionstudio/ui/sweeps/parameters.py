"""The sweep's parameter list: what the user sweeps and over which range.

The settings offered come from the core (``sweepable_parameters``: training settings,
layer parameters, blocks' exposed parameters, block repeats). A number's range is
edited with the inspector's ParamSpec editors (forms.editor_for) made from the
setting's own spec (``target_spec``), so "from" and "to" refuse what the setting would
refuse; a setting with named choices (optimizer, schedule, on/off) gets one check box
per choice, a number may instead take a list of values ("32, 64, 128"). ``ranges()`` turns the rows
into the core's ParameterRange values or raises ValueError with the sentence to show.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.params import ParamError, ParamSpec
from visionstudio.core.sweeps.config import ParameterRange
from visionstudio.ui.forms import ParamEditor, editor_for


def _bounded(spec: ParamSpec, name: str, title: str, *, optional: bool = False,
             kind: str | None = None) -> ParamSpec:
    """The setting's own spec (its kind and limits) under the range field's name."""
    return replace(spec, name=name, title=title, kind=kind or spec.kind, optional=optional,
                   default=None if optional else spec.default, choices=(), key=False,
                   help=f"{title} of the range swept for {spec.label}")


class ParameterRow(QFrame):
    """One swept setting: its range (from, to, log, step) or its choices."""

    removed = Signal(object)   # self

    def __init__(self, choice: Any, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice, self.spec = choice, spec
        self.setObjectName(f"sweepParam_{choice.path}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QGridLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        title = QLabel(f"<b>{choice.title}</b>")
        title.setToolTip(f"{choice.path} (now {choice.value!r})")
        layout.addWidget(title, 0, 0, 1, 3)
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setObjectName("sweepRemoveParameter")
        self.remove_button.setAccessibleName(f"Remove {choice.title} from the sweep")
        self.remove_button.setToolTip(f"Stop sweeping {choice.title}")
        self.remove_button.clicked.connect(lambda: self.removed.emit(self))
        layout.addWidget(self.remove_button, 0, 3, Qt.AlignmentFlag.AlignRight)
        self.low = self.high = self.step = self.values = None
        self.log: QCheckBox | None = None
        self.boxes: dict[Any, QCheckBox] = {}
        if choice.kind == "choice":
            self._choice_boxes(layout)
        else:
            self._range_fields(layout)

    def _range_fields(self, layout: QGridLayout) -> None:
        c, spec = self.choice, self.spec
        kind = "int" if c.kind == "int" else "float"
        self.low = editor_for(_bounded(spec, "low", "From", kind=kind), floats_as_text=True)
        self.high = editor_for(_bounded(spec, "high", "To", kind=kind), floats_as_text=True)
        step = _bounded(spec, "step", "Step", optional=True, kind=kind)
        self.step = editor_for(replace(step, minimum=0, maximum=None), floats_as_text=True)
        values = _bounded(spec, "values", "Values", kind=f"{kind}_list")
        self.values = editor_for(replace(values, default=[]))
        for editor, value in ((self.low, c.low), (self.high, c.high), (self.step, None),
                              (self.values, [])):
            editor.set_value(value)
        for column, (text, editor) in enumerate((("from", self.low), ("to", self.high))):
            layout.addWidget(QLabel(text), 1, 2 * column)
            layout.addWidget(editor, 1, 2 * column + 1)
        self.log = QCheckBox("log")
        self.log.setObjectName("sweepLog")
        self.log.setAccessibleName(f"Sample {c.title} on a log scale")
        self.log.setToolTip("Sample evenly in log space (learning rates, weight decay)")
        self.log.setChecked(bool(c.log))
        layout.addWidget(self.log, 2, 0, 1, 2)
        layout.addWidget(QLabel("step"), 2, 2)
        layout.addWidget(self.step, 2, 3)
        self.step.setToolTip("Only from, from + step, … up to 'to' (empty: any value); a grid "
                             "over decimals needs one")
        layout.addWidget(QLabel("or values"), 3, 0, 1, 2)
        layout.addWidget(self.values, 3, 2, 1, 2)
        self.values.setToolTip("Try exactly these values instead of the range, e.g. 32, 64, 128")

    def _choice_boxes(self, layout: QGridLayout) -> None:
        for i, value in enumerate(self.choice.choices):
            box = QCheckBox(str(value))
            box.setObjectName(f"sweepChoice_{value}")
            box.setAccessibleName(f"Try {self.choice.title} {value}")
            box.setToolTip(f"Include {value} among the choices tried")
            box.setChecked(True)
            self.boxes[value] = box
            layout.addWidget(box, 1 + i // 3, i % 3)

    def editors(self) -> list[ParamEditor]:
        return [e for e in (self.low, self.high, self.step, self.values) if e is not None]

    def set_range(self, r: ParameterRange) -> None:
        """Show a stored range (a reopened sweep)."""
        if self.boxes:
            for value, box in self.boxes.items():
                box.setChecked(value in r.choices)
            return
        if r.kind == "choice":
            self.values.set_value(list(r.choices))
            return
        self.low.set_value(r.low)
        self.high.set_value(r.high)
        self.step.set_value(r.step)
        self.log.setChecked(r.log)

    def parameter_range(self) -> ParameterRange:
        c = self.choice
        if self.boxes:
            picked = tuple(v for v, box in self.boxes.items() if box.isChecked())
            if not picked:
                raise ValueError(f"{c.title}: tick at least one choice to try.")
            return ParameterRange(c.path, "choice", None, None, False, None, picked)
        try:
            values = self.values.value()
            if values:
                return ParameterRange(c.path, "choice", choices=tuple(dict.fromkeys(values)))
            low, high, step = self.low.value(), self.high.value(), self.step.value()
        except ParamError as exc:
            raise ValueError(f"{c.title}: {exc}.") from None
        if high <= low:
            raise ValueError(f"{c.title}: 'to' ({high:g}) must be above 'from' ({low:g}).")
        log = self.log.isChecked()
        if log and low <= 0:
            raise ValueError(f"{c.title}: a log scale needs 'from' above 0.")
        if log and step is not None:
            raise ValueError(f"{c.title}: a log scale takes no step; clear one of them.")
        return ParameterRange(c.path, c.kind, low, high, log, step or None, ())


class ParameterList(QWidget):
    """The rows, and the combo + button that add one."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepParameters")
        self.available: dict[str, Any] = {}   # path -> ParameterChoice
        self.spec_for: Any = None              # path -> the setting's ParamSpec (the panel's)
        self.rows: list[ParameterRow] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(4)
        layout.addLayout(self._rows_box)
        self.empty = QLabel("Nothing is swept yet: pick a setting below and press Add.")
        self.empty.setWordWrap(True)
        layout.addWidget(self.empty)
        add_row = QHBoxLayout()
        self.combo = QComboBox()
        self.combo.setObjectName("sweepParameterChoice")
        self.combo.setAccessibleName("Setting to sweep")
        self.combo.setToolTip("Training settings, layer parameters, blocks' exposed parameters "
                              "and block repeats (depth)")
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName("sweepAddParameter")
        self.add_button.setAccessibleName("Add the setting to the sweep")
        self.add_button.setToolTip("Sweep the chosen setting over a range you then edit")
        self.add_button.clicked.connect(lambda: self.add(self.combo.currentData()))
        add_row.addWidget(self.combo, 1)
        add_row.addWidget(self.add_button)
        layout.addLayout(add_row)

    def set_available(self, choices: list[Any]) -> list[str]:
        """The settings this project offers (an edit may rename or remove a layer); the
        titles of the rows that went with them."""
        picked = self.combo.currentData()
        self.available = {c.path: c for c in choices}
        self.combo.blockSignals(True)
        self.combo.clear()
        for c in choices:
            self.combo.addItem(c.title, c.path)
            self.combo.setItemData(self.combo.count() - 1, c.path, Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(max(0, self.combo.findData(picked)))
        self.combo.blockSignals(False)
        gone = [r for r in self.rows if r.choice.path not in self.available]
        for row in gone:
            self._remove(row)
        self._refresh_combo()
        return [r.choice.title for r in gone]

    def add(self, path: str | None) -> ParameterRow | None:
        choice = self.available.get(path or "")
        if choice is None or any(r.choice.path == path for r in self.rows):
            return None
        row = ParameterRow(choice, self.spec_for(path), self)
        row.removed.connect(self._remove)
        self.rows.append(row)
        self._rows_box.addWidget(row)
        self._refresh_combo()
        self.changed.emit()
        return row

    def _remove(self, row: ParameterRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self._refresh_combo()
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self._remove(row)

    def _refresh_combo(self) -> None:
        """A setting already swept is not offered twice."""
        used = {r.choice.path for r in self.rows}
        model = self.combo.model()
        first = None
        for i in range(self.combo.count()):
            on = self.combo.itemData(i) not in used
            model.item(i).setEnabled(on)
            first = i if first is None and on else first
        if first is not None and self.combo.itemData(self.combo.currentIndex()) in used:
            self.combo.setCurrentIndex(first)
        self.add_button.setEnabled(first is not None)
        self.empty.setVisible(not self.rows)

    def show_ranges(self, ranges: tuple[ParameterRange, ...]) -> list[str]:
        """Rows for a stored sweep's ranges; the paths this network no longer has."""
        self.clear()
        missing = []
        for r in ranges:
            row = self.add(r.path)
            if row is None:
                missing.append(r.path)
            else:
                row.set_range(r)
        return missing

    def ranges(self) -> tuple[ParameterRange, ...]:
        if not self.rows:
            raise ValueError("Add at least one setting to sweep.")
        return tuple(row.parameter_range() for row in self.rows)
