"""The sweep file: which settings to vary, over what ranges, how to search, what to optimise.

A sweep file comes from anyone (a colleague's bundle, a downloaded example), so it is
read like a project file: the JSON text is size-checked before parsing, every key must be
known (an unknown one is refused with its path: ``parameters.optimizer.lr.lgo``), every
number bounded, every list short. ``SweepConfig.from_dict`` checks the format alone;
whether a path names a layer, block or setting of a given project is
``parameters.check_parameters``' business (it needs the document).

The format (docs/sweeps.md has every key)::

    {"name": "lr", "sampler": "random", "trials": 3, "timeout_s": 600,
     "objective": {"metric": "val_loss", "direction": "minimize"},
     "epochs": 1, "pruner": "median", "repeats": 1, "seed": 0,
     "parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": true},
                    "training.batch_size": {"choices": [16, 32, 64]},
                    "layer.conv1.out_channels": {"low": 8, "high": 64, "step": 8},
                    "repeat.residual_1": {"low": 1, "high": 3}}}

A range is ``int`` when ``type`` says so or when low, high (and step) are whole numbers
written without a point and ``log`` is false; otherwise ``float``. A plain list is
short for ``{"choices": [...]}``. When ``direction`` is left out it is "minimize" for a
metric whose name contains "loss" and "maximize" for any other. Without ``trials`` and
``timeout_s`` a grid sweep runs its whole grid; the other samplers need one of them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.params import ConfigError

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "halving")
DIRECTIONS = ("minimize", "maximize")
KINDS = ("float", "int", "choice")
MAX_FILE_BYTES = 256 * 1024
MAX_PARAMETERS = 32
MAX_CHOICES = 256
MAX_TRIALS = 10_000
MAX_TIMEOUT_S = 30 * 24 * 3600.0
MAX_EPOCHS = 100_000
MAX_REPEATS = 20
MAX_GRID = 10_000
MAX_TEXT = 200          # a choice's text, a path
MAX_SEED = 2**31 - 1
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
METRIC_RE = re.compile(r"(train|val)_[A-Za-z0-9_]{1,40}(/[A-Za-z_][A-Za-z0-9_]{0,63})?")
PATH_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,2}")
TOP_KEYS = frozenset({"name", "sampler", "trials", "timeout_s", "objective", "epochs", "pruner",
                      "repeats", "seed", "parameters"})
RANGE_KEYS = frozenset({"low", "high", "log", "step", "type", "choices"})
OBJECTIVE_KEYS = frozenset({"metric", "direction"})


@dataclass(frozen=True)
class ParameterRange:
    """One varied setting: ``path`` names it (see parameters.py), the rest is its range."""

    path: str
    kind: str                       # "float" | "int" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def grid_values(self) -> list[Any] | None:
        """Every value a grid visits: the choices, or low..high by step (an int range
        without a step goes by 1); None for a float range without a step."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            return None
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SweepConfig:
    sampler: str = "tpe"
    trials: int | None = None
    timeout_s: float | None = None
    objective_metric: str = "val_loss"
    direction: str = "minimize"
    epochs: int | None = None
    pruner: str = "none"
    repeats: int = 1
    seed: int = 0
    parameters: tuple[ParameterRange, ...] = field(default_factory=tuple)
    name: str = "sweep"

    @classmethod
    def from_dict(cls, data: Any) -> SweepConfig:
        """The checked config; ConfigError(path, sentence) on the first problem."""
        if not isinstance(data, Mapping):
            raise ConfigError("", "a sweep file must hold a JSON object")
        _known(data, TOP_KEYS, "")
        sampler = _word(data.get("sampler", "tpe"), SAMPLERS, "sampler")
        metric, direction = _objective(data.get("objective", {"metric": "val_loss"}))
        parameters = _parameters(data.get("parameters"))
        config = cls(
            sampler=sampler,
            trials=_int(data.get("trials"), "trials", 1, MAX_TRIALS, optional=True),
            timeout_s=_number(data.get("timeout_s"), "timeout_s", 1.0, MAX_TIMEOUT_S),
            objective_metric=metric, direction=direction,
            epochs=_int(data.get("epochs"), "epochs", 1, MAX_EPOCHS, optional=True),
            pruner=_word(data.get("pruner", "none"), PRUNERS, "pruner"),
            repeats=_int(data.get("repeats", 1), "repeats", 1, MAX_REPEATS),
            seed=_int(data.get("seed", 0), "seed", 0, MAX_SEED),
            parameters=parameters, name=_name(data.get("name", "sweep")))
        config.check_budget()
        return config

    def check_budget(self) -> None:
        if self.sampler == "grid":
            size = self.grid_size()
            if size > MAX_GRID:
                raise ConfigError("parameters", f"the grid has {size:,} points; at most {MAX_GRID:,} "
                                  "are allowed (fewer choices or larger steps)")
        elif self.trials is None and self.timeout_s is None:
            raise ConfigError("trials", f"a {self.sampler} sweep needs a budget: give trials, "
                              "timeout_s or both")

    def grid_space(self) -> dict[str, list[Any]]:
        space = {}
        for p in self.parameters:
            values = p.grid_values()
            if values is None:
                raise ConfigError(f"parameters.{p.path}", "a grid needs choices or a step for "
                                  "a float range")
            space[p.path] = values
        return space

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid_space().values())

    def planned_trials(self) -> int | None:
        """The trial budget: ``trials``, else the whole grid, else None (time only)."""
        if self.trials is not None:
            return self.trials
        return self.grid_size() if self.sampler == "grid" else None

    def search_key(self) -> dict[str, Any]:
        """What must match for a study to be continued with this config (the budget may change)."""
        data = self.to_dict()
        for key in ("trials", "timeout_s", "name"):
            data.pop(key, None)
        return data

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "sampler": self.sampler,
            "objective": {"metric": self.objective_metric, "direction": self.direction},
            "pruner": self.pruner, "repeats": self.repeats, "seed": self.seed,
            "parameters": {p.path: p.to_dict() for p in self.parameters},
        }
        for key in ("trials", "timeout_s", "epochs"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def load_sweep_text(text: str | bytes) -> SweepConfig:
    """A sweep file's text: size-checked, parsed, then ``SweepConfig.from_dict``."""
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError("", f"the sweep file is {len(text):,} bytes; at most {MAX_FILE_BYTES:,} "
                          "are read")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ConfigError("", f"the sweep file is not valid JSON ({str(exc)[:120]})") from None
    return SweepConfig.from_dict(data)


# -- the pieces ------------------------------------------------------------------------------
def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a number JSON allows")


def _known(data: Mapping[str, Any], keys: frozenset[str], path: str) -> None:
    for key in data:
        if key not in keys:
            name = str(key)[:60]
            raise ConfigError(f"{path}.{name}" if path else name, f"unknown key {name!r}; the keys "
                              f"are {', '.join(sorted(keys))}")


def _word(value: Any, words: tuple[str, ...], path: str) -> str:
    if value not in words or not isinstance(value, str):
        raise ConfigError(path, f"must be one of {', '.join(words)} (got {_show(value)})")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _int(value: Any, path: str, low: int, high: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ConfigError(path, f"must be a whole number (got {_show(value)})")
    if not low <= value <= high:
        raise ConfigError(path, f"must be between {low:,} and {high:,} (got {_show(value)})")
    return int(value)


def _number(value: Any, path: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a number (got {_show(value)})")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(path, f"must be between {low:g} and {high:g} (got {_show(value)})")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ConfigError("name", "must be 1 to 64 letters, digits, spaces, dots, dashes or "
                          f"underscores, starting with a letter or digit (got {_show(value)})")
    return value


def _objective(data: Any) -> tuple[str, str]:
    if not isinstance(data, Mapping):
        raise ConfigError("objective", "must be an object with a metric and a direction")
    _known(data, OBJECTIVE_KEYS, "objective")
    metric = data.get("metric")
    if not isinstance(metric, str) or not METRIC_RE.fullmatch(metric):
        raise ConfigError("objective.metric", "must name a recorded metric such as val_loss, "
                          f"val_accuracy, val_r2 or val_map50 (got {_show(metric)})")
    default = "minimize" if "loss" in metric else "maximize"
    return metric, _word(data.get("direction", default), DIRECTIONS, "objective.direction")


def _parameters(data: Any) -> tuple[ParameterRange, ...]:
    if not isinstance(data, Mapping) or not data:
        raise ConfigError("parameters", "must be an object naming at least one setting to vary, "
                          'e.g. {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": true}}')
    if len(data) > MAX_PARAMETERS:
        raise ConfigError("parameters", f"has {len(data)} settings; at most {MAX_PARAMETERS} are allowed")
    out = []
    for path, spec in data.items():
        if not isinstance(path, str) or not PATH_RE.fullmatch(path):
            raise ConfigError(f"parameters.{str(path)[:60]}", "is not a setting path; use e.g. "
                              "optimizer.lr, training.batch_size, layer.<layer>.<parameter>, "
                              "block.<block>.<parameter> or repeat.<block instance>")
        out.append(_range(path, spec, f"parameters.{path}"))
    return tuple(out)


def _choice_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise ConfigError(path, f"a choice may have at most {MAX_TEXT} characters")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            raise ConfigError(path, f"{_show(value)} is too large")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ConfigError(path, f"a choice must be a number, text, true, false or null (got {_show(value)})")


def _range(name: str, spec: Any, path: str) -> ParameterRange:
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(path, 'must be a range {"low": …, "high": …} or {"choices": [...]}')
    _known(spec, RANGE_KEYS, path)
    if "choices" in spec:
        extra = set(spec) - {"choices", "type"}
        if extra:
            raise ConfigError(f"{path}.{sorted(extra)[0]}", "a choice list takes no range keys")
        choices = spec["choices"]
        if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_CHOICES:
            raise ConfigError(f"{path}.choices", f"must be a list of 1 to {MAX_CHOICES} values")
        values = tuple(_choice_value(v, f"{path}.choices[{i}]") for i, v in enumerate(choices))
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{path}.choices", "lists a value twice")
        if spec.get("type", "choice") != "choice":
            raise ConfigError(f"{path}.type", "must be choice (or left out) with a choice list")
        return ParameterRange(name, "choice", choices=values)
    for key in ("low", "high"):
        if key not in spec:
            raise ConfigError(path, f"needs {key} (or a choice list)")
    low = _number(spec["low"], f"{path}.low", -1e12, 1e12)
    high = _number(spec["high"], f"{path}.high", -1e12, 1e12)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{path}.log", "must be true or false")
    step = _number(spec.get("step"), f"{path}.step", 1e-12, 1e12)
    whole = all(isinstance(spec.get(k), int) and not isinstance(spec.get(k), bool)
                for k in ("low", "high")) and (step is None or isinstance(spec.get("step"), int))
    kind = spec.get("type", "int" if whole and not log else "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{path}.type", f"must be int or float for a range (got {_show(kind)})")
    if low >= high:
        raise ConfigError(path, f"low must be below high (got {low:g} and {high:g})")
    if log and low <= 0:
        raise ConfigError(f"{path}.low", "must be above 0 for a log range")
    if log and step is not None:
        raise ConfigError(f"{path}.step", "a log range takes no step")
    if kind == "int":
        if not (float(low).is_integer() and float(high).is_integer()
                and (step is None or float(step).is_integer())):
            raise ConfigError(path, "an int range needs whole numbers for low, high and step")
        return ParameterRange(name, "int", int(low), int(high), log, int(step) if step else None)
    return ParameterRange(name, "float", low, high, log, step)
