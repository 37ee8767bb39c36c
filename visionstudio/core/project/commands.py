"""Undoable edits of a document's task, dataset and training settings.

They work like graph commands (``do``/``undo`` on a target, readable text, merge
keys so a spin-box drag is one undo step) but their target is the ProjectDocument.
Invalid values raise CommandError with the JSON path's problem in words.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from visionstudio.core.commands import Command, CommandError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import DATASETS
from visionstudio.core.params import ConfigError, ParamSpec
from visionstudio.core.project.document import ProjectDocument, read_weights_name
from visionstudio.core.project.errors import ProjectFormatError
from visionstudio.core.tasks import TASK_KINDS
from visionstudio.core.training.config import TRAINING_FIELDS, TrainingConfig
from visionstudio.core.training.registry import LOSSES, OPTIMIZERS, SCHEDULERS

_TITLES = {spec.name: spec.label for spec in TRAINING_FIELDS}
_TITLES.update(loss="loss", optimizer="optimizer", scheduler="learning-rate schedule")
_CHOICES = {"loss": LOSSES, "optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}


def shown_value(value: Any) -> str:
    """A value as the History shows it: 0.005, not 0.005000000000000001; None as off."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown_value(v) for v in value) or "none"
    return str(value)


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def params_text(specs: tuple[ParamSpec, ...], title: str, old: dict[str, Any],
                new: dict[str, Any]) -> tuple[str, str | None]:
    """(text, the one changed param's name or None) for a change of ``title``'s params:
    "Set momentum of SGD to 0.8"; the learning rate is named alone ("Set learning rate
    to 0.005"): it is what a paused run's change usually is."""
    changed = [s for s in specs if old.get(s.name, s.default) != new.get(s.name, s.default)]
    if len(changed) == 1:
        spec = changed[0]
        where = "" if spec.name == "lr" else f" of {title}"
        return f"Set {spec.label}{where} to {shown_value(new.get(spec.name, spec.default))}", spec.name
    if changed:
        return f"Change {_joined([s.label for s in changed])} of {title}", None
    return f"Change settings of {title}", None


def training_text(name: str, old: TrainingConfig, new: TrainingConfig) -> tuple[str, tuple]:
    """The History text of a one-field change and its merge key (one per field, and per
    parameter of a loss, optimizer or schedule, so a drag is one step)."""
    if name not in _CHOICES:
        return f"Set {_TITLES.get(name, name)} to {shown_value(getattr(new, name))}", (name,)
    before, after = getattr(old, name), getattr(new, name)
    spec = _CHOICES[name].get(after["key"])
    if before["key"] != after["key"]:
        return f"Set {_TITLES[name]} to {spec.title}", (name,)
    text, param = params_text(spec.params, spec.title, before["params"], after["params"])
    return text, (name, after["key"], param)


class SetTrainingSettings(Command):
    """Change some training fields at once, e.g. {"epochs": 10} or {"optimizer": {...}}."""

    def __init__(self, changes: dict[str, Any]) -> None:
        self.changes = copy.deepcopy(changes)
        self.old: TrainingConfig | None = None
        self.new: TrainingConfig | None = None
        names = sorted(changes)
        self.merge_key = ("training", tuple(names)) if len(names) == 1 else None
        self.text = "Change training settings"

    def do(self, doc: ProjectDocument) -> None:
        try:
            new = doc.training.replace(**self.changes)
        except ConfigError as exc:
            raise CommandError(exc.problem) from None
        self.old, self.new = doc.training, new
        if len(self.changes) == 1:
            (name,) = self.changes
            self.text, key = training_text(name, self.old, new)
            self.merge_key = ("training", key)
        else:
            self.text = f"Change {_joined([_TITLES.get(n, n) for n in sorted(self.changes)])}"
        doc.set_training(new)

    def undo(self, doc: ProjectDocument) -> None:
        assert self.old is not None
        doc.set_training(self.old)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetTrainingSettings) or other.merge_key != self.merge_key:
            return False
        self.changes, self.new, self.text = other.changes, other.new, other.text
        return True


class SetDatasetSettings(Command):
    def __init__(self, key: str, params: dict[str, Any]) -> None:
        self.key, self.params = key, copy.deepcopy(params)
        self.old: DatasetConfig | None = None
        self.merge_key = ("dataset", key)
        self.text = "Change dataset"

    def do(self, doc: ProjectDocument) -> None:
        try:
            new = DatasetConfig.from_dict({"key": self.key, "params": self.params})
        except ConfigError as exc:
            raise CommandError(exc.problem) from None
        self.old = doc.dataset
        if self.old.preprocessing is not None:   # pretrained weights' preprocessing stays
            new = dataclasses.replace(new, preprocessing=self.old.preprocessing)
        spec = DATASETS.get(new.key)
        if self.old.key != new.key:
            self.text, param = f"Use dataset {spec.title}", None
        else:
            self.text, param = params_text(spec.params, spec.title, self.old.params, new.params)
        self.merge_key = ("dataset", new.key, param)
        doc.set_dataset(new)

    def undo(self, doc: ProjectDocument) -> None:
        assert self.old is not None
        doc.set_dataset(self.old)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetDatasetSettings) or other.merge_key != self.merge_key:
            return False
        self.key, self.params, self.text = other.key, other.params, other.text
        return True


class SetInitialWeights(Command):
    """Name the weights file a fresh run starts from (``initial_weights``), or None to
    start from scratch; the file itself stays on disk, so Undo brings it back."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.old: str | None = None
        self.text = f"Start from the initial weights {name}" if name else "Start from scratch"

    def do(self, doc: ProjectDocument) -> None:
        if self.name is not None:
            try:
                read_weights_name(self.name)
            except ProjectFormatError as exc:
                raise CommandError(str(exc)) from None
        self.old = doc.initial_weights
        doc.set_initial_weights(self.name)

    def undo(self, doc: ProjectDocument) -> None:
        doc.set_initial_weights(self.old)


class SetTask(Command):
    """Choose what the network is trained to do (a TASK_KINDS key). The dataset and the
    heads stay as they are: the plan says what no longer fits, so Undo is all it takes."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.old: str | None = None
        kind = TASK_KINDS.get(task) if isinstance(task, str) else None
        self.text = f"Set task to {kind.title}" if kind else "Set task"

    def do(self, doc: ProjectDocument) -> None:
        if not isinstance(self.task, str) or self.task not in TASK_KINDS:
            raise CommandError(f"{shown_value(self.task)[:40]!r} is not a task; pick one of "
                               f"{', '.join(k.title for k in TASK_KINDS.values())}")
        self.old = doc.task
        doc.set_task(self.task)

    def undo(self, doc: ProjectDocument) -> None:
        assert self.old is not None
        doc.set_task(self.old)
