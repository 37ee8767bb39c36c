"""Where run files live, and the run entries a project lists.

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

RUNS_SUFFIX = ".runs"
ENTRY_FIELDS = ("id", "name", "created", "status", "settings", "summary", "folder", "resumed_from")


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


def summarize(history: Any, result: Any | None = None) -> dict[str, Any]:
    """A small, JSON-ready summary of a run for the project file."""
    last = history.final()
    out: dict[str, Any] = {
        "epochs": len(history.epochs),
        "steps": history.steps_done,
        "train_loss": last.get("train_loss"), "train_accuracy": last.get("train_accuracy"),
        "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_accuracy"),
        "elapsed_s": last.get("elapsed_s"),
    }
    if result is not None:
        out.update(best_epoch=result.best_epoch, best_metric=result.best_metric,
                   metric=result.metric, elapsed_s=result.elapsed_s)
        if result.failure is not None:
            out["failure"] = result.failure.message
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}
