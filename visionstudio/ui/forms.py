"""The one editor factory for ParamSpecs, used by the inspector and the training panel.

``editor_for(spec)`` turns a declaration into a widget: int -> spin box, float -> spin
box (or a text field where values span decades, see ``floats_as_text``), bool -> check
box, choice -> combo box, pair / padding / lists / text / optional numbers -> a text
field ("3" or "3, 5"; padding also offers its words). The spec's own rules decide:
every entry goes through ``ParamSpec.validate``, so an editor emits ``committed(value)``
only with a value the spec accepts, and otherwise marks itself and emits
``invalid(reason)`` in the spec's words. Its tooltip is ``spec.describe()``.

A mouse wheel over a combo box, spin box or slider the user has not clicked into scrolls
the panel instead of changing the value (issue #13), everywhere in the app: one
application-wide filter (:func:`install_wheel_guard`) gives such widgets focus only by
click or Tab (so the wheel never focuses them on its way) and passes an unfocused one's
wheel on to its parent, the scroll area.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QScrollBar,
    QSpinBox,
    QWidget,
)

from visionstudio.core.params import ParamError, ParamSpec
from visionstudio.ui.canvas.layer_style import ERROR_COLOR

_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1


GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)  # what a stray wheel must not change


def _guarded(obj: QObject) -> bool:
    return isinstance(obj, GUARDED) and not isinstance(obj, QScrollBar)  # scroll bars scroll


class _WheelGuard(QObject):
    """Lets a wheel event pass on to the scroll area unless the widget has focus.

    Installed on the application, it sees every widget's events: a value widget is
    switched from Qt's default WheelFocus to StrongFocus when it is first polished (a
    spontaneous wheel would otherwise focus it before any filter runs), and its wheel
    events are left unaccepted while it has no focus, so Qt offers them to the parent."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # Every event of the application comes through here, a few hundred a second while
        # a run trains (timers, paints, queued records): the type test on ``watched`` is
        # plain Python and comes first; ``event.type()`` is a call into Qt.
        if not isinstance(watched, GUARDED):
            return False
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if _guarded(watched) and not watched.hasFocus():
                event.ignore()  # not accepted: Qt offers it to the parent (the panel scrolls)
                return True
        elif kind == QEvent.Type.Polish and _guarded(watched):
            if watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return False


_installed: dict[int, _WheelGuard] = {}


def install_wheel_guard(app: QApplication | None = None) -> QObject | None:
    """The application-wide guard, installed once per QApplication (None without one)."""
    app = app or QApplication.instance()
    if app is None:
        return None
    if id(app) not in _installed:
        guard = _WheelGuard(app)
        app.installEventFilter(guard)
        _installed[id(app)] = guard
    return _installed[id(app)]


