"""Field-by-field checks of a checkpoint.json, before anything in it is used.

A checkpoint may come from anywhere (a download, a shared project), and its digest only
proves that nobody *accidentally* changed it: whoever writes a hostile file writes the
matching digest too. So every value the trainer, the training panel or the inspector
reads is checked here for its type and range — ``"step": Infinity`` or
``"schedule": []`` become a CheckpointError naming the field instead of an
OverflowError or AttributeError deep inside a resume. What depends on the network and
the optimizer (tensor shapes, parameter groups) is checked by checkpoint_fit.py.

Plain functions, no torch: ``check_body`` raises ``FieldProblem(field, problem)`` and
checkpoint.py turns it into the user's message ("checkpoint.json: field 'step' must be
a whole number ≥ 0, found Infinity").
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from visionstudio.core.training.records import EpochRecord

MAX_DEPTH = 32               # our own files nest 6 levels deep
MAX_COUNT = 10 ** 15          # steps, batches, samples: far beyond any real run
MAX_EPOCHS = 10 ** 7
MAX_LIST = 1_000_000          # history entries, notes, parameter groups' parameters
MAX_TEXT = 10_000             # one note or name
METRICS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy", "val_metric")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FieldProblem(Exception):
    """``field`` (a JSON path such as ``schedule.base_lr``) holds an unusable value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field, self.problem = field, problem


