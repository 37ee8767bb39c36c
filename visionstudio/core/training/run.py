"""run_training: the whole job from a project to checkpoints, shared by the CLI and
the GUI worker. Everything that can be checked before training (the graph, the
settings, the dataset and whether network and data fit together) is checked first
and raised as a TrainingSetupError with the user's words; what goes wrong while
training comes back as a FitResult with status "failed"."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from visionstudio.core.params import ConfigError
from visionstudio.core.training.checkpoint import CheckpointError
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import EpochRecord, FitResult, FitStartRecord
from visionstudio.core.training.trainer import Callback, Trainer, TrainingSetupError

EPOCH_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                 "val_top5", "lr", "images_per_s", "epoch_s", "elapsed_s", "best")


class MetricsCSV(Callback):
    """Writes one row per epoch (rewritten atomically each epoch, so it is always whole)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _write(self, history: Sequence[EpochRecord]) -> None:
        from visionstudio.core.project import atomic_write_bytes

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(EPOCH_COLUMNS)
        for r in history:
            row = r.as_dict()
            writer.writerow(["" if row[c] is None else (f"{row[c]:.6g}" if isinstance(row[c], float)
                                                        else row[c]) for c in EPOCH_COLUMNS])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, buf.getvalue().encode("utf-8"))

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self._write(trainer.history)

    def on_fit_start(self, trainer: Trainer, record: FitStartRecord) -> None:
        if trainer.history:  # resumed: the file shows the earlier epochs too
            self._write(trainer.history)


def _document(project: Any):
    from visionstudio.core.project import ProjectDocument, document_from_dict, load_project

    if isinstance(project, ProjectDocument):
        return project
    if isinstance(project, Mapping):
        return document_from_dict(dict(project))
    return load_project(project)


def run_training(project: Any, *, out_dir: str | os.PathLike[str] | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 dataset_overrides: Mapping[str, Any] | None = None,
                 callbacks: Sequence[Callback] = (), control: TrainerControl | None = None,
                 resume: str | os.PathLike[str] | None = None,
                 metrics_csv: str | os.PathLike[str] | None = None,
                 data_dir: str | os.PathLike[str] | None = None, download: bool = True,
                 progress: Callable[[str, float], None] | None = None,
                 report_interval_s: float = 0.05) -> FitResult:
    """Train the project's network on its dataset.

    ``project``: a ProjectDocument, its ``to_dict()`` snapshot, or a path to a project file.
    ``overrides``: training settings to change (``{"epochs": 1}``); ``dataset_overrides``:
    dataset params to change (``{"samples": 500}``). Checkpoints go to
    ``out_dir/checkpoints/{last,best}``, metrics to ``metrics_csv`` (default
    ``out_dir/metrics.csv``) and a summary to ``out_dir/run.json``.
    Raises TrainingSetupError (bad project, settings, dataset or fit, or a network that
    needs more memory than the device has) before training. The model is built last,
    once all of that has been checked: a crafted project cannot make it allocate first.
    """
    from visionstudio.core.build import BuildError, build_model
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.graph import analyze
    from visionstudio.core.memory import available_memory, estimate_for_config, human_bytes, memory_problem
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.training.device import is_oom, resolve_device, resolve_precision

    try:
        doc = _document(project)
    except (ProjectFormatError, OSError) as exc:
        raise TrainingSetupError(f"cannot open the project: {exc}") from None
    try:
        config = doc.training.replace(**dict(overrides or {})) if overrides else doc.training
        dataset = doc.dataset
        if dataset_overrides:
            dataset = DatasetConfig.from_dict({"key": dataset.key,
                                               "params": {**dataset.params, **dict(dataset_overrides)}})
    except ConfigError as exc:
        raise TrainingSetupError(f"invalid setting {exc}") from None
    graph = doc.graph.copy()
    analysis = analyze(graph)
    if not analysis.ok:
        lines = "\n".join(f"- {d}" for d in analysis.errors)
        raise TrainingSetupError(f"the network has problems to fix before training:\n{lines}")
    if analysis.input_id is None or analysis.output_id is None:
        raise TrainingSetupError(str(BuildError(["the network has no single input and output"])))
    device = resolve_device(config.device)
    precision, _note = resolve_precision(config.mixed_precision, device)
    estimate = estimate_for_config(analysis, config, precision)
    problem = memory_problem(estimate, available_memory(str(device)))
    if problem:
        raise TrainingSetupError(f"the network {problem}")
    input_shape, output_shape = analysis.input_shape, analysis.output_shape

    from visionstudio.core.data.base import DatasetError, check_compatibility, load_dataset

    control = control or TrainerControl()
    try:
        loaded = load_dataset(
            dataset, val_split=config.val_split, seed=config.seed, data_dir=data_dir,
            target_shape=tuple(input_shape) if input_shape and len(input_shape) == 3 else None,
            download=download, progress=progress, cancel=lambda: control.stop_requested)
    except DatasetError as exc:
        raise TrainingSetupError(str(exc)) from None
    out_node = graph.nodes[analysis.output_id].name if analysis.output_id else None
    in_node = graph.nodes[analysis.input_id].name if analysis.input_id else None
    problems = check_compatibility(loaded, input_shape, output_shape,
                                   output_name=out_node, input_name=in_node)
    if problems:
        raise TrainingSetupError("the network does not fit the dataset:\n"
                                 + "\n".join(f"- {p}" for p in problems))
    try:
        model = build_model(graph, analysis, seed=config.seed)
    except BuildError as exc:
        raise TrainingSetupError(str(exc)) from None
    except (MemoryError, RuntimeError) as exc:
        if not (isinstance(exc, MemoryError) or is_oom(exc)):
            raise
        raise TrainingSetupError(f"the network could not be built: out of memory (estimated at "
                                 f"about {human_bytes(estimate.total)} for batch {config.batch_size}); "
                                 "lower the batch size or the input size") from None
    out = Path(out_dir) if out_dir is not None else None
    cbs = list(callbacks)
    csv_path = Path(metrics_csv) if metrics_csv else (out / "metrics.csv" if out else None)
    if csv_path is not None:
        cbs.append(MetricsCSV(csv_path))
    trainer = Trainer(model, config, callbacks=cbs, control=control,
                      checkpoint_dir=out / "checkpoints" if out else None,
                      report_interval_s=report_interval_s,
                      notes=list(getattr(loaded, "report", []) or []))
    try:
        result = trainer.fit(loaded, resume=resume)
    except CheckpointError as exc:
        raise TrainingSetupError(str(exc)) from None
    if out is not None:
        from visionstudio.core.project import atomic_write_bytes

        summary = {"project": doc.name, "dataset": dataset.to_dict(), "training": config.to_dict(),
                   "class_names": list(getattr(loaded, "class_names", [])),
                   "metrics_csv": str(csv_path) if csv_path else None, **result.as_dict()}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "run.json", json.dumps(summary, indent=1, default=str).encode("utf-8"))
    return result
