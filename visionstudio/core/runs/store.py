"""Where run files live, the run entries a project lists, and the RunStore over them.

A saved project ``/x/net.vsproj`` keeps its runs in ``/x/net.vsproj.runs/<run-id>/``:

    checkpoints/last/, checkpoints/best/   the trainer's checkpoints (safetensors)
    history.npz, metrics.json, metrics.csv  the metric history (RunHistory.save)

An unsaved project writes into a scratch folder under the user's state directory
(``$XDG_STATE_HOME/VisionStudio/unsaved-runs/<session>/``); the first save moves
those folders next to the project (``adopt_runs``). A run entry in
``document.runs`` names its folder relative to the runs root (the run id), so a
project folder can be moved or copied along with its ``.runs`` folder. Where those
folders may lead, and what deleting one removes, is ``paths``' business.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from visionstudio.core.runs.history import RunHistory
from visionstudio.core.runs.paths import CHECKPOINTS, RunPathError, adopt_runs, delete_run_files, run_dir

RUNS_SUFFIX = ".runs"
ENTRY_FIELDS = ("id", "name", "created", "status", "settings", "summary", "folder", "resumed_from")
# Runs that ended as the user meant them to: their checkpoints are worth exporting.
FINISHED = ("completed", "early_stopped", "stopped")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def runs_root(project_path: str | os.PathLike[str] | None, scratch: Path | None = None) -> Path:
    """The folder holding this project's run folders."""
    if project_path is None:
        return scratch if scratch is not None else scratch_root()
    p = Path(project_path)
    return p.with_name(p.name + RUNS_SUFFIX)


def scratch_root(session: str | None = None) -> Path:
    """A per-session folder for runs of a project that has not been saved yet."""
    base = os.environ.get("XDG_STATE_HOME")
    if base:
        root = Path(base)
    elif sys.platform.startswith("win"):
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support"
    else:
        root = Path.home() / ".local" / "state"
    return root / "VisionStudio" / "unsaved-runs" / (session or f"{os.getpid()}-{uuid.uuid4().hex[:6]}")


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def make_entry(run_id: str, name: str, settings: dict[str, Any], *, status: str = "running",
               resumed_from: str | None = None) -> dict[str, Any]:
    return {"id": run_id, "name": name, "created": now_iso(), "status": status,
            "settings": settings, "summary": {}, "folder": run_id, "resumed_from": resumed_from}


def summarize(history: Any, result: Any | None = None, failure: Any | None = None) -> dict[str, Any]:
    """A small, JSON-ready summary of a run for the project file; a failure's message is
    kept even when the run failed before it fitted (``result`` None: a dataset that did
    not load), so the run list can say why."""
    last = history.final()
    out: dict[str, Any] = {
        "epochs": len(history.epochs),
        "steps": history.steps_done,
        "train_loss": last.get("train_loss"), "train_accuracy": last.get("train_accuracy"),
        "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_accuracy"),
        "elapsed_s": last.get("elapsed_s"),
        "val_metrics": dict(last.get("val_metrics") or {}),   # the task's: the run list shows one
    }
    if result is not None:
        out.update(best_epoch=result.best_epoch, best_metric=result.best_metric,
                   metric=result.metric, elapsed_s=result.elapsed_s)
        failure = failure or result.failure
    if failure is not None:
        out["failure"] = failure.message
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}