def show(value: Any) -> str:
    """A found value in words, short enough for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10 ** 40 else None
        return repr(value) if digits is not None else "a number with more than 40 digits"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_depth(data: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (iteratively: no recursion to exhaust)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise FieldProblem("(document)", f"is nested more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children)


# -- scalar checks ---------------------------------------------------------------------
def whole(value: Any, field: str, low: int = 0, high: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FieldProblem(field, f"must be a whole number ≥ {low}"
                                  f"{'' if high >= MAX_COUNT else f' and ≤ {high}'}, found {show(value)}")
    return value


def number(value: Any, field: str, low: float | None = None, high: float | None = None,
           optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldProblem(field, f"must be a number{' or null' if optional else ''}, found {show(value)}")
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise FieldProblem(field, f"must be a finite number, found {show(value)}")
    if (low is not None and as_float < low) or (high is not None and as_float > high):
        bounds = (f"between {low:g} and {high:g}" if low is not None and high is not None
                  else f"≥ {low:g}" if low is not None else f"≤ {high:g}")
        raise FieldProblem(field, f"must be {bounds}, found {show(value)}")
    return as_float


def text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise FieldProblem(field, f"must be a text of at most {limit} characters, found {show(value)}")
    return value


def obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldProblem(field, f"must be an object, found {show(value)}")
    return value


def seq(value: Any, field: str, limit: int = MAX_LIST, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise FieldProblem(field, f"must be a list, found {show(value)}")
    if length is not None and len(value) != length:
        raise FieldProblem(field, f"must be a list of {length}, found {show(value)}")
    if len(value) > limit:
        raise FieldProblem(field, f"must be a list of at most {limit:,}, found {show(value)}")
    return value


def required(section: Mapping[str, Any], name: str, prefix: str) -> Any:
    if name not in section:
        raise FieldProblem(f"{prefix}{name}", "is missing")
    return section[name]


def plain_value(value: Any, field: str) -> None:
    """A setting copied into the optimizer: null, true/false, a finite number or a short
    text (or a short list of numbers such as Adam's betas)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        number(value, field)
    elif isinstance(value, str):
        text(value, field, 200)
    elif isinstance(value, list):
        for i, v in enumerate(seq(value, field, 16)):
            number(v, f"{field}[{i}]")
    else:
        raise FieldProblem(field, f"must be a number, true/false or null, found {show(value)}")


# -- the sections ------------------------------------------------------------------------
def check_files(files: Any, names: Iterable[str], byte_limit: int) -> None:
    obj(files, "files")
    for name in names:
        entry = obj(required(files, name, "files."), f"files.{name}")
        whole(required(entry, "bytes", f"files.{name}."), f"files.{name}.bytes", 0, byte_limit)
        digest = required(entry, "sha256", f"files.{name}.")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise FieldProblem(f"files.{name}.sha256", f"must be a SHA-256 in hex, found {show(digest)}")


def _optimizer(key: Any, params: Any, state: Any) -> None:
    from visionstudio.core.params import ParamError
    from visionstudio.core.training.optimizers import OPTIMIZERS

    text(key, "optimizer_key", 100)
    if key not in OPTIMIZERS:
        raise FieldProblem("optimizer_key", f"names an unknown optimizer {show(key)}")
    obj(params, "optimizer_params")
    spec = OPTIMIZERS.get(key)
    known = {p.name: p for p in spec.params}
    for name, value in params.items():
        if name not in known:
            raise FieldProblem(f"optimizer_params.{name}", f"is not a setting of {spec.title}")
        try:
            known[name].validate(value)
        except ParamError as exc:
            raise FieldProblem(f"optimizer_params.{name}", str(exc)) from None
    for name in known:
        required(params, name, "optimizer_params.")
    obj(state, "optimizer")
    groups = seq(required(state, "param_groups", "optimizer."), "optimizer.param_groups", 1000)
    if not groups:
        raise FieldProblem("optimizer.param_groups", "must list at least one parameter group")
    for g, group in enumerate(groups):
        where = f"optimizer.param_groups[{g}]"
        obj(group, where)
        ids = seq(required(group, "params", f"{where}."), f"{where}.params")
        for i, index in enumerate(ids):
            whole(index, f"{where}.params[{i}]", 0, MAX_LIST)
        for name, value in group.items():
            text(name, f"{where} (a setting's name)", 100)
            if name != "params":
                plain_value(value, f"{where}.{name}")
    scalars = obj(required(state, "scalars", "optimizer."), "optimizer.scalars")
    for index, values in scalars.items():
        if not index.isdigit() or len(index) > 9:
            raise FieldProblem(f"optimizer.scalars.{index[:40]}", "must be keyed by a parameter number")
        for name, value in obj(values, f"optimizer.scalars.{index}").items():
            text(name, f"optimizer.scalars.{index} (a state's name)", 100)
            if value is not None and not isinstance(value, bool):
                number(value, f"optimizer.scalars.{index}.{name}")


def _schedule(value: Any) -> None:
    sched = obj(value, "schedule")
    text(required(sched, "key", "schedule."), "schedule.key", 100)
    obj(required(sched, "params", "schedule."), "schedule.params")
    number(required(sched, "base_lr", "schedule."), "schedule.base_lr", 0.0, 1e6)
    whole(required(sched, "steps_per_epoch", "schedule."), "schedule.steps_per_epoch", 1)
    whole(required(sched, "total_steps", "schedule."), "schedule.total_steps", 0)
    number(required(sched, "scale", "schedule."), "schedule.scale", 0.0, 1.0)
    number(required(sched, "best", "schedule."), "schedule.best", optional=True)
    whole(required(sched, "bad_epochs", "schedule."), "schedule.bad_epochs", 0)


def _scaler(value: Any) -> None:
    if value is None or value == {}:
        return
    scaler = obj(value, "scaler")
    for name in ("scale", "growth_factor", "backoff_factor"):
        number(required(scaler, name, "scaler."), f"scaler.{name}", 0.0, 1e38)
    whole(required(scaler, "growth_interval", "scaler."), "scaler.growth_interval", 1)
    whole(required(scaler, "_growth_tracker", "scaler."), "scaler._growth_tracker", 0)
    for name in scaler:
        if name not in ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"):
            raise FieldProblem(f"scaler.{name}", "is not a setting of the gradient scaler")


_RECORD_FIELDS = {f.name: str(f.type) for f in dataclasses.fields(EpochRecord)}


_PAIR_FIELDS = ("val_metrics", "val_head_losses", "train_head_losses")
MAX_PAIRS = 1_000


def _pairs(value: Any, where: str) -> None:
    """A record's {name: value} metrics: short names, numbers, a bounded count."""
    pairs = obj(value, where)
    if len(pairs) > MAX_PAIRS:
        raise FieldProblem(where, f"has {len(pairs):,} entries; at most {MAX_PAIRS:,} are read")
    for name, v in pairs.items():
        if not isinstance(name, str) or not 0 < len(name) <= 200:
            raise FieldProblem(where, f"has a metric name that is not a short text: {show(name)}")
        number(v, f"{where}.{name}")


def _history(value: Any) -> None:
    for i, entry in enumerate(seq(value, "history")):
        where = f"history[{i}]"
        record = obj(entry, where)
        for name in record:
            if name not in _RECORD_FIELDS:
                raise FieldProblem(f"{where}.{name}", "is not a field of an epoch record")
        for name, kind in _RECORD_FIELDS.items():
            if name in _PAIR_FIELDS:
                _pairs(record.get(name, {}), f"{where}.{name}")
                continue
            v = required(record, name, f"{where}.")
            if kind == "int":
                whole(v, f"{where}.{name}", 1 if name == "epoch" else 0,
                      MAX_EPOCHS if name == "epoch" else MAX_COUNT)
            elif kind == "bool":
                if not isinstance(v, bool):
                    raise FieldProblem(f"{where}.{name}", f"must be true or false, found {show(v)}")
            else:
                # a task without a training score (regression …) saves no train accuracy
                number(v, f"{where}.{name}", optional="None" in kind or name == "train_accuracy")


def _sums(value: Any) -> None:
    sums = seq(value, "epoch_sums", length=3)
    number(sums[0], "epoch_sums[0]")
    number(sums[1], "epoch_sums[1]", 0.0)
    whole(sums[2], "epoch_sums[2]", 0)


def _config(value: Any) -> None:
    from visionstudio.core.params import ConfigError
    from visionstudio.core.training.config import TrainingConfig

    try:
        TrainingConfig.from_dict(obj(value, "config"))
    except ConfigError as exc:
        raise FieldProblem("config", str(exc)) from None


def _best(value: Any) -> None:
    best = obj(value, "best")
    number(required(best, "value", "best."), "best.value", optional=True)
    epoch = required(best, "epoch", "best.")
    if epoch is not None:
        whole(epoch, "best.epoch", 1, MAX_EPOCHS)
    whole(required(best, "since", "best."), "best.since", 0, MAX_EPOCHS)


def _metric(value: Any) -> None:
    if value not in METRICS:
        raise FieldProblem("metric", f"must be one of {', '.join(METRICS)}, found {show(value)}")


def _notes(value: Any) -> None:
    for i, note in enumerate(seq(value, "notes", 1000)):
        text(note, f"notes[{i}]")


def _task(value: Any) -> None:
    from visionstudio.core.tasks import TASK_KINDS

    if value not in TASK_KINDS:
        raise FieldProblem("task", f"must be one of {', '.join(TASK_KINDS)}, found {show(value)}")


def _objective(value: Any) -> None:
    """The task's state: an object of short names and numbers or lists of numbers (its
    objective checks the meaning when it takes it)."""
    state = obj(value, "objective")
    if len(state) > 100:
        raise FieldProblem("objective", f"has {len(state):,} entries; at most 100 are read")
    for name, v in state.items():
        where = f"objective.{name}"
        items = seq(v, where, MAX_PAIRS) if isinstance(v, list) else [v]
        for i, item in enumerate(items):
            if isinstance(item, str):
                text(item, f"{where}[{i}]", 200)
            else:
                number(item, f"{where}[{i}]")


_TRAINER_FIELDS = {
    "trainer_format": lambda v: whole(v, "trainer_format", 1, 1),
    "epoch": lambda v: whole(v, "epoch", 1, MAX_EPOCHS),
    "batch": lambda v: whole(v, "batch", 0),
    "step": lambda v: whole(v, "step", 0),
    "steps_per_epoch": lambda v: whole(v, "steps_per_epoch", 1),
    "epoch_sums": _sums,
    "config": _config,
    "schedule": _schedule,
    "scaler": _scaler,
    "best": _best,
    "metric": _metric,
    "history": _history,
    "notes": _notes,
}
_OPTIMIZER_FIELDS = ("optimizer_key", "optimizer_params", "optimizer")


def check_trainer(meta: Any) -> None:
    """Every field of the "trainer" section, for type and range.

    A checkpoint with ``trainer_format`` holds a resumable training state and must have
    every field; one without (weights saved by another tool) may have any of them, and
    those it has are checked all the same (the inspector and the training panel read them).
    """
    obj(meta, "trainer")
    complete = "trainer_format" in meta
    for name, check in _TRAINER_FIELDS.items():
        if name in meta:
            check(meta[name])
        elif complete:
            raise FieldProblem(name, "is missing")
    if "task" in meta:
        _task(meta["task"])
    if "objective" in meta:   # optional: checkpoints from before tasks have none
        _objective(meta["objective"])
    if complete or any(name in meta for name in _OPTIMIZER_FIELDS):
        _optimizer(*(required(meta, name, "") for name in _OPTIMIZER_FIELDS))
