"""Reading the project's stored studies off the GUI thread: their names, one study's
config, trials and importance.

Each read is a background task (ui/shell/tasks.py) that imports optuna on its thread
and returns plain data; the callback runs on the GUI thread only while the panel that
asked still exists (the task's parent). A project without a sweeps database lists no
studies and creates no file: the path is looked at before optuna is. A reopened study's
config is the search it was made with (``stored_config``) and, as its budget, the trials
it has run: Continue adds the form's trials to those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionstudio.ui.shell.tasks import TaskState, one_line, run_task
from visionstudio.ui.sweeps.session import DB_NAME

COUNTED = ("complete", "pruned", "failed")   # the trials a budget counts (not "stopped")



@dataclass(frozen=True)
class LoadedStudy:
    name: str
    config: Any | None                 # its SweepConfig (None when it cannot be read)
    rows: list[Any] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)
    importance_note: str = ""
    problem: str = ""                  # a sentence to show, or ""


def _storage(runs_root: str) -> str | None:
    """The project's study URL, None when it has no sweeps database yet."""
    if not (Path(runs_root) / DB_NAME).is_file():
        return None
    from visionstudio.core.sweeps.study import study_storage_url

    return study_storage_url(runs_root)


def study_names(_state: TaskState, runs_root: str) -> list[str]:
    storage = _storage(runs_root)
    if storage is None:   # no optuna import for a project without sweeps
        return []
    import optuna

    from visionstudio.core.sweeps.study import open_storage

    return sorted(optuna.study.get_all_study_names(storage=open_storage(storage)))


def importance_of(storage: str, name: str) -> tuple[dict[str, float], str]:
    """The importance shares and a note when there are none."""
    from visionstudio.core.sweeps.study import parameter_importance

    shares = parameter_importance(storage, name)
    return shares, "" if shares else "No importance yet: it needs two finished trials with different values."


def stored_sweep(storage: str, name: str) -> Any | None:
    """The SweepConfig a study was made with (its budget: what it has run)."""
    from visionstudio.core.sweeps.config import SweepConfig
    from visionstudio.core.sweeps.study import load_study_rows, stored_config

    stored = stored_config(storage, name)
    if stored is None:
        return None
    counted = sum(1 for r in load_study_rows(storage, name) if r.state in COUNTED)
    return SweepConfig.from_dict({**stored, "name": name, "trials": max(1, counted)})


def study_contents(_state: TaskState, runs_root: str, name: str) -> LoadedStudy:
    from visionstudio.core.sweeps.study import load_study_rows

    storage = _storage(runs_root)
    if storage is None:
        return LoadedStudy(name, None, problem=" The project has no stored sweeps.")
    rows = load_study_rows(storage, name)
    importance, note = importance_of(storage, name)
    return LoadedStudy(name, stored_sweep(storage, name), rows, importance, note)


def _importance_task(_state: TaskState, runs_root: str, name: str) -> tuple[dict[str, float], str]:
    storage = _storage(runs_root)
    return importance_of(storage, name) if storage else ({}, "")


def bundle_task(_state: TaskState, document_data: dict, folder: str | None, config_data: dict,
                out: str) -> str:
    """*Run on many machines*: the sweep bundle (core/sweeps/bundle.py) in ``out``."""
    from visionstudio.core.project.document import document_from_dict
    from visionstudio.core.sweeps.bundle import write_bundle
    from visionstudio.core.sweeps.config import SweepConfig

    document = document_from_dict(document_data)
    document.folder = Path(folder) if folder else None   # initial weights are found from it
    write_bundle(document, SweepConfig.from_dict(config_data), out)
    return out


def write_bundle_later(owner, document: Any, config_data: dict, out: str,
                       done: Callable[[str], None], failed: Callable[[str], None]) -> None:
    folder = str(document.folder) if getattr(document, "folder", None) else None
    run_task(bundle_task, document.to_dict(), folder, config_data, out, name="sweep-bundle",
             parent=owner, report_errors=False, on_finished=done,
             on_failed=lambda exc: failed(str(exc) if isinstance(exc, ValueError) else one_line(exc)))


def list_studies(owner, runs_root: str, done: Callable[[list[str]], None]) -> None:
    run_task(study_names, runs_root, name="sweep-studies", parent=owner, report_errors=False,
             on_finished=done, on_failed=lambda exc: done([]))


def load_study(owner, runs_root: str, name: str, done: Callable[[LoadedStudy], None]) -> None:
    run_task(study_contents, runs_root, name, name="sweep-open", parent=owner, report_errors=False,
             on_finished=done,
             on_failed=lambda exc: done(LoadedStudy(name, None, problem=f" It cannot be read: "
                                                    f"{one_line(exc)}")))


def load_importance(owner, runs_root: str, name: str,
                    done: Callable[[dict[str, float], str], None]) -> None:
    run_task(_importance_task, runs_root, name, name="sweep-importance", parent=owner,
             report_errors=False, on_finished=lambda result: done(*result),
             on_failed=lambda exc: done({}, f"No importance: {one_line(exc)}"))