def ignore_wheel_unless_focused(widget: QWidget) -> QWidget:
    """Make ``widget`` change by the wheel only after a click or Tab gave it focus
    (the application-wide guard does the rest; a panel launched alone installs it here)."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    install_wheel_guard()
    return widget


class ParamEditor(QWidget):
    committed = Signal(object)   # a value the spec accepted, in its canonical form
    invalid = Signal(str)        # why the entry was refused, in the spec's words

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
        ignore_wheel_unless_focused(field)
        self._layout.addWidget(field, 1)
        self.setFocusProxy(field)

    # -- read-back and entry ------------------------------------------------------------
    def value(self) -> Any:
        """The shown value as the spec's canonical form; ParamError if it is refused."""
        return self.spec.validate(copy.deepcopy(self._shown()))

    def _shown(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _shown")

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting anything; every concrete editor overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must implement set_value")

    def submit(self, raw: Any) -> None:
        """The path of every user entry: the spec validates, then committed or invalid."""
        try:
            clean = self.spec.validate(copy.deepcopy(raw))
        except ParamError as exc:
            self._refuse(str(exc))
            return
        self.show_problem(None)
        self.committed.emit(clean)

    def _refuse(self, reason: str) -> None:
        self.show_problem(reason)
        self.invalid.emit(reason)

    def show_problem(self, reason: str | None) -> None:
        """Mark the field red with ``reason`` as its tooltip, or clear the mark (None)."""
        self.field.setProperty("invalid", reason is not None)
        self.field.setStyleSheet(f"border: 1px solid {ERROR_COLOR.name()};" if reason else "")
        self.field.setToolTip(reason or self.spec.describe())

    def problem(self) -> str:
        """The reason shown on the field, or "" when it is not marked."""
        return self.field.toolTip() if self.field.property("invalid") else ""


class IntEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        box = QSpinBox(self)
        box.setRange(max(int(spec.minimum), _INT_MIN) if spec.minimum is not None else _INT_MIN,
                     min(int(spec.maximum), _INT_MAX) if spec.maximum is not None else _INT_MAX)
        box.setKeyboardTracking(False)  # typing commits on Enter / focus-out, arrows at once
        box.setAccelerated(True)
        box.valueChanged.connect(lambda v: self.submit(int(v)))
        self._install(box)

    def _shown(self) -> Any:
        return self.field.value()

    def set_value(self, value: Any) -> None:
        box: QSpinBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            box.setValue(int(value))
        box.blockSignals(False)


class _CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows 0.5 rather than 0.500000, and 1e-05 for tiny values."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
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
        box.valueChanged.connect(lambda v: self.submit(float(v)))
        self._install(box)

    def _shown(self) -> Any:
        return self.field.value()

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
        box.toggled.connect(lambda on: self.submit(bool(on)))
        self._install(box)

    def _shown(self) -> Any:
        return self.field.isChecked()

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
        box.activated.connect(lambda i: self.submit(spec.choices[i]))
        self._install(box)

    def _shown(self) -> Any:
        index = self.field.currentIndex()
        return self.spec.choices[index] if index >= 0 else None

    def set_value(self, value: Any) -> None:
        box: QComboBox = self.field  # type: ignore[assignment]
        box.blockSignals(True)
        if value in self.spec.choices:
            box.setCurrentIndex(self.spec.choices.index(value))
        box.blockSignals(False)


_SPLIT_PAIR = re.compile(r"[\s,;x×*()\[\]]+")  # "3, 5", "3x5", "(3, 5)"
_SPLIT_LIST = re.compile(r"[\s,;()\[\]]+")    # "30, 60", "[0.5, 1.5]"


def format_value(spec: ParamSpec, value: Any) -> str:
    """``value`` as the text field shows it: "3, 5" for a pair, "1e-05" for a float."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_text(spec: ParamSpec, text: str) -> Any:
    """The value typed as ``text`` (bounds are checked later); ParamError says why not."""
    text = text.strip()
    if not text:
        if spec.optional:
            return None
        if spec.kind == "str":
            return ""
        if spec.kind in ("int_list", "float_list"):
            return []
        raise ParamError(f"{spec.label} must be set")
    if spec.kind == "str":
        return text
    if spec.kind == "padding" and text.lower() in spec.choices:
        return text.lower()
    if spec.kind in ("pair", "padding"):
        return _parse_pair(spec, [p for p in _SPLIT_PAIR.split(text) if p])
    parts = [p for p in _SPLIT_LIST.split(text) if p]
    if spec.kind == "int_list":
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ParamError(f"{spec.label}: enter whole numbers separated by commas") from None
    if spec.kind == "float_list":
        try:
            return [float(p) for p in parts]
        except ValueError:
            raise ParamError(f"{spec.label}: enter numbers separated by commas") from None
    try:  # int/float typed as text
        number = float(text)
    except ValueError:
        raise ParamError(f"{spec.label} must be a number") from None
    return int(number) if spec.kind == "int" and number.is_integer() else number


def _parse_pair(spec: ParamSpec, parts: list[str]) -> Any:
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        words = f" or one of {', '.join(spec.choices)}" if spec.kind == "padding" else ""
        raise ParamError(f"{spec.label}: enter a whole number or two like 3, 5{words}") from None
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) == 2:
        return numbers
    raise ParamError(f"{spec.label}: enter one number or two (height, width), not {len(numbers)}")


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
            combo.activated.connect(lambda _i: self._finish())
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
        self._just_finished: str | None = None

    def _finish(self) -> None:
        text = self.line.text()
        if text == self._just_finished:  # one Return in an editable combo is reported 3 times
            return
        self._just_finished = text
        QTimer.singleShot(0, self, self._forget_finish)
        try:
            raw = parse_text(self.spec, text)
        except ParamError as exc:
            self._refuse(str(exc))
            return
        self.submit(raw)

    def _forget_finish(self) -> None:
        self._just_finished = None

    def _shown(self) -> Any:
        return parse_text(self.spec, self.line.text())

    def set_value(self, value: Any) -> None:
        self.line.blockSignals(True)
        self.line.setText(format_value(self.spec, value))
        self.line.blockSignals(False)
        if isinstance(self.field, QComboBox):
            self.field.blockSignals(True)
            self.field.setEditText(format_value(self.spec, value))
            self.field.blockSignals(False)


def editor_for(spec: ParamSpec, parent: QWidget | None = None, *,
               floats_as_text: bool = False) -> ParamEditor:
    """The editor for ``spec``.

    ``floats_as_text``: a text field for floats, for forms whose values span decades
    (learning rates 1e-6 … 10, weight decay 5e-4): a spin box cannot take "1e-4" typed
    in and shows such values badly.
    """
    if spec.kind == "int" and not spec.optional:
        return IntEditor(spec, parent)
    if spec.kind == "float" and not spec.optional and not floats_as_text:
        return FloatEditor(spec, parent)
    if spec.kind == "bool":
        return BoolEditor(spec, parent)
    if spec.kind == "choice":
        return ChoiceEditor(spec, parent)
    return TextEditor(spec, parent)
