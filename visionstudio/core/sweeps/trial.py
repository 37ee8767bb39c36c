"""One seed of one trial, trained as an ordinary run: plan_run, execute, a run entry.

The run is what the app's Train makes: a folder ``<runs root>/<run id>/`` with its
checkpoints, ``history.npz``/``metrics.json``/``metrics.csv`` (a RunHistory fed with the
trainer's records, as the app's run controller does) and ``run.json``; and an entry
(``runs.make_entry``) whose settings record the training and dataset settings, the
trial's values and its seed, so the run can be reproduced and compared. The entry is
handed to the caller, who adds it to the project (``AddRun``): the core keeps no
second run list. Values the planner refuses (a network that no longer fits) give no run,
as Train gives none: the trial fails with the planner's words.

The trial's value is the objective metric of the run's last epoch. Pruning reports
that metric after each epoch of the first seed (``trial.report``); when the pruner says
so, the run is stopped after the epoch (its checkpoint kept) and the trial is pruned.
A user's stop reaches the run through a linked TrainerControl.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionstudio.core.runs import RunHistory, make_entry, new_run_id, summarize
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.plan import PlanProblems, execute, plan_run


class LinkedControl(TrainerControl):
    """A run's own control (a pruned trial stops only its run) that also stops when the
    sweep's control does."""

    def __init__(self, parent: TrainerControl) -> None:
        super().__init__()
        self.parent = parent

    @property
    def stop_requested(self) -> bool:
        return self._stop or self.parent.stop_requested


@dataclass(frozen=True)
class SeedRun:
    """How one seed's run ended."""

    run_id: str | None          # None (and no entry) when the plan refused the values
    entry: dict[str, Any] | None
    status: str                 # the run's: completed, stopped, early_stopped, failed
    value: float | None         # the objective at the last epoch
    pruned: bool
    training_s: float           # the trainer's own time (fit.elapsed_s)
    message: str                # why it failed, or ""


class _Recorder(Callback):
    """Feeds the run's history, forwards records, reports to the pruner."""

    def __init__(self, run_id: str, history: RunHistory, metric: str, control: LinkedControl,
                 on_record: Callable[[str, Any], None] | None, prune: Any) -> None:
        self.run_id, self.history, self.metric, self.control = run_id, history, metric, control
        self.on_record, self.prune = on_record, prune
        self.value: float | None = None
        self.pruned = False
        self.missing: str | None = None

    def _forward(self, record: Any) -> None:
        self.history.add(record)
        if self.on_record is not None:
            self.on_record(self.run_id, record)

    def on_fit_start(self, trainer, record):
        self._forward(record)

    def on_batch_end(self, trainer, record):
        self._forward(record)

    def on_validation_end(self, trainer, record):
        if self.on_record is not None:
            self.on_record(self.run_id, record)

    def on_fit_end(self, trainer, result):
        self._forward(result)

    def on_epoch_end(self, trainer, record):
        self._forward(record)
        values = record.metric_values()
        if self.metric not in values:
            self.missing = (f"the run records no {self.metric}; it records "
                            f"{', '.join(sorted(values)) or 'nothing'}")
            self.control.request_stop()
            return
        self.value = values[self.metric]
        if self.prune is not None and self.prune(self.value, record.epoch):
            self.pruned = True
            self.control.request_stop()


def run_name(sweep: str, number: int, seed: int | None = None) -> str:
    """The run list's name: "sweep lr · trial 3" (and "· seed 1" when seeds repeat)."""
    base = f"sweep {sweep} · trial {number}"
    return base if seed is None else f"{base} · seed {seed}"


def run_seed(document: Any, overrides: Mapping[str, Any], *, runs_root: Path, name: str,
             metric: str, sweep_info: Mapping[str, Any], control: TrainerControl,
             on_record: Callable[[str, Any], None] | None = None,
             prune: Callable[[float, int], bool] | None = None) -> SeedRun:
    """Plan and train ``document`` (a trial's copy) with ``overrides`` as one run."""
    plan = plan_run(document, overrides)
    if isinstance(plan, PlanProblems):   # as Train: a run that cannot start is no run
        return SeedRun(None, None, "failed", None, False, 0.0, plan.message)
    run_id = new_run_id()
    entry = make_entry(run_id, name, {"training": plan.config.to_dict(), "dataset": plan.dataset.to_dict(),
                                      "sweep": dict(sweep_info)})
    folder = Path(runs_root) / run_id
    history = RunHistory()
    run_control = LinkedControl(control)
    recorder = _Recorder(run_id, history, metric, run_control, on_record, prune)
    started = time.perf_counter()
    result = execute(plan, [recorder], run_control, run_dir=folder, metrics_csv=False)
    status = result.status
    history.status = status
    message = result.failure.message if result.failure is not None else (recorder.missing or "")
    try:
        history.save(folder)
    except OSError as exc:
        message = message or f"The run's metrics could not be saved in {folder}: {exc}"
    entry["status"] = "failed" if recorder.missing else status
    entry["summary"] = summarize(history, result.fit, result.failure)
    if message:
        entry["summary"]["failure"] = message
    training_s = result.fit.elapsed_s if result.fit is not None else time.perf_counter() - started
    value = recorder.value if status != "failed" and not recorder.missing else None
    return SeedRun(run_id, entry, entry["status"], value, recorder.pruned, training_s, message)