class RunStore:
    """The project's runs and their folders: where each run's files are, its metric
    history (loaded once, kept while the run stays listed) and moving the folders
    when the project gets a path. The list itself is ``document.runs``, changed only
    through the run commands; the store never edits it."""

    def __init__(self, document: Any, project_path: str | os.PathLike[str] | None = None,
                 scratch: Path | None = None) -> None:
        self.document = document
        self.scratch = scratch if scratch is not None else scratch_root()
        self.root = runs_root(project_path, self.scratch)
        self._histories: dict[str, Any] = {}

    def entry(self, run_id: str | None) -> dict[str, Any] | None:
        for run in self.document.runs:
            if run.get("id") == run_id:
                return run
        return None

    def latest_id(self) -> str | None:
        return self.document.runs[-1]["id"] if self.document.runs else None

    def next_name(self) -> str:
        return f"Run {len(self.document.runs) + 1}"

    def folder(self, run_id: str) -> Path | None:
        entry = self.entry(run_id)
        return run_dir(self.root, entry) if entry else None

    def continue_problem(self, run_id: str | None) -> str | None:
        """Why ``run_id`` cannot be continued, in words; None when it can be tried (the
        plan still checks its checkpoint). A failed run ended in a state nobody chose
        (an error, a loss gone to NaN, a dataset that did not load): continuing it
        would carry that on, so it is not offered."""
        entry = self.entry(run_id)
        if entry is None:
            return "There is no run to continue; press Train first."
        if entry.get("status") == "failed":
            return (f"{entry.get('name', run_id)} failed, so it cannot be continued; "
                    "press Train to start a new run.")
        if entry.get("status") == "imported":
            return (f"{entry.get('name', run_id)} was imported from a metrics file and has "
                    "no checkpoint to continue from.")
        return None

    def export_checkpoint(self) -> Path | None:
        """The best checkpoint (else the last) of the most recent finished run whose
        files exist: what File > Export offers first."""
        for entry in reversed(self.document.runs):
            if entry.get("status") not in FINISHED:
                continue
            try:
                folder = run_dir(self.root, entry) / CHECKPOINTS
            except (KeyError, TypeError, ValueError):   # ValueError: a crafted folder name
                continue
            for kind in ("best", "last"):
                if (folder / kind).is_dir():
                    return folder / kind
        return None

    # -- histories ---------------------------------------------------------------------
    def keep_history(self, run_id: str, history: Any) -> None:
        """The history a run trains into: the one every view reads for it."""
        self._histories[run_id] = history

    def history(self, run_id: str | None, on_problem: Any = None) -> Any:
        """The run's RunHistory (read from its folder the first time), None when the run
        is not listed. A damaged file gives an empty history and ``on_problem(sentence)``
        once, not on every redraw."""
        if run_id is None:
            return None
        if run_id not in self._histories:
            if self.entry(run_id) is None:
                return None
            try:   # a crafted folder name (RunPathError) reads as a damaged file
                self._histories[run_id] = RunHistory.load(self.folder(run_id))
            except ValueError as exc:
                self._histories[run_id] = RunHistory()
                if on_problem is not None:
                    on_problem(str(exc))
        return self._histories[run_id]

    def loaded_ids(self) -> list[str]:
        return list(self._histories)

    def forget(self, run_id: str | None = None) -> None:
        """Drop a loaded history (its run was removed), or all of them."""
        if run_id is None:
            self._histories.clear()
        else:
            self._histories.pop(run_id, None)

    # -- folders -----------------------------------------------------------------------
    def set_project_path(self, project_path: str | os.PathLike[str] | None,
                         skip: set[str] = frozenset()) -> list[str]:
        """The project was saved (or saved as): bring its run folders along (moved out of
        the scratch folder, copied otherwise); returns the problems, one line each."""
        new_root = runs_root(project_path, self.scratch)
        old_root = self.root
        if new_root == old_root:
            return []
        problems = adopt_runs(self.document.runs, old_root, new_root,
                              move=old_root == self.scratch, skip=skip)
        self.root = new_root
        return problems

    def bring_along(self, run_id: str, old_root: Path) -> list[str]:
        """A run that trained into ``old_root`` while the project was saved elsewhere."""
        if old_root == self.root:
            return []
        return adopt_runs([{"id": run_id, "folder": run_id}], old_root, self.root,
                          move=old_root == self.scratch)

    def reset(self, document: Any, project_path: str | os.PathLike[str] | None) -> None:
        """Another document was opened (New, Open)."""
        self.document = document
        self.root = runs_root(project_path, self.scratch)
        self._histories.clear()

    def delete_files(self, entry: dict[str, Any]) -> list[str]:
        """Delete what VisionStudio wrote for a run that is no longer listed; the words for
        the status bar (nothing when all went)."""
        name = entry.get("name")
        try:
            kept = delete_run_files(self.root, entry)
        except (OSError, RunPathError) as exc:
            return [f"The files of {name} could not be deleted: {exc}"]
        if kept:
            return [f"Deleted the files of {name}; kept {len(kept)} VisionStudio did not write: "
                    f"{', '.join(kept[:3])}"]
        return []
