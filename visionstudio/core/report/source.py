"""Which run a report is about, and what it was trained with.

A report reads a project's run folder (``net.vsproj.runs/<run>/``, the app's) or a
folder ``visionstudio train --out`` wrote, with the project it was trained from. The
network comes from the project; the settings from the run entry (else ``run.json``,
else the project), so a report shows what the run really used. The folder name of a
listed run is checked by ``runs.paths.run_dir`` (a project file may come from anyone),
and the report's own file is confined to the run's folder before it is written.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.params import ConfigError
from visionstudio.core.runs.paths import confine
from visionstudio.core.runs.store import RUNS_SUFFIX, RunStore
from visionstudio.core.training.config import TrainingConfig

REPORT_FILE = "report.html"
MAX_METRIC_ROWS = 100_000      # a metrics.csv is one row per epoch; more is not ours
MAX_JSON_BYTES = 16_000_000


class ReportError(ValueError):
    """The run cannot be reported on; the message says why, for the user."""


@dataclass
class RunSource:
    document: Any                      # ProjectDocument: the network, its name
    run_name: str
    folder: Path
    training: TrainingConfig
    dataset: DatasetConfig
    status: str = ""
    created: str = ""
    class_names: tuple[str, ...] = ()
    epochs: list[dict[str, Any]] = field(default_factory=list)   # metrics.csv rows

    def default_output(self) -> Path:
        """``report.html`` in the run's folder, where it leads checked (a link planted
        there must not send the report elsewhere)."""
        return confine(self.folder, self.folder / REPORT_FILE)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_metrics_csv(path: Path) -> list[dict[str, Any]]:
    """The epoch rows as numbers (an empty cell: None); no file: no rows."""
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                if i >= MAX_METRIC_ROWS:
                    break
                rows.append({str(k): _number(v) if isinstance(v, str) and v else None
                             for k, v in row.items() if k is not None})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportError(f"{path} cannot be read: {exc}") from None
    return rows


def _run_json(folder: Path) -> dict[str, Any]:
    path = folder / "run.json"
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ReportError(f"{path} is larger than a run summary can be")
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} cannot be read: {exc}") from None
    return data if isinstance(data, dict) else {}


def _configs(settings: dict[str, Any], document: Any, where: str) -> tuple[TrainingConfig, DatasetConfig]:
    try:
        training = TrainingConfig.from_dict(settings.get("training") or document.training.to_dict())
        dataset = DatasetConfig.from_dict(settings.get("dataset") or document.dataset.to_dict())
    except ConfigError as exc:
        raise ReportError(f"{where} has unusable settings: {exc}") from None
    return training, dataset


def _find_entry(document: Any, run: str | None) -> dict[str, Any]:
    runs = [r for r in document.runs if isinstance(r, dict)]
    if not runs:
        raise ReportError("the project has no runs yet; train it first")
    if run is None:
        return runs[-1]
    for entry in runs:
        if run in (entry.get("id"), entry.get("name"), entry.get("folder")):
            return entry
    names = ", ".join(str(r.get("name") or r.get("id")) for r in runs[:10])
    raise ReportError(f"the project has no run named {run!r} (its runs: {names})")


def from_project(document: Any, project_path: str | os.PathLike[str] | None, run: str | None = None,
                 *, store: RunStore | None = None) -> RunSource:
    """A run listed in the project (by id, name or folder; default the latest)."""
    entry = _find_entry(document, run)
    store = store or RunStore(document, project_path)
    name = str(entry.get("name") or entry.get("id"))
    try:
        folder = store.folder(str(entry.get("id")))
    except ValueError as exc:   # RunPathError: a crafted folder name
        raise ReportError(str(exc)) from None
    if folder is None or not folder.is_dir():
        raise ReportError(f"the files of {name} are not there ({folder}); was the .runs folder moved?")
    settings = entry.get("settings") if isinstance(entry.get("settings"), dict) else {}
    training, dataset = _configs(settings, document, name)
    summary = _run_json(folder)
    return RunSource(document, name, folder, training, dataset, str(entry.get("status") or ""),
                     str(entry.get("created") or ""), _class_names(summary),
                     read_metrics_csv(folder / "metrics.csv"))


def from_folder(folder: str | os.PathLike[str], document: Any) -> RunSource:
    """A folder ``visionstudio train --out`` wrote, with the project it trained."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"no such run folder: {folder}")
    if not (folder / "checkpoints").is_dir() and not (folder / "metrics.csv").is_file():
        raise ReportError(f"{folder} holds no run (no checkpoints, no metrics.csv)")
    summary = _run_json(folder)
    settings = {k: summary.get(k) for k in ("training", "dataset") if isinstance(summary.get(k), dict)}
    training, dataset = _configs(settings, document, str(folder))
    status = summary.get("status")
    return RunSource(document, folder.name, folder, training, dataset,
                     status if isinstance(status, str) else "", "", _class_names(summary),
                     read_metrics_csv(folder / "metrics.csv"))


def project_of(folder: Path) -> Path | None:
    """The project file a run folder inside ``<project>.runs`` belongs to."""
    parent = folder.resolve().parent
    if parent.name.endswith(RUNS_SUFFIX):
        project = parent.with_name(parent.name[:-len(RUNS_SUFFIX)])
        return project if project.is_file() else None
    return None


def _class_names(summary: dict[str, Any]) -> tuple[str, ...]:
    names = summary.get("class_names")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return tuple(names[:10_000])
    return ()
