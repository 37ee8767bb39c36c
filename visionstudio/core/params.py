"""Parameter schemas: one declaration drives validation, inspector editors, tooltips
and the project file format.

Values are kept JSON-friendly (int, float, bool, str, lists) so a document can be
saved as it is, and ``ParamSpec.validate`` returns the canonical form or raises
``ParamError`` with a sentence a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Kinds of parameter. "pair" is an int or [h, w] (kernel size, stride); "padding" is a
# pair or one of the words in ``choices`` ("same", "valid"); "int_list"/"float_list"
# are variable-length lists (milestones, fixed merge weights).
KINDS = ("int", "float", "bool", "choice", "str", "pair", "padding", "int_list", "float_list")


class ParamError(ValueError):
    """A parameter value that cannot be used; the message names the parameter."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    default: Any
    title: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    # Optional params accept None ("not set", e.g. stride defaulting to kernel size).
    optional: bool = False
    # Shown in the node's one-line summary when true.
    key: bool = False
    advanced: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ")

    # -- validation -----------------------------------------------------------------
    def _bounds(self, number: float) -> None:
        if self.minimum is not None and number < self.minimum:
            raise ParamError(
                f"{self.label} must be at least {_fmt(self.minimum)} (got {_fmt(number)})"
            )
        if self.maximum is not None and number > self.maximum:
            raise ParamError(
                f"{self.label} must be at most {_fmt(self.maximum)} (got {_fmt(number)})"
            )

    def _int(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{self.label} must be a whole number (got {value!r})")
        if isinstance(value, float):
            if not value.is_integer():
                raise ParamError(f"{self.label} must be a whole number (got {value!r})")
            value = int(value)
        self._bounds(value)
        return int(value)

    def validate(self, value: Any) -> Any:
        """Return the canonical value or raise ParamError naming the problem."""
        if value is None:
            if self.optional:
                return None
            raise ParamError(f"{self.label} must be set")
        kind = self.kind
        if kind == "int":
            return self._int(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"{self.label} must be a number (got {value!r})")
            try:
                value = float(value)
            except OverflowError:  # an integer like 10**400 has no float
                raise ParamError(f"{self.label} must be a finite number (got a huge number)") from None
            if not math.isfinite(value):
                raise ParamError(f"{self.label} must be a finite number (got {value!r})")
            self._bounds(value)
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"{self.label} must be true or false (got {value!r})")
            return value
        if kind == "choice":
            if value not in self.choices:
                options = ", ".join(self.choices)
                raise ParamError(f"{self.label} must be one of {options} (got {value!r})")
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise ParamError(f"{self.label} must be text (got {value!r})")
            return value
        if kind in ("pair", "padding"):
            if kind == "padding" and isinstance(value, str):
                if value in self.choices:
                    return value
                options = ", ".join(self.choices)
                raise ParamError(
                    f"{self.label} must be a number, a pair or one of {options} (got {value!r})"
                )
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise ParamError(
                        f"{self.label} must be one number or two (height, width); got {len(value)}"
                    )
                h, w = (self._int(v) for v in value)
                return h if h == w else [h, w]
            return self._int(value)
        if kind in ("int_list", "float_list"):
            if not isinstance(value, (list, tuple)):
                raise ParamError(f"{self.label} must be a list of numbers (got {value!r})")
            item = ParamSpec(self.name, "int" if kind == "int_list" else "float", 0,
                             title=self.title, minimum=self.minimum, maximum=self.maximum)
            return [item.validate(v) for v in value]
        raise AssertionError(kind)  # pragma: no cover - guarded by __post_init__

    def describe(self) -> str:
        """Tooltip text: help plus the accepted range."""
        parts = [self.help] if self.help else []
        if self.minimum is not None or self.maximum is not None:
            lo = _fmt(self.minimum) if self.minimum is not None else "-inf"
            hi = _fmt(self.maximum) if self.maximum is not None else "inf"
            parts.append(f"Range {lo} … {hi}.")
        if self.choices and self.kind == "choice":
            parts.append("Options: " + ", ".join(self.choices) + ".")
        parts.append(f"Default: {_fmt(self.default)}.")
        return " ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def pair(value: Any) -> tuple[int, int]:
    """A validated pair value as (h, w)."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def defaults(specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    return {spec.name: _copy(spec.default) for spec in specs}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def validate_all(
    specs: tuple[ParamSpec, ...], values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Validate every value, filling defaults; return (clean values, problems).

    Unknown names are reported but do not stop the rest from being checked, so one
    bad field never hides the others.
    """
    clean: dict[str, Any] = {}
    problems: list[str] = []
    by_name = {spec.name: spec for spec in specs}
    for name in values:
        if name not in by_name:
            problems.append(f"unknown parameter {name!r}")
    for spec in specs:
        raw = values.get(spec.name, spec.default) if isinstance(values, Mapping) else spec.default
        try:
            clean[spec.name] = spec.validate(_copy(raw))
        except ParamError as exc:
            problems.append(str(exc))
            clean[spec.name] = _copy(spec.default)
    return clean, problems


class ConfigError(ValueError):
    """A settings section that cannot be used: ``path`` is the JSON path of the value
    (e.g. ``training.optimizer.params.lr``), the message says what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.problem = message
        super().__init__(f"{path}: {message}" if path else message)


def validate_section(specs: tuple[ParamSpec, ...], values: Any, path: str,
                     *, allow_unknown: bool = False) -> dict[str, Any]:
    """Strict twin of ``validate_all`` for settings read from files: the first problem
    raises ConfigError naming the JSON path of the offending value."""
    if not isinstance(values, Mapping):
        raise ConfigError(path, f"must be an object, not {type(values).__name__}")
    by_name = {spec.name: spec for spec in specs}
    if not allow_unknown:
        for name in values:
            if name not in by_name:
                raise ConfigError(f"{path}.{name}", "unknown setting")
    clean: dict[str, Any] = {}
    for spec in specs:
        raw = values.get(spec.name, spec.default)
        try:
            clean[spec.name] = spec.validate(_copy(raw))
        except ParamError as exc:
            raise ConfigError(f"{path}.{spec.name}", str(exc)) from None
    return clean
