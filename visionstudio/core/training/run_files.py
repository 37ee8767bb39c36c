"""What a run leaves beside its checkpoints: ``metrics.csv`` (rewritten whole every
epoch, so a crash never leaves half a row) and ``run.json`` (the settings and the
outcome, written once at the end)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visionstudio.core.project.atomic import atomic_write_bytes
from visionstudio.core.training import tensorboard_log
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.records import EpochRecord, FitResult, FitStartRecord, metrics_csv_text

RUN_SUMMARY = "run.json"


class MetricsCSV(Callback):
    """Writes one row per epoch (rewritten atomically each epoch, so it is always whole)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _write(self, history: list[EpochRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = metrics_csv_text(r.as_dict() for r in history)
        atomic_write_bytes(self.path, text.encode("utf-8"))

    def on_epoch_end(self, trainer: Any, record: EpochRecord) -> None:
        self._write(trainer.history)

    def on_fit_start(self, trainer: Any, record: FitStartRecord) -> None:
        if trainer.history:  # resumed: the file shows the earlier epochs too
            self._write(trainer.history)


def write_run_summary(folder: Path, result: FitResult, about: Mapping[str, Any]) -> Path:
    """``folder/run.json``: ``about`` (project, dataset, settings) and the FitResult."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_SUMMARY
    # the epochs as their own as_dict gives them (metric pairs as objects, no NaN)
    summary = {**about, **result.as_dict(), "history": [r.as_dict() for r in result.history]}
    atomic_write_bytes(path, json.dumps(summary, indent=1, default=str).encode("utf-8"))
    return path


def writers_problem(config: Any) -> str | None:
    """Why the optional files a run asks for (TensorBoard) cannot be written here."""
    if getattr(config, "tensorboard", False) and not tensorboard_log.available():
        return tensorboard_log.MISSING
    return None


def run_writers(config: Any, folder: Path | None) -> list[Callback]:
    """The callbacks writing the optional files ``config`` asks for into ``folder``."""
    wanted = getattr(config, "tensorboard", False) and folder is not None
    return [tensorboard_log.TensorBoardLog(folder)] if wanted else []
