"""The only way the project's run list changes: AddRun, UpdateRun, RenameRun, RemoveRun.

Two kinds of change reach the list. RenameRun and RemoveRun are the user's edits and
undoable steps: an accidental removal comes back with Ctrl+Z (deleting a run's files
is not undoable and is asked for separately). AddRun and UpdateRun record what a
training run did (it started; it ended with this status and summary). They are facts
about files on disk, not edits of the network, so the controller records them without
an undo entry (``DocumentController.record``): undoing an edit made before
Train must not make a run vanish from the list, and a run's "completed" must not be
undone back to "running" while nothing runs. They still make the project unsaved.
"""

from __future__ import annotations

import copy
from typing import Any

from visionstudio.core.commands import Command, CommandError

# fields UpdateRun may change: what a run's end (or a Continue) reports
UPDATABLE = frozenset({"status", "summary", "stale"})


def _index(doc: Any, run_id: str) -> int:
    for i, run in enumerate(doc.runs):
        if run.get("id") == run_id:
            return i
    raise CommandError("that run is no longer in the project")


class AddRun(Command):
    """A new run's entry at the end of the list (Train pressed, an export's run)."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = copy.deepcopy(entry)
        self.run_id = str(entry["id"])
        self.text = f"Add run {entry.get('name', self.run_id)}"

    def do(self, doc: Any) -> None:
        if any(run.get("id") == self.run_id for run in doc.runs):
            raise CommandError(f"a run with the id {self.run_id} is already in the project")
        doc.set_runs([*doc.runs, self.entry])

    def undo(self, doc: Any) -> None:
        runs = copy.deepcopy(doc.runs)
        runs.pop(_index(doc, self.run_id))
        doc.set_runs(runs)


class UpdateRun(Command):
    """New values for a run's status or summary (the run ended, or continues)."""

    def __init__(self, run_id: str, **changes: Any) -> None:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"UpdateRun cannot change {', '.join(sorted(unknown))}")
        self.run_id, self.changes = run_id, copy.deepcopy(changes)
        self.old: dict[str, Any] = {}
        self.text = f"Update run {run_id}"

    def do(self, doc: Any) -> None:
        i = _index(doc, self.run_id)
        runs = copy.deepcopy(doc.runs)
        self.old = {k: copy.deepcopy(runs[i][k]) for k in self.changes if k in runs[i]}
        runs[i].update(copy.deepcopy(self.changes))
        self.text = f"Update run {runs[i].get('name', self.run_id)}"
        doc.set_runs(runs)

    def undo(self, doc: Any) -> None:
        i = _index(doc, self.run_id)
        runs = copy.deepcopy(doc.runs)
        for key in self.changes:
            if key in self.old:
                runs[i][key] = copy.deepcopy(self.old[key])
            else:
                runs[i].pop(key, None)
        doc.set_runs(runs)


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
        runs.insert(min(self.position, len(runs)), copy.deepcopy(self.entry))
        doc.set_runs(runs)
