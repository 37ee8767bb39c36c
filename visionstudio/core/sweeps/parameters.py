"""What a sweep may vary, and how a trial's values become a project: through commands.

A path names one setting:

    optimizer.key, optimizer.<param>      the optimizer and any of its parameters (lr, …)
    scheduler.key, scheduler.<param>      the learning-rate schedule and its parameters
    training.<field>                      batch_size, epochs, clip_norm, augmentation, …
    layer.<layer name>.<param>            a parameter of one layer (or block instance)
    block.<definition>.<exposed>          an exposed parameter, on every instance of the block
    repeat.<block instance>               depth: the instance N times in a chain

A trial's values are turned into ordinary commands (SetTrainingSettings, SetParam,
AddNode/Connect/Disconnect for a repeat) and run on a copy of the document: the user's
document is never touched, and *Apply best* is the same commands as one Macro, so it is
one undo step. ``training.seed`` and ``training.device`` are not offered: the sweep's
seeds and the worker's device set them. An optimizer parameter that the optimizer a
trial chose does not have (momentum for Adam) is left out of that trial.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from visionstudio.core.blocks.specs import node_param_specs
from visionstudio.core.commands import Command, Macro
from visionstudio.core.graph.blocks import instance_key
from visionstudio.core.graph.commands import AddNode, Connect, Disconnect, SetParam
from visionstudio.core.params import ConfigError, ParamError, ParamSpec
from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.core.project.document import ProjectDocument
from visionstudio.core.sweeps.config import ParameterRange, SweepConfig
from visionstudio.core.training.config import TRAINING_FIELDS
from visionstudio.core.training.registry import OPTIMIZERS, SCHEDULERS

MAX_REPEAT = 16
NOT_SWEPT = frozenset({"seed", "device"})
NOT_OFFERED = frozenset({"layer_health", "tensorboard"})   # tools, not what a run learns
_CHOICES = {"optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}
_SWEEPABLE_KINDS = ("int", "float", "bool", "choice")
_REPEAT_SPEC = ParamSpec("repeat", "int", 1, title="repeats", minimum=1, maximum=MAX_REPEAT)


@dataclass(frozen=True)
class ParameterChoice:
    """A setting the sweep panel offers, with a sensible default range."""

    path: str
    title: str
    kind: str                       # "float" | "int" | "choice"
    value: Any                      # the project's current value
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def default_range(self) -> ParameterRange:
        return ParameterRange(self.path, self.kind, self.low, self.high, self.log, None, self.choices)


# -- what a path names ---------------------------------------------------------------------
def _instances(document: ProjectDocument, key: str) -> list[Any]:
    return [n for n in document.graph.nodes.values() if instance_key(n) == key]


def target_spec(document: ProjectDocument, path: str,
                swept_keys: Mapping[str, tuple] | None = None) -> ParamSpec:
    """The ParamSpec that checks values for ``path``; ConfigError naming what is missing.
    ``swept_keys``: optimizer/scheduler keys a sweep also varies (their params count)."""
    where = f"parameters.{path}"
    head, _, rest = path.partition(".")
    if head in _CHOICES:
        registry, current = _CHOICES[head], getattr(document.training, head)["key"]
        if rest == "key":
            return ParamSpec("key", "choice", current, title=f"{head}", choices=tuple(registry))
        keys = (current, *(swept_keys or {}).get(head, ()))
        for key in keys:
            params = registry.get(key).params if key in registry else ()
            spec = next((p for p in params if p.name == rest), None)
            if spec is not None:
                return spec
        raise ConfigError(where, f"the {head} {'/'.join(map(str, keys))} has no parameter {rest!r}")
    if head == "training":
        spec = next((s for s in TRAINING_FIELDS if s.name == rest), None)
        if spec is None or rest in NOT_SWEPT:
            why = ("is set by the sweep's seed and repeats" if rest == "seed" else
                   "is the worker's choice (--device)" if rest == "device" else "is not a training setting")
            raise ConfigError(where, f"training.{rest} {why}")
        return spec
    if head == "layer":
        name, _, param = rest.partition(".")
        node = document.graph.node_by_name(name)
        if node is None:
            raise ConfigError(where, f"the network has no layer named {name!r}")
        spec = next((p for p in node_param_specs(document.graph, node) if p.name == param), None)
        if spec is None:
            raise ConfigError(where, f"layer {name} has no parameter {param!r}")
        return spec
    if head == "block":
        key, _, param = rest.partition(".")
        definition = document.graph.blocks.find(key)
        if definition is None:
            raise ConfigError(where, f"the project has no block {key!r}")
        spec = next((p for p in definition.param_specs() if p.name == param), None)
        if spec is None:
            raise ConfigError(where, f"block {key} exposes no parameter {param!r}")
        if not _instances(document, key):
            raise ConfigError(where, f"block {key} is not used in the network")
        return spec
    if head == "repeat" and "." not in rest:
        node = document.graph.node_by_name(rest)
        if node is None or instance_key(node) is None:
            raise ConfigError(where, f"the network has no block instance named {rest!r}")
        if len(document.graph.inputs_of(node.id)) != 1:
            raise ConfigError(where, f"{rest} has {len(document.graph.inputs_of(node.id))} inputs; "
                              "only a block with one input can be repeated")
        return _REPEAT_SPEC
    raise ConfigError(where, "is not a setting path; use optimizer.<param>, scheduler.<param>, "
                      "training.<field>, layer.<layer>.<param>, block.<block>.<param> or "
                      "repeat.<block instance>")


def check_parameters(document: ProjectDocument, config: SweepConfig) -> None:
    """Every path names something in ``document`` and every value of its range is one the
    setting accepts; ConfigError (path, sentence) otherwise."""
    swept = {p.path.split(".")[0]: tuple(p.choices) for p in config.parameters
             if p.path in ("optimizer.key", "scheduler.key")}
    if config.epochs is not None and any(p.path == "training.epochs" for p in config.parameters):
        raise ConfigError("epochs", "is set and training.epochs is swept; keep one of them")
    for p in config.parameters:
        spec = target_spec(document, p.path, swept)
        values = list(p.choices) if p.kind == "choice" else [p.low, p.high]
        if p.kind == "int" and spec.kind == "float":
            values = [float(v) for v in values]
        if p.kind == "float" and spec.kind == "int":
            raise ConfigError(f"parameters.{p.path}", f"{spec.label} takes whole numbers: give an "
                              'int range ("type": "int")')
        if spec.kind not in ("int", "float") and p.kind != "choice":
            raise ConfigError(f"parameters.{p.path}", f"{spec.label} takes a choice list, not a range")
        for value in values:
            try:
                spec.validate(copy.deepcopy(value))
            except ParamError as exc:
                raise ConfigError(f"parameters.{p.path}", str(exc)) from None


# -- values -> commands ----------------------------------------------------------------------
def _training_changes(document: ProjectDocument, values: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for head, registry in _CHOICES.items():
        mine = {p.partition(".")[2]: v for p, v in values.items() if p.startswith(head + ".")}
        if not mine:
            continue
        current = getattr(document.training, head)
        key = registry.canonical(mine.pop("key", current["key"]))
        params = dict(current["params"]) if key == current["key"] else {}
        names = {s.name for s in registry.get(key).params}
        params.update((k, v) for k, v in mine.items() if k in names)
        changes[head] = {"key": key, "params": params}
    for path, value in values.items():
        if path.startswith("training."):
            changes[path.partition(".")[2]] = value
    return changes


def _repeat_commands(document: ProjectDocument, name: str, times: int) -> list[Command]:
    """The instance ``name`` followed by ``times - 1`` copies of itself, its outputs moved
    to the last copy: AddNode / Disconnect / Connect, so undo takes it back."""
    graph = document.graph
    node = graph.node_by_name(name)
    if node is None or times <= 1:
        return []
    outs = graph.outputs_of(node.id)
    commands: list[Command] = [Disconnect(e) for e in outs]
    taken = {n.name for n in graph.nodes.values()}
    x, y = graph.positions.get(node.id, (0.0, 0.0))
    prev = node.id
    for i in range(1, times):
        copy_name = graph.unique_name(f"{name}_r", taken)
        taken.add(copy_name)
        add = AddNode("block", (x + 40.0 * i, y + 60.0 * i), name=copy_name,
                      params=copy.deepcopy(node.params))
        commands += [add, Connect(prev, add.node_id, 0)]
        prev = add.node_id
    commands += [Connect(prev, e.dst, e.port) for e in outs]
    return commands


def parameter_commands(document: ProjectDocument, values: Mapping[str, Any]) -> list[Command]:
    """The commands that give ``document`` a trial's ``values`` (path -> value): training
    settings, then layer and block parameters, then repeats (copies carry the new values)."""
    commands: list[Command] = []
    changes = _training_changes(document, values)
    if changes:
        commands.append(SetTrainingSettings(changes))
    graph = document.graph
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if head == "layer":
            name, _, param = rest.partition(".")
            node = graph.node_by_name(name)
            if node is not None:
                commands.append(SetParam(node.id, param, value))
        elif head == "block":
            key, _, param = rest.partition(".")
            commands += [SetParam(n.id, param, value) for n in _instances(document, key)]
    for path, value in values.items():
        if path.startswith("repeat."):
            commands += _repeat_commands(document, path.partition(".")[2], int(value))
    return commands


def copy_document(document: ProjectDocument) -> ProjectDocument:
    """A detached copy for a trial: the graph (with its blocks), the settings, no runs."""
    return ProjectDocument(graph=document.graph.copy(), dataset=document.dataset,
                           training=document.training, name=document.name,
                           description=document.description, runs=[],
                           initial_weights=document.initial_weights, task=document.task,
                           folder=document.folder)


def apply_parameters(document: ProjectDocument, values: Mapping[str, Any]) -> ProjectDocument:
    """A copy of ``document`` with a trial's values; the document itself is unchanged.
    Raises CommandError when a value does not fit (the trial fails with those words)."""
    trial = copy_document(document)
    Macro("trial", parameter_commands(trial, values)).do(trial)
    return trial


def describe_values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_shown(v)}" for k, v in values.items())


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def apply_best_command(document: ProjectDocument, values: Mapping[str, Any]) -> Command:
    """*Apply best to the project*: one undoable Macro."""
    return Macro(f"Apply sweep values {describe_values(values)}"[:200],
                 parameter_commands(document, values))


# -- what the panel offers ---------------------------------------------------------------------
def _choice_of(path: str, title: str, spec: ParamSpec, value: Any) -> ParameterChoice | None:
    if spec.kind not in _SWEEPABLE_KINDS or spec.optional and value is None:
        return None
    if spec.kind == "bool":
        return ParameterChoice(path, title, "choice", value, choices=(False, True))
    if spec.kind == "choice":
        return ParameterChoice(path, title, "choice", value, choices=tuple(spec.choices))
    value = spec.default if value is None else value
    if spec.kind == "int":
        low = int(value) // 2 if spec.minimum is None else max(int(spec.minimum), int(value) // 2)
        high = max(low + 1, 2 * int(value))
        high = high if spec.maximum is None else min(int(spec.maximum), high)
        return ParameterChoice(path, title, "int", value, low, high) if low < high else None
    log = spec.name in ("lr", "weight_decay", "eps", "lr_decay", "min_lr") and value > 0
    lo, hi = (value / 10, value * 10) if log else (spec.minimum, spec.maximum)
    if lo is None or hi is None:
        lo, hi = (value / 2, value * 2) if value > 0 else (0.0, 1.0)
    lo = max(lo, spec.minimum) if spec.minimum is not None else lo
    hi = min(hi, spec.maximum) if spec.maximum is not None else hi
    return ParameterChoice(path, title, "float", value, lo, hi, log) if lo < hi else None


def sweepable_parameters(document: ProjectDocument) -> list[ParameterChoice]:
    """Every setting a sweep can vary in ``document``, with its current value and range."""
    out: list[ParameterChoice] = []
    training = document.training
    for head, registry in _CHOICES.items():
        current = getattr(training, head)
        out.append(ParameterChoice(f"{head}.key", head, "choice", current["key"], choices=tuple(registry)))
        spec = registry.get(current["key"])
        for p in spec.params:
            out.append(_choice_of(f"{head}.{p.name}", f"{spec.title}: {p.label}", p,
                                  current["params"].get(p.name, p.default)))
    for spec in TRAINING_FIELDS:
        if spec.name not in NOT_SWEPT | NOT_OFFERED:
            out.append(_choice_of(f"training.{spec.name}", spec.label, spec, getattr(training, spec.name)))
    graph = document.graph
    for node in graph.nodes.values():
        if node.kind == "input":   # its shape is the data's
            continue
        for p in node_param_specs(graph, node):
            out.append(_choice_of(f"layer.{node.name}.{p.name}", f"{node.name}: {p.label}", p,
                                  node.params.get(p.name, p.default)))
        if instance_key(node) is not None and len(graph.inputs_of(node.id)) == 1:
            out.append(ParameterChoice(f"repeat.{node.name}", f"{node.name}: repeat", "int", 1, 1, 3))
    for definition in graph.blocks.values():
        if _instances(document, definition.key):
            for p in definition.param_specs():
                out.append(_choice_of(f"block.{definition.key}.{p.name}",
                                      f"block {definition.title or definition.key}: {p.label}", p, p.default))
    return [c for c in out if c is not None]

