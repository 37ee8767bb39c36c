"""A sweep is an Optuna study; each trial trains one run per seed through plan/execute.

The study lives in an Optuna storage: by default SQLite in the project's runs folder
(``study_storage_url``), or any URL Optuna takes (``postgresql://…`` for many machines).
Every process that runs a SweepRunner on the same storage and name pulls trials from
the one study: that is the whole scale-out (``visionstudio sweep-worker``). Before each
trial the runner counts the study's finished and running trials against the budget,
so several workers stop together; a worker that died is noticed by Optuna's heartbeat
and its trial failed, so it does not hold the budget.

A trial's value is the mean of its seeds' values (``repeats`` seeds: ``seed``,
``seed + 1``, …, the same for every trial, so trials are compared on the same seeds).
The study keeps, per trial, the seeds, the value per seed, the run ids, the resolved
training and dataset settings and the seconds (user attributes), which is what
``load_study_rows`` reads back. A stopped sweep leaves its interrupted trial as
"stopped" (not counted); ``run`` on the same storage and name continues the study
(``load_if_exists``), provided its search is the same (``SweepConfig.search_key``).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy

from visionstudio.core.commands import CommandError
from visionstudio.core.runs.paths import RunPathError
from visionstudio.core.sweeps.config import SweepConfig
from visionstudio.core.sweeps.parameters import apply_parameters, check_parameters
from visionstudio.core.sweeps.trial import run_name, run_seed
from visionstudio.core.training.control import TrainerControl

STUDY_FILE = "sweeps.db"
CONFIG_ATTR = "visionstudio.sweep"
TRIAL_ATTR = "visionstudio.trial"   # one attribute, one commit: seeds, values, runs, settings, seconds
HEARTBEAT_S = 10
_STATES = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
           "WAITING": "waiting"}


class SweepError(ValueError):
    """A sweep that cannot run as asked (a study of that name with another search)."""


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str                      # "running" | "complete" | "pruned" | "failed" | "stopped"
    params: dict[str, Any]
    value: float | None
    values_per_seed: tuple[float, ...]
    run_ids: tuple[str, ...]
    seconds: float
    message: str
    seeds: tuple[int, ...] = ()
    training_s: float = 0.0         # the runs' own training time (the rest is the sweep's)

    @property
    def spread(self) -> float | None:
        """The standard deviation over the seeds (None for fewer than two)."""
        v = self.values_per_seed
        return statistics.stdev(v) if len(v) > 1 else None


@dataclass(frozen=True)
class SweepSummary:
    rows: tuple[TrialRow, ...]
    best: TrialRow | None
    stopped: bool


def study_storage_url(runs_folder: str | os.PathLike[str]) -> str:
    """``sqlite:///<runs folder>/sweeps.db``: the study beside the project's runs. The
    file must be a plain file inside that folder (not a link leading elsewhere)."""
    root = Path(runs_folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / STUDY_FILE
    real_root = os.path.realpath(root)
    if path.is_symlink() or os.path.dirname(os.path.realpath(path)) != real_root:
        raise RunPathError(f"{path} leads to {os.path.realpath(path)}, outside the project's runs "
                           "folder; VisionStudio keeps its sweeps only inside it")
    return f"sqlite:///{path.resolve()}"


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url`` with a heartbeat (so a dead worker's trial is failed);
    SQLite waits for a busy file rather than failing at once."""
    kwargs: dict[str, Any] = {"heartbeat_interval": HEARTBEAT_S, "grace_period": 3 * HEARTBEAT_S}
    sqlite = url.startswith("sqlite:")
    if sqlite:
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings():   # the heartbeat is marked experimental since Optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(url, **kwargs)
    if sqlite:   # a commit per trial attribute: without WAL each one waits for the disk
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
        storage.engine.dispose()
    return storage


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sampler(config: SweepConfig, seed: int) -> optuna.samplers.BaseSampler:
    if config.sampler == "grid":
        return optuna.samplers.GridSampler(config.grid_space(), seed=seed)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    planned = config.planned_trials() or 30
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, planned // 3)))


def _pruner(config: SweepConfig) -> optuna.pruners.BasePruner:
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if config.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _row(trial: optuna.trial.FrozenTrial) -> TrialRow:
    attrs = trial.user_attrs.get(TRIAL_ATTR, {})
    state = _STATES.get(trial.state.name, trial.state.name.lower())
    if state == "failed" and attrs.get("stopped"):
        state = "stopped"
    seconds = attrs.get("seconds")
    if seconds is None and trial.datetime_start is not None:
        end = trial.datetime_complete or trial.datetime_start
        seconds = (end - trial.datetime_start).total_seconds()
    return TrialRow(number=trial.number, state=state, params=dict(trial.params),
                    value=trial.value if state == "complete" else None,
                    values_per_seed=tuple(attrs.get("values_per_seed", ())),
                    run_ids=tuple(attrs.get("run_ids", ())), seconds=float(seconds or 0.0),
                    message=str(attrs.get("message", "")), seeds=tuple(attrs.get("seeds", ())),
                    training_s=float(attrs.get("training_s", 0.0)))


