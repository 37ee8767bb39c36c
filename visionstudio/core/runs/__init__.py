"""Runs: the metric history of a training run and where its files live (no Qt).

``RunHistory`` accumulates the records a trainer emits (per-batch losses, per-epoch
metrics) into growable numpy arrays that plots read without copying; ``store`` names
run folders next to the project, makes run entries and keeps the ``RunStore`` (each
run's folder and history); ``paths`` confines every run path the app writes or
deletes to the project's runs folder; ``commands`` are the only changes of the run list.
"""

from visionstudio.core.runs.commands import AddRun, RemoveRun, RenameRun, UpdateRun
from visionstudio.core.runs.history import RunHistory
from visionstudio.core.runs.paths import (
    RunPathError,
    adopt_runs,
    confine,
    delete_run_files,
    run_dir,
    writable_run_dir,
)
from visionstudio.core.runs.store import (
    RUNS_SUFFIX,
    RunStore,
    make_entry,
    new_run_id,
    runs_root,
    scratch_root,
    summarize,
)

__all__ = ["RUNS_SUFFIX", "AddRun", "RemoveRun", "RenameRun", "RunHistory", "RunPathError",
           "RunStore", "UpdateRun", "adopt_runs", "confine", "delete_run_files", "make_entry",
           "new_run_id", "run_dir", "runs_root", "scratch_root", "summarize", "writable_run_dir"]
