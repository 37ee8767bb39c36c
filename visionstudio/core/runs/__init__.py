"""Runs: the metric history of a training run and where its files live (no Qt).

``RunHistory`` accumulates the records a trainer emits (per-batch losses, per-epoch
metrics) into growable numpy arrays that plots read without copying; ``store``
names run folders next to the project and writes/reads their metric files;
``commands`` are the undoable edits of the project's run list.
"""

from .commands import RemoveRun, RenameRun
from .history import RunHistory
from .store import (
    RUNS_SUFFIX, adopt_runs, delete_run_files, make_entry, new_run_id, run_dir, runs_root,
    scratch_root, summarize,
)

__all__ = ["RUNS_SUFFIX", "RemoveRun", "RenameRun", "RunHistory", "adopt_runs",
           "delete_run_files", "make_entry", "new_run_id", "run_dir", "runs_root",
           "scratch_root", "summarize"]
