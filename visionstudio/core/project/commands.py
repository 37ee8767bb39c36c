"""Undoable edits of a document's dataset and training settings.

They work like graph commands (``do``/``undo`` on a target, readable text, merge
keys so a spin-box drag is one undo step) but their target is the ProjectDocument.
Invalid values raise CommandError with the JSON path's problem in words.
"""

from __future__ import annotations

import copy
from typing import Any

from visionstudio.core.commands import Command, CommandError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.params import ConfigError
from visionstudio.core.project.document import ProjectDocument
from visionstudio.core.training.config import TRAINING_FIELDS, TrainingConfig

_TITLES = {spec.name: spec.label for spec in TRAINING_FIELDS}
_TITLES.update(loss="loss", optimizer="optimizer", scheduler="learning-rate schedule")


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
            (name, value), = self.changes.items()
            shown = value.get("key") if isinstance(value, dict) else value
            self.text = f"Set {_TITLES.get(name, name)} to {shown}"
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
        self.text = ("Change dataset settings" if self.old.key == new.key
                     else f"Use dataset {new.key}")
        doc.set_dataset(new)

    def undo(self, doc: ProjectDocument) -> None:
        assert self.old is not None
        doc.set_dataset(self.old)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetDatasetSettings) or other.merge_key != self.merge_key:
            return False
        self.key, self.params, self.text = other.key, other.params, other.text
        return True
