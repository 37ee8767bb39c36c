"""run_training: plan_run and execute in one call, for callers that want an exception.

The command line and scripts pass a project (a document, its snapshot or a file) and
get a FitResult back; every problem that stops the run before training (the project,
the settings, the network, the memory, the dataset, the checkpoint, the build) is
raised as a TrainingSetupError with the user's words, and what goes wrong while
training comes back as a FitResult with status "failed". The app calls plan_run and
execute itself (plan on the GUI thread, execute on the worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from visionstudio.core.project import (
    ProjectDocument,
    ProjectFormatError,
    document_from_dict,
    load_project,
)
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.device import TrainingSetupError
from visionstudio.core.training.plan import PlanProblems, execute, plan_run
from visionstudio.core.training.records import FitResult


def _document(project: Any) -> ProjectDocument:
    if isinstance(project, ProjectDocument):
        return project
    if isinstance(project, Mapping):
        return document_from_dict(dict(project))
    return load_project(project)


def _cli_words(message: str) -> str:
    """'visionstudio train: the network …': the command line continues a sentence."""
    return message[:1].lower() + message[1:]


def run_training(project: Any, *, out_dir: str | os.PathLike[str] | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 dataset_overrides: Mapping[str, Any] | None = None,
                 callbacks: Sequence[Callback] = (), control: TrainerControl | None = None,
                 resume: str | os.PathLike[str] | None = None,
                 metrics_csv: str | os.PathLike[str] | None = None,
                 data_dir: str | os.PathLike[str] | None = None, download: bool = True,
                 progress: Callable[[str, float], None] | None = None,
                 report_interval_s: float = 0.05) -> FitResult:
    """Train the project's network on its dataset (see plan_run and execute).

    ``overrides``: training settings to change (``{"epochs": 1}``); ``dataset_overrides``:
    dataset params to change (``{"samples": 500}``); ``resume``: a checkpoint folder.
    Checkpoints go to ``out_dir/checkpoints/{last,best}``, metrics to ``metrics_csv``
    (default ``out_dir/metrics.csv``) and a summary to ``out_dir/run.json``. The model
    is built only after every check has passed: a crafted project cannot make it
    allocate first. A stop through ``control`` while the dataset loads raises too.
    """
    try:
        doc = _document(project)
    except (ProjectFormatError, OSError) as exc:
        raise TrainingSetupError(f"cannot open the project: {exc}") from None
    plan = plan_run(doc, overrides, dataset_overrides=dataset_overrides, resume=resume)
    if isinstance(plan, PlanProblems):
        raise TrainingSetupError(_cli_words(plan.message))
    result = execute(plan, callbacks, control, run_dir=out_dir, metrics_csv=metrics_csv,
                     data_dir=data_dir, download=download, progress=progress,
                     report_interval_s=report_interval_s)
    if result.fit is None:
        message = result.failure.message if result.failure else "Loading the dataset was cancelled."
        raise TrainingSetupError(_cli_words(message))
    if result.failure is not None and result.failure is not result.fit.failure:
        raise TrainingSetupError(_cli_words(result.failure.message))   # run.json not written
    return result.fit