def _counted(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial uses up the budget: finished, or running now; not one a stop
    interrupted, nor one of a worker that died (failed by the heartbeat, no message)."""
    name, attrs = trial.state.name, trial.user_attrs.get(TRIAL_ATTR, {})
    if name in ("COMPLETE", "PRUNED", "RUNNING"):
        return True
    return name == "FAIL" and "message" in attrs and not (attrs.get("stopped") or attrs.get("surplus"))


def _surplus(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(TRIAL_ATTR, {}).get("surplus"))


def _rows(study: optuna.Study) -> tuple[TrialRow, ...]:
    """The study's trials as rows, without those no worker ran (asked once the budget was spent)."""
    return tuple(_row(t) for t in study.get_trials(deepcopy=False) if not _surplus(t))


def load_study_rows(storage: str, name: str) -> list[TrialRow]:
    """Every trial of the study ``name`` (empty when there is none yet)."""
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage))
    except KeyError:
        return []
    return list(_rows(study))


def stored_config(storage: str, name: str) -> dict[str, Any] | None:
    """The search a study was made with (``SweepConfig.search_key``), None without one."""
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage))
    except KeyError:
        return None
    return study.user_attrs.get(CONFIG_ATTR)


def parameter_importance(storage: str, name: str) -> dict[str, float]:
    """How much each parameter explains of the objective, summing to 1: Optuna's fANOVA
    when scikit-learn is installed, else Optuna's PED-ANOVA (no extra package). Empty
    with fewer than two complete trials."""
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    evaluator = (optuna.importance.FanovaImportanceEvaluator(seed=0)
                 if importlib.util.find_spec("sklearn") else optuna.importance.PedAnovaImportanceEvaluator())
    try:
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (ValueError, RuntimeError, ZeroDivisionError):   # one value per parameter, all equal values
        return {}


class _TrialFailed(Exception):
    """A trial that could not give a value; the message is kept on the trial."""


def _suggest(trial: optuna.Trial, config: SweepConfig) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for p in config.parameters:
        if p.kind == "choice":
            values[p.path] = trial.suggest_categorical(p.path, list(p.choices))
        elif p.kind == "int":
            values[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), step=int(p.step or 1),
                                               log=p.log)
        else:
            values[p.path] = trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)
    return values


