"""One way to train: ``plan_run`` checks everything once, ``execute`` trains.

The command line, the app's worker and every later tool (sweeps, the LR finder) go
through these two. ``plan_run`` is cheap and allocates nothing on a device, so the GUI
calls it on its own thread and refuses Train with the plan's problems; it reads the
settings (and overrides), analyses a copy of the graph, reads its heads for the project's
task, resolves the device and the precision, estimates the memory, checks that network,
task and dataset fit (plan_checks.py; the dataset's own fit when it can be described
without loading it), and finds the checkpoint a continued run resumes from. ``execute``
runs on whichever thread should train: it loads the dataset (checking the task's labels,
and the fit there only when the plan could not), builds the model, trains, writes
``metrics.csv`` and ``run.json`` when given a folder, and returns a RunResult. What a
user can get wrong comes back as words (PlanProblems, a RunResult's FailureRecord),
never as an exception; the run history is the caller's (the GUI keeps the only one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionstudio.core import build
from visionstudio.core.build import BuildError
from visionstudio.core.data.base import DatasetCancelled, DatasetError, LoadedDataset
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import load_dataset
from visionstudio.core.graph import analyze
from visionstudio.core.memory import (
    MemoryEstimate,
    available_memory,
    estimate_for_config,
    human_bytes,
    memory_problem,
)
from visionstudio.core.params import ConfigError
from visionstudio.core.runs.paths import RunPathError, writable_run_dir
from visionstudio.core.training import initial_weights as initial_w
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.checkpoint import CheckpointError, read_meta
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.device import TrainingSetupError, is_oom, resolve_device, resolve_precision
from visionstudio.core.training.plan_checks import Refused as _Refused
from visionstudio.core.training.plan_checks import (
    describe_without_loading,
    ends,
    fit_problem,
    heads_of,
    loaded_task_problem,
    structure_problem,
    task_problem,
)
from visionstudio.core.training.plan_checks import sentence as _sentence
from visionstudio.core.training.records import FailureRecord, FitResult
from visionstudio.core.training.run_files import MetricsCSV, run_writers, write_run_summary, writers_problem
from visionstudio.core.training.trainer import Trainer
from visionstudio.core.training.transfer_plan import transfer_plan

LAST_CHECKPOINT = Path("checkpoints") / "last"


@dataclass(frozen=True)
class PlanProblems:
    """Why a run cannot start: one sentence (or a heading with ``- `` lines) per problem."""

    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return "\n".join(self.problems)


@dataclass(frozen=True)
class RunPlan:
    """Everything ``execute`` needs, checked: plain data (the graph is a detached copy)."""

    project_name: str
    graph: Any                      # GraphModel, detached: the model is built from it in execute
    analysis: Any                   # GraphAnalysis of that copy (no errors)
    config: TrainingConfig          # overrides applied; epochs set for a continued run
    dataset: DatasetConfig
    device: str                     # resolved ("cpu", "cuda:0", ...), never "auto"
    precision: str                  # "fp32", "bf16" or "fp16"
    input_shape: tuple | None
    output_shape: tuple | None
    input_name: str | None
    output_name: str | None
    memory: MemoryEstimate
    dataset_checked: bool           # the fit was checked here; False: execute checks the loaded set
    resume: str | None = None       # checkpoint folder to continue from
    resume_step: int = 0            # optimisation steps the checkpoint has done
    run_folder: Path | None = None  # a continued run's folder (checkpoints and metrics go on there)
    notes: tuple[str, ...] = ()     # for the user before the run starts (e.g. precision fell back)
    initial: Any = None             # InitialWeights a fresh run starts from (initial_weights.py)
    task: str = "classification"    # the project's task (core/tasks TASK_KINDS)
    heads: tuple = ()               # HeadPlans (core/tasks/heads.py), in the model's output order
    plain: bool = True              # no head layers (a network from before tasks)


@dataclass(frozen=True)
class RunResult:
    """How a run ended. ``fit`` is None when it ended before training (dataset, build);
    ``failure`` says why in the user's words (the FitResult's own failure, if any)."""

    status: str                     # "completed", "stopped", "early_stopped", "failed"
    fit: FitResult | None = None
    failure: FailureRecord | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def epochs_to_train(planned: int, done: int, extra_epochs: int | None) -> int:
    """The total epochs of a continued run: ``extra_epochs`` more than the checkpoint has
    done; without it, finish the plan, or, when it is finished, train as many again."""
    if extra_epochs is not None:
        return done + max(1, int(extra_epochs))
    return planned if planned > done else done + planned


# -- plan ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
    config: TrainingConfig
    dataset: DatasetConfig
    resume: str | None = None
    resume_step: int = 0
    run_folder: Path | None = None


def _apply(config: TrainingConfig, dataset: DatasetConfig, overrides: Mapping[str, Any] | None,
           dataset_overrides: Mapping[str, Any] | None) -> tuple[TrainingConfig, DatasetConfig]:
    try:
        if overrides:
            config = config.replace(**dict(overrides))
        if dataset_overrides:
            dataset = DatasetConfig.from_dict({**dataset.to_dict(),
                                               "params": {**dataset.params, **dict(dataset_overrides)}})
    except ConfigError as exc:
        raise _Refused(f"Invalid setting {exc}") from None
    return config, dataset


def _continued(document: Any, entry: Mapping[str, Any], runs_root: Path,
               extra_epochs: int | None, overrides: Mapping[str, Any] | None) -> _Settings:
    """The settings of a run continued from its last checkpoint (the run entry's own)."""
    name = entry.get("name") or entry.get("id")
    try:   # Continue writes checkpoints and metrics there: confined to the runs folder
        folder = writable_run_dir(runs_root, dict(entry))
        meta = read_meta(folder / LAST_CHECKPOINT)["trainer"]
    except (RunPathError, CheckpointError) as exc:
        raise _Refused(f"Run {name} cannot be continued: {exc}") from None
    settings = entry.get("settings", {})
    try:
        config = TrainingConfig.from_dict(settings.get("training", document.training.to_dict()))
        dataset = DatasetConfig.from_dict(settings.get("dataset", document.dataset.to_dict()))
    except ConfigError as exc:
        raise _Refused(f"Run {name} has unusable settings: {exc}") from None
    config, dataset = _apply(config, dataset, overrides, None)
    epochs = epochs_to_train(config.epochs, len(meta.get("history", [])), extra_epochs)
    return _Settings(config.replace(epochs=epochs), dataset, str(folder / LAST_CHECKPOINT),
                     int(meta.get("step", 0)), folder)


def _run_entry(document: Any, continue_from: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(continue_from, Mapping):
        return continue_from
    for entry in document.runs:
        if entry.get("id") == continue_from:
            return entry
    raise _Refused("That run is no longer in the project.")


def _settings(document: Any, overrides, dataset_overrides, continue_from, extra_epochs,
              runs_root, resume) -> _Settings:
    if continue_from is not None:
        if runs_root is None:
            raise ValueError("plan_run: continue_from needs the runs_root its folder is in")
        entry = _run_entry(document, continue_from)
        return _continued(document, entry, Path(runs_root), extra_epochs, overrides)
    config, dataset = _apply(document.training, document.dataset, overrides, dataset_overrides)
    if resume is None:
        return _Settings(config, dataset)
    try:
        meta = read_meta(resume)["trainer"]
    except CheckpointError as exc:
        raise _Refused(_sentence(str(exc))) from None
    return _Settings(config, dataset, str(resume), int(meta.get("step", 0)))


def _analysed(graph: Any) -> Any:
    analysis = analyze(graph)
    if not analysis.ok:
        lines = "\n".join(f"- {d}" for d in analysis.errors)
        raise _Refused(f"The network has problems to fix before training:\n{lines}")
    if analysis.input_id is None or analysis.output_id is None:   # what build_model refuses
        raise _Refused(f"The network cannot be built: "
                       f"{BuildError(['the network has no single input and output'])}")
    return analysis


def _device(config: TrainingConfig, analysis: Any) -> tuple[Any, str, str | None, MemoryEstimate]:
    """(device, precision, its note, memory estimate); refused when it would not fit."""
    try:
        device = resolve_device(config.device)
    except TrainingSetupError as exc:
        raise _Refused(_sentence(str(exc))) from None
    precision, note = resolve_precision(config.mixed_precision, device)
    estimate = estimate_for_config(analysis, config, precision)
    # before the dataset: the refusal that matters most, and loading data costs time
    problem = memory_problem(estimate, available_memory(str(device)))
    if problem:
        raise _Refused(f"The network {problem}")
    return device, precision, note, estimate


def plan_run(document: Any, overrides: Mapping[str, Any] | None = None, *,
             dataset_overrides: Mapping[str, Any] | None = None,
             continue_from: str | Mapping[str, Any] | None = None,
             extra_epochs: int | None = None,
             runs_root: str | os.PathLike[str] | None = None,
             resume: str | os.PathLike[str] | None = None) -> RunPlan | PlanProblems:
    """Check a run of ``document`` (a ProjectDocument) before anything is built.

    ``overrides``: training settings to change (``{"epochs": 1}``); ``dataset_overrides``:
    dataset params to change. ``continue_from``: a run of ``document.runs`` (its id or
    its entry) to continue from its last checkpoint in ``runs_root`` with that run's own settings, for
    ``extra_epochs`` more (see epochs_to_train). ``resume``: a checkpoint folder to
    continue from with the project's settings (the command line's ``--resume``).
    Returns the RunPlan, or PlanProblems saying what to change.
    """
    try:
        settings = _settings(document, overrides, dataset_overrides, continue_from, extra_epochs,
                             runs_root, resume)
        task = getattr(document, "task", "classification")
        problem = task_problem(settings.dataset, task)
        if problem:
            raise _Refused(problem)
        graph = document.graph.copy()
        analysis = _analysed(graph)
        the_ends = ends(graph, analysis, task, heads_of(task, graph, analysis, settings.config.loss))
        problem = structure_problem(the_ends)
        if problem:
            raise _Refused(problem)
        device, precision, note, estimate = _device(settings.config, analysis)
        info = describe_without_loading(settings.dataset)
        problem = ((fit_problem(the_ends, info) if info is not None else None)
                   or writers_problem(settings.config))
        if problem:
            raise _Refused(problem)
        initial = None if settings.resume else initial_w.check_initial_weights(document, graph, analysis)
    except (_Refused, initial_w.InitialWeightsError) as exc:
        return PlanProblems((_sentence(str(exc)),))
    return RunPlan(
        project_name=document.name, graph=graph, analysis=analysis, config=settings.config,
        dataset=settings.dataset, device=str(device), precision=precision,
        input_shape=the_ends.input_shape, output_shape=the_ends.output_shape,
        input_name=the_ends.input_name, output_name=the_ends.output_name, memory=estimate,
        dataset_checked=info is not None, resume=settings.resume, resume_step=settings.resume_step,
        run_folder=settings.run_folder, notes=(note,) if note else (), initial=initial, task=task,
        heads=the_ends.heads, plain=the_ends.plain)


# -- execute --------------------------------------------------------------------------------
class _Failed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.record = FailureRecord(kind=kind, message=message, epoch=0, step=0)


def _load(plan: RunPlan, control: TrainerControl, data_dir, download: bool, progress) -> LoadedDataset:
    shape = plan.input_shape if plan.input_shape and len(plan.input_shape) == 3 else None
    try:
        loaded = load_dataset(plan.dataset, val_split=plan.config.val_split, seed=plan.config.seed,
                              data_dir=data_dir, target_shape=shape, download=download,
                              progress=progress, cancel=lambda: control.stop_requested)
    except DatasetCancelled:
        raise
    except DatasetError as exc:
        raise _Failed("dataset", str(exc)) from None
    problem = loaded_task_problem(loaded, plan.task) or (None if plan.dataset_checked
                                                         else fit_problem(plan, loaded))
    if problem:
        raise _Failed("dataset", problem)
    return loaded


def _build(plan: RunPlan) -> Any:
    try:
        model = build.build_model(plan.graph, plan.analysis, seed=plan.config.seed)
        if plan.initial is not None and plan.resume is None:   # a checkpoint wins
            initial_w.apply_initial_weights(model, plan.initial)
        return model
    except initial_w.InitialWeightsError as exc:
        raise _Failed("setup", _sentence(str(exc))) from None
    except BuildError as exc:
        raise _Failed("setup", f"The network cannot be built: {exc}") from None
    except (MemoryError, RuntimeError) as exc:
        if not (isinstance(exc, MemoryError) or is_oom(exc)):
            raise
        raise _Failed("setup", f"The network cannot be built: out of memory (estimated at about "
                      f"{human_bytes(plan.memory.total)} for batch {plan.config.batch_size}); "
                      "lower the batch size or the input size") from None


def _summary_failure(folder: Path, plan: RunPlan, loaded: LoadedDataset, fit: FitResult,
                     csv_path: Path | None, objective: Any) -> FailureRecord | None:
    about = {"project": plan.project_name, "dataset": plan.dataset.to_dict(),
             "training": plan.config.to_dict(), "class_names": list(loaded.class_names),
             "metrics_csv": str(csv_path) if csv_path else None, "task": plan.task,
             "target_names": list(getattr(loaded, "target_names", []) or []),
             # the task's fitted state (a regression's target mean/std) that predictions undo
             "objective": objective.state_dict() if objective is not None else {}}
    try:
        write_run_summary(folder, fit, about)
    except OSError as exc:
        return FailureRecord(kind="error", message=f"The run's summary could not be saved in "
                             f"{folder}: {exc.strerror or exc}", epoch=fit.epochs_completed,
                             step=fit.steps)
    return None


def load_and_build(plan: RunPlan, control: TrainerControl, *,
                   data_dir: str | os.PathLike[str] | None = None, download: bool = True,
                   progress: Callable[[str, float], None] | None = None,
                   ) -> tuple[LoadedDataset, Any] | RunResult:
    """The loaded dataset and a freshly built model for ``plan``, as a run starts (execute
    and the LR finder); a RunResult ("stopped" or "failed") when that cannot be done."""
    try:
        return _load(plan, control, data_dir, download, progress), _build(plan)
    except DatasetCancelled:
        return RunResult("stopped")
    except _Failed as exc:
        return RunResult("failed", failure=exc.record)


def execute(plan: RunPlan, callbacks: Sequence[Callback] = (), control: TrainerControl | None = None,
            *, run_dir: str | os.PathLike[str] | None = None,
            metrics_csv: str | os.PathLike[str] | bool | None = None,
            data_dir: str | os.PathLike[str] | None = None, download: bool = True,
            progress: Callable[[str, float], None] | None = None,
            report_interval_s: float = 0.05) -> RunResult:
    """Train what ``plan`` describes, on the calling thread.

    Checkpoints go to ``run_dir/checkpoints/{last,best}`` (``run_dir`` defaults to the
    plan's run_folder), metrics to ``metrics_csv`` (default ``run_dir/metrics.csv``; False
    when the caller's own RunHistory writes it, as the app's does: one writer per file), the
    summary to ``run_dir/run.json``; without a folder nothing is written. ``callbacks``
    get the trainer's hooks (``on_fit_end``'s trainer holds the trained model);
    ``control`` stops, pauses and steers it (a stop while loading cancels the loading).
    """
    control = control or TrainerControl()
    folder = Path(run_dir) if run_dir is not None else plan.run_folder
    prepared = load_and_build(plan, control, data_dir=data_dir, download=download, progress=progress)
    if isinstance(prepared, RunResult):
        return prepared
    loaded, model = prepared
    own_csv = metrics_csv is not False
    csv_path = (Path(metrics_csv) if metrics_csv not in (None, False)
                else (folder / "metrics.csv" if folder else None))
    extra = [MetricsCSV(csv_path)] if csv_path is not None and own_csv else []
    trainer = Trainer(model, plan.config, callbacks=[*callbacks, *extra, *run_writers(plan.config, folder)],
                      control=control, checkpoint_dir=folder / "checkpoints" if folder else None,
                      report_interval_s=report_interval_s,
                      notes=[*initial_w.run_notes(plan.initial), *(loaded.report or [])],
                      device=plan.device,
                      transfer=transfer_plan(plan.graph, frozen_bn_eval=plan.config.frozen_bn_eval),
                      heads=plan.heads)
    try:
        fit = trainer.fit(loaded, resume=plan.resume)
    except (TrainingSetupError, CheckpointError) as exc:
        return RunResult("failed", failure=_Failed("setup", _sentence(str(exc))).record)
    failure = fit.failure
    if folder is not None:
        failure = failure or _summary_failure(folder, plan, loaded, fit, csv_path, trainer.objective)
    return RunResult("failed" if failure is not None else fit.status, fit, failure)
