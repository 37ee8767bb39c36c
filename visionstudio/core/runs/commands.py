"""Undoable edits of the project's run list (rename, remove from the list).

Deleting a run's files is not undoable and is asked for separately by the UI;
removing the entry is, so an accidental removal comes back with Ctrl+Z.
"""

from __future__ import annotations

import copy
from typing import Any

from visionstudio.core.commands import Command, CommandError


def _index(doc: Any, run_id: str) -> int:
    for i, run in enumerate(doc.runs):
        if run.get("id") == run_id:
            return i
    raise CommandError("that run is no longer in the project")


class RenameRun(Command):
    def __init__(self, run_id: str, name: str) -> None:
        self.run_id, self.name = run_id, name.strip()
        self.old = ""
        self.text = f"Rename run to {self.name}"

    def do(self, doc: Any) -> None:
        if not self.name:
            raise CommandError("a run needs a name")
        if len(self.name) > 200:
            raise CommandError("a run name can have at most 200 characters")
        i = _index(doc, self.run_id)
        runs = copy.deepcopy(doc.runs)
        self.old = runs[i].get("name", "")
        runs[i]["name"] = self.name
        self.text = f"Rename run {self.old} to {self.name}"
        doc.set_runs(runs)

    def undo(self, doc: Any) -> None:
        runs = copy.deepcopy(doc.runs)
        runs[_index(doc, self.run_id)]["name"] = self.old
        doc.set_runs(runs)


class RemoveRun(Command):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.entry: dict[str, Any] | None = None
        self.position = 0
        self.text = "Remove run"

    def do(self, doc: Any) -> None:
        i = _index(doc, self.run_id)
        runs = copy.deepcopy(doc.runs)
        self.entry, self.position = runs.pop(i), i
        self.text = f"Remove run {self.entry.get('name', self.run_id)}"
        doc.set_runs(runs)

    def undo(self, doc: Any) -> None:
        assert self.entry is not None
        runs = copy.deepcopy(doc.runs)
        runs.insert(self.position, copy.deepcopy(self.entry))
        doc.set_runs(runs)