class SweepRunner:
    """Runs (or continues) the sweep ``config`` of ``document`` on this thread.

    ``on_trial(row)`` hears of each trial as it starts ("running") and ends;
    ``on_record(run_id, record)`` gets every trainer record of every run (live curves);
    ``on_run(entry)`` gets each run's entry when the run ends, for the caller to add to
    the project (AddRun). ``overrides`` are training settings every trial uses (the
    worker's ``device``). ``sampler_seed``: the sampler's seed (default the sweep's
    seed; workers sharing a study pass their own so they do not draw the same values).
    """

    def __init__(self, document: Any, config: SweepConfig, *, runs_root: str | os.PathLike[str],
                 storage: str | None = None, on_trial: Callable[[TrialRow], None] | None = None,
                 on_record: Callable[[str, Any], None] | None = None,
                 on_run: Callable[[dict[str, Any]], None] | None = None,
                 overrides: dict[str, Any] | None = None, sampler_seed: int | None = None) -> None:
        self.document, self.config = document, config
        self.runs_root = Path(runs_root)
        self.storage = storage or study_storage_url(self.runs_root)
        self.on_trial, self.on_record, self.on_run = on_trial, on_record, on_run
        self.overrides = dict(overrides or {})
        self.sampler_seed = config.seed if sampler_seed is None else sampler_seed
        self.control = TrainerControl()
        self._planned: int | None = None

    def open_study(self) -> optuna.Study:
        config = self.config
        study = optuna.create_study(
            storage=open_storage(self.storage), study_name=config.name, load_if_exists=True,
            sampler=_sampler(config, self.sampler_seed), pruner=_pruner(config),
            direction=config.direction)
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is None:
            study.set_user_attr(CONFIG_ATTR, config.search_key())
        elif stored != config.search_key():
            raise SweepError(f"The study {config.name!r} in {self.storage} was made with other "
                             "settings; give the sweep another name to start a new one.")
        return study

    def run(self, control: TrainerControl | None = None) -> SweepSummary:
        """Run trials until the budget (trials, time) is spent or ``control`` asks to stop.
        Raises ConfigError when a parameter does not fit the project, SweepError when
        the study cannot be continued with this config."""
        check_parameters(self.document, self.config)
        self.control = control or TrainerControl()
        study = self.open_study()
        planned = self.config.planned_trials()
        if self.config.sampler == "grid":
            planned = min(planned or self.config.grid_size(), self.config.grid_size())
        started = time.monotonic()
        while not self.control.stop_requested:
            if self.config.timeout_s is not None and time.monotonic() - started >= self.config.timeout_s:
                break
            if planned is not None and sum(map(_counted, study.get_trials(deepcopy=False))) >= planned:
                break
            self._planned = planned
            study.optimize(self._objective, n_trials=1, catch=(_TrialFailed,),
                           callbacks=[self._after_trial])
        rows = _rows(study)
        complete = [r for r in rows if r.state == "complete"]
        pick = min if self.config.direction == "minimize" else max
        best = pick(complete, key=lambda r: r.value) if complete else None
        return SweepSummary(rows, best, self.control.stop_requested)

    def _after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.on_trial is not None and not _surplus(trial):
            self.on_trial(_row(trial))

    def _over_budget(self, trial: optuna.Trial) -> bool:
        """Whether the trials numbered before this one already use up the budget: two
        workers that checked at the same moment asked for one trial too many."""
        if self._planned is None:
            return False
        before = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number]
        return sum(map(_counted, before)) >= self._planned

    def _objective(self, trial: optuna.Trial) -> float:
        config = self.config
        seeds = [config.seed + i for i in range(config.repeats)]
        record: dict[str, Any] = {"seeds": seeds, "run_ids": [], "values_per_seed": [], "training_s": 0.0}
        started = time.perf_counter()

        def keep(**changes: Any) -> None:   # one attribute, one commit
            record.update(changes, seconds=time.perf_counter() - started)
            trial.set_user_attr(TRIAL_ATTR, record)

        if self._over_budget(trial):
            keep(surplus=True, message="Not run: the budget was spent by other workers.")
            raise _TrialFailed("surplus")
        values = _suggest(trial, config)
        if self.on_trial is not None:
            self.on_trial(TrialRow(trial.number, "running", dict(values), None, (), (), 0.0, "",
                                   tuple(seeds)))
        try:
            document = apply_parameters(self.document, values)
        except CommandError as exc:
            keep(message=f"These values do not fit the project: {exc}")
            raise _TrialFailed(str(exc)) from None
        for i, seed in enumerate(seeds):
            result = self._run_seed(trial, document, values, seed, prune=i == 0)
            if result.entry is not None:
                record["run_ids"].append(result.run_id)
                record["training_s"] += result.training_s
                settings = result.entry["settings"]
                record.setdefault("settings", {k: settings.get(k) for k in ("training", "dataset")})
                if self.on_run is not None:
                    self.on_run(result.entry)
            if self.control.stop_requested:
                keep(stopped=True, message="Stopped before the end; not counted.")
                raise _TrialFailed("stopped")
            if result.pruned:
                keep(message=f"Pruned after epoch {result.entry['summary'].get('epochs')}.")
                raise optuna.TrialPruned()
            if result.value is None:
                keep(message=result.message or "The run gave no value.")
                raise _TrialFailed(result.message)
            record["values_per_seed"].append(result.value)
        keep()
        return statistics.fmean(record["values_per_seed"])

    def _run_seed(self, trial: optuna.Trial, document: Any, values: dict[str, Any], seed: int,
                  prune: bool) -> Any:
        config = self.config
        overrides = {**self.overrides, "seed": seed,
                     **({"epochs": config.epochs} if config.epochs is not None else {})}
        info = {"sweep": config.name, "trial": trial.number, "params": dict(values), "seed": seed}
        return run_seed(document, overrides, runs_root=self.runs_root,
                        name=run_name(config.name, trial.number, seed if config.repeats > 1 else None),
                        metric=config.objective_metric, sweep_info=info, control=self.control,
                        on_record=self.on_record, prune=self._pruning(trial) if prune else None)

    def _pruning(self, trial: optuna.Trial) -> Callable[[float, int], bool] | None:
        if self.config.pruner == "none":
            return None

        def prune(value: float, epoch: int) -> bool:
            trial.report(value, epoch)
            return trial.should_prune()

        return prune
