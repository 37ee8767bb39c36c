"""The training loop: a plain Python loop with seven hooks (callbacks.py).

Batch records are throttled (every ``report_interval_s`` or ``report_every`` batches)
and losses/correct counts stay on the device between reports, so the GPU is never
synchronised per batch. Stop, pause and hyper-parameter changes come through a
TrainerControl and are honoured between batches.

Here: setting a run up (device, data feeds, objective, optimizer, schedule, seeds) and
fit() around the epochs. What is optimised and measured is the task's Objective
(core/tasks): built from the run's heads (a plan's; without them, one plain output
trained with ``config.loss``, the classification every Trainer did before tasks).
Beside it: epoch_loop.py (an epoch, validation, the epoch's end), task_setup.py,
device.py (device, precision, channels-last, OOM), trainer_state.py (the resumable
state in a checkpoint), failures.py (what a failed run reports), feed.py (batches on
the device).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionstudio.core.params import ParamError
from visionstudio.core.tasks.objective import Objective, ObjectiveError, as_outputs
from visionstudio.core.training.allocator import steady_malloc, steady_thread_heaps, with_frame_room
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.checkpoint import load_checkpoint
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.device import (
    AMP_DTYPES,
    TrainingSetupError,
    autocast,
    is_oom,
    release_memory,
    resolve_device,
    resolve_precision,
    use_channels_last,
)
from visionstudio.core.training.epoch_loop import ZERO_SUMS, end_epoch, train_epoch
from visionstudio.core.training.failures import NonFinite, failure_record
from visionstudio.core.training.feed import Normalizer, TrainData, make_feeds, unreadable_notes
from visionstudio.core.training.lr_schedule import Schedule
from visionstudio.core.training.nonfinite import NonFiniteOrigin, find_origin
from visionstudio.core.training.optimizers import OPTIMIZERS, apply_group_values
from visionstudio.core.training.param_groups import (
    TransferPlan,
    apply_freezing,
    frozen_batchnorms,
    keep_frozen_bn_eval,
    param_groups,
    set_group_lrs,
)
from visionstudio.core.training.records import EpochRecord, FailureRecord, FitResult, FitStartRecord
from visionstudio.core.training.schedules import SCHEDULERS
from visionstudio.core.training.task_setup import early_stop_metric, make_task_augmentation, setup_objective
from visionstudio.core.training.trainer_state import restore_state, save_state


class Trainer:
    def __init__(self, model: nn.Module, config: TrainingConfig | None = None, *,
                 callbacks: Sequence[Callback] = (), control: TrainerControl | None = None,
                 checkpoint_dir: str | os.PathLike[str] | None = None,
                 report_interval_s: float = 0.05, report_every: int | None = None,
                 channels_last: bool | None = None, num_workers: int | None = None,
                 notes: Sequence[str] = (), device: str | torch.device | None = None,
                 transfer: TransferPlan | None = None, heads: Sequence[Any] | None = None) -> None:
        self.model = model
        self.heads = tuple(heads) if heads else None   # HeadPlans (core/tasks/heads.py) of the plan
        self.transfer = transfer or TransferPlan()
        self.config = config or TrainingConfig()
        self.callbacks = list(callbacks)
        self.control = control or TrainerControl()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.report_interval_s = report_interval_s
        self.report_every = report_every
        self.channels_last_choice = channels_last
        self.num_workers = num_workers
        self._base_notes = list(notes)
        self.notes: list[str] = list(notes)
        self.history: list[EpochRecord] = []
        self.optimizer_params = dict(self.config.optimizer["params"])
        self.device_choice = device   # resolved already (a RunPlan's), else config.device is
        self.device = torch.device("cpu")
        self.train_model: nn.Module = model
        self.optimizer: torch.optim.Optimizer | None = None
        self.objective: Objective | None = None   # the task's (task_setup.py), set up by fit()
        self.schedule: Schedule | None = None
        self.step = 0
        self._events: list[str] = []

    # -- hooks ------------------------------------------------------------------------
    def _emit(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # -- setup ------------------------------------------------------------------------
    def _setup(self, data: TrainData) -> None:
        self._setup_device()
        self._setup_model_and_data(data)
        self._setup_optimisation()
        self._setup_seeds_and_metric()

    def _setup_device(self) -> None:
        cfg = self.config
        steady_malloc()   # allocator.py: later steps must not pay for what one step freed
        self.device = device = (torch.device(self.device_choice) if self.device_choice is not None
                                else resolve_device(cfg.device))
        precision, note = resolve_precision(cfg.mixed_precision, device)
        if note:
            self.notes.append(note)
        self.precision = precision
        # Read every loss before its step on the CPU (free there); elsewhere only the first
        # CHECKED_FIRST_STEPS (a network that overflows by itself does so at once) and then
        # in batches, so the GPU is not synchronised per step.
        self.check_every_step = device.type == "cpu"
        self.amp_dtype = AMP_DTYPES.get(precision)

    def _setup_model_and_data(self, data: TrainData) -> None:
        cfg, device = self.config, self.device
        shape = data.sample_shape or (tuple(data.train_images.shape[1:]) if data.in_memory else None)
        self.channels_last = use_channels_last(self.channels_last_choice, shape, device, self.model)
        self.model.to(device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        try:
            self.train_model, self.objective, notes = setup_objective(self.model, data, self.heads,
                                                                      cfg.loss, device)
        except ObjectiveError as exc:
            raise TrainingSetupError(str(exc)) from None
        self.notes.extend(notes)
        self.augment, notes = make_task_augmentation(data.task, cfg.augmentation, shape)
        self.notes.extend(notes)
        mean, std = data.stats()
        norm = Normalizer(mean, std, device, self.channels_last)
        self.train_feed, self.val_feed = make_feeds(data, norm, device, augmented=self.augment is not None,
                                                    num_workers=self.num_workers)
        if self.train_feed is None or self.train_feed.n == 0:
            raise TrainingSetupError("the dataset has no training images")
        self.data = data
        if self.objective.fits_targets:
            from visionstudio.core.training.task_setup import train_targets

            try:
                self.objective.fit(train_targets(data))
            except ObjectiveError as exc:
                raise TrainingSetupError(str(exc)) from None

    def loss_fn(self, out: Any, labels: torch.Tensor) -> torch.Tensor:
        """The total loss of a forward pass (the LR and batch finders' one number)."""
        return self.objective.loss(as_outputs(out), labels)[0]

    def _setup_optimisation(self) -> None:
        cfg, n, bs = self.config, self.train_feed.n, self.config.batch_size
        # a last batch of one image is dropped (batch norm cannot train on it)
        self.steps_per_epoch = max(1, len(range(0, n, bs)) - (1 if n % bs == 1 and n > 1 else 0))
        self.total_steps = self.steps_per_epoch * cfg.epochs
        spec = OPTIMIZERS.get(cfg.optimizer["key"])
        self.optimizer_spec = spec
        self.parameter_split = apply_freezing(self.model, self.transfer)
        if self.parameter_split[1]:
            self.notes.append(f"{self.parameter_split[0]:,} parameters train; {self.parameter_split[1]:,} "
                              "are frozen and keep their values.")
        try:
            groups = param_groups(self.model, self.transfer)
        except ValueError as exc:
            raise TrainingSetupError(str(exc)) from None
        self._multipliers = [g["lr_multiplier"] for g in groups]
        self.optimizer = spec.factory(groups, self.optimizer_params, fused=self.device.type == "cuda")
        self.frozen_bn = frozen_batchnorms(self.model, self.transfer)
        self.schedule = SCHEDULERS.get(cfg.scheduler["key"]).factory(
            cfg.scheduler["params"], base_lr=self.optimizer_params["lr"],
            steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

    def _setup_seeds_and_metric(self) -> None:
        cfg = self.config
        self.generator = torch.Generator().manual_seed(cfg.seed)
        torch.default_generator.manual_seed(cfg.seed)  # (torch.manual_seed also queues CUDA seeding)
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(cfg.seed)
        self.metric, self.metric_mode, notes = early_stop_metric(
            cfg.early_stopping_metric, self.data.task, has_validation=self.val_feed is not None)
        self.notes.extend(notes)

    # -- hyper-parameters while running/paused -------------------------------------------
    def _apply_pending(self, values: dict[str, Any]) -> None:
        spec = self.optimizer_spec
        by_name = {p.name: p for p in spec.params}
        new = dict(self.optimizer_params)
        for name, value in values.items():
            if name not in by_name:
                self._events.append(f"{spec.title} has no setting {name!r}; ignored")
                continue
            try:
                new[name] = by_name[name].validate(value)
            except ParamError as exc:
                self._events.append(f"{exc}; ignored")
                continue
            self._events.append(f"{by_name[name].label} set to {new[name]:g} at step {self.step}"
                                if isinstance(new[name], float) else
                                f"{by_name[name].label} set to {new[name]} at step {self.step}")
        self.optimizer_params = new
        apply_group_values(self.optimizer, spec.key, new)
        self.schedule.base_lr = float(new["lr"])
        self._set_lr(self.schedule.lr(self.step))

    def _set_lr(self, lr: float) -> None:
        set_group_lrs(self.optimizer, lr)  # each group at lr x its multiplier
        self._lr = lr

    def enter_train_mode(self) -> None:
        """``train()``, with frozen BatchNorm layers kept in eval mode when asked."""
        self.train_model.train()
        keep_frozen_bn_eval(self.frozen_bn)

    # -- checkpoints (trainer_state.py packs and restores) ---------------------------------
    def _save(self, name: str, epoch: int, batch: int, epoch_gen_state: torch.Tensor,
              sums: tuple[float, float, int]) -> str | None:
        return save_state(self, name, epoch, batch, epoch_gen_state, sums)

    def _restore(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        return restore_state(self, path)

    # -- the loop -----------------------------------------------------------------------
    def fit(self, data: Any, *, resume: str | os.PathLike[str] | None = None) -> FitResult:
        """Train; returns a FitResult (status "failed" with a FailureRecord on errors).

        Setup problems (unknown device, unusable checkpoint) raise TrainingSetupError /
        CheckpointError before any hook runs.
        """
        with steady_thread_heaps():   # allocator.py: a thread's steps keep their heaps and frames
            return with_frame_room(self._fit, TrainData.from_loaded(data), resume)

    def _fit(self, data: TrainData, resume: str | os.PathLike[str] | None) -> FitResult:
        self._reset()
        self._setup(data)
        position = self._start_position(resume)
        self._start_clocks()
        start = self._start_record(data, position)
        status, failure = "completed", None
        self._where = (position["epoch"], self.step)
        try:
            self._emit("on_fit_start", start)
            status = self._run(position)
        except NonFinite as exc:
            failure = self._failure("nan", exc.step, exc, value=exc.value, origin=self._diagnose(exc))
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failure = self._failure("oom" if is_oom(exc) else "error", self.step, exc)
        if failure is not None:
            status = "failed"
            self._report_failure(failure)
        return self._finish(status, failure)

    def _reset(self) -> None:
        self.notes = list(self._base_notes)
        self.history = []
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.since_best = 0
        self.step = 0

    def _start_position(self, resume: str | os.PathLike[str] | None) -> dict[str, Any]:
        """Where the run starts: epoch 1, or where the checkpoint ``resume`` stopped."""
        position = {"epoch": 1, "batch": 0, "epoch_gen_state": None, "sums": ZERO_SUMS}
        if resume is not None:
            position = self._restore(resume)
            for group, factor in zip(self.optimizer.param_groups, self._multipliers):
                group["lr_multiplier"] = factor  # the project's multipliers, not the checkpoint's
            if position["batch"] >= self.steps_per_epoch:
                position = {**position, "epoch": position["epoch"] + 1, "batch": 0,
                            "epoch_gen_state": None, "sums": ZERO_SUMS}
        self._set_lr(self.schedule.lr(self.step))
        return position

    def _start_clocks(self) -> None:
        self._t_start = time.perf_counter()
        self._paused_s = 0.0
        # elapsed time continues across a resume (curves over time stay continuous)
        self._elapsed_offset = self.history[-1].elapsed_s if self.history else 0.0
        self._session_steps = 0
        ckpt = self.checkpoint_dir
        self._last_ckpt = str(ckpt / "last") if ckpt is not None and (ckpt / "last").is_dir() else None
        self._best_ckpt = str(ckpt / "best") if ckpt is not None and (ckpt / "best").is_dir() else None

    def _start_record(self, data: TrainData, position: dict[str, Any]) -> FitStartRecord:
        return FitStartRecord(
            device=str(self.device), precision=self.precision, channels_last=self.channels_last,
            epochs=self.config.epochs, batch_size=self.config.batch_size,
            steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
            start_epoch=position["epoch"], start_step=self.step,
            train_samples=self.train_feed.n, val_samples=self.val_feed.n if self.val_feed else 0,
            num_classes=data.num_classes,
            parameters=sum(p.numel() for p in self.model.parameters()),
            in_memory=data.in_memory, notes=tuple(self.notes))

    def _report_failure(self, failure: FailureRecord) -> None:
        self._release_memory()
        try:
            self._emit("on_failure", failure)
        except Exception:  # noqa: BLE001 - a broken callback must not hide the failure
            pass

    def _finish(self, status: str, failure: FailureRecord | None) -> FitResult:
        self.notes.extend(unreadable_notes(self.train_feed, self.val_feed))  # files that broke mid-run
        result = FitResult(
            status=status, epochs_completed=len(self.history), steps=self.step,
            history=tuple(self.history), best_epoch=self.best_epoch,
            best_metric=self.best_value, metric=self.metric,
            last_checkpoint=self._last_ckpt, best_checkpoint=self._best_ckpt,
            elapsed_s=self._elapsed(), notes=tuple(self.notes), failure=failure)
        try:
            self._emit("on_fit_end", result)
        except Exception:
            if failure is None:
                raise
        return result

    def _run(self, position: dict[str, Any]) -> str:
        for epoch in range(position["epoch"], self.config.epochs + 1):
            self._where = (epoch, self.step)
            self._emit("on_epoch_start", epoch)
            if epoch == position["epoch"] and position["epoch_gen_state"] is not None:
                self.generator.set_state(position["epoch_gen_state"])
                start_batch, sums = position["batch"], position["sums"]
            else:
                start_batch, sums = 0, ZERO_SUMS
            outcome = train_epoch(self, epoch, start_batch, sums)
            if outcome == "stopped":
                return "stopped"
            if end_epoch(self, epoch, outcome):
                return "early_stopped"
            if self.control.stop_requested:
                return "stopped"
        return "completed"

    def _session_elapsed(self) -> float:
        """Training time of this fit() call, pauses excluded (the ETA's basis)."""
        return time.perf_counter() - self._t_start - self._paused_s

    def _elapsed(self) -> float:
        """Training time of the whole run (earlier sessions included), pauses excluded."""
        return self._session_elapsed() + self._elapsed_offset

    def _release_memory(self) -> None:
        release_memory(self.device, self.optimizer)

    def _failure(self, kind: str, step: int, exc: BaseException, value: float = math.nan,
                 origin: NonFiniteOrigin | None = None) -> FailureRecord:
        self.nonfinite_origin = origin   # read by callbacks' on_failure (layer health)
        lr = getattr(self, "_lr", self.optimizer_params.get("lr", 0.0))
        return failure_record(kind, exc, epoch=self._where[0], step=step, lr=lr,
                              batch_size=self.config.batch_size, clip_norm=self.config.clip_norm,
                              device=self.device, checkpoint=self._last_ckpt, value=value,
                              origin=origin, precision=getattr(self, "precision", "fp32"))

    def _autocast(self):
        return autocast(self)

    def _diagnose(self, exc: NonFinite) -> NonFiniteOrigin | None:
        """Which layer made the NaN (nonfinite.py), run once the loss is already non-finite.

        Caught before its step, the failing batch meets the weights that failed on it.
        Caught later (on a GPU losses are read in batches), the updates may have spread
        the NaN through every weight; then the last good checkpoint's weights are asked
        too, so a network that overflows by itself is still told from a diverged one."""
        if exc.inputs is None:
            return None
        origin = find_origin(self.train_model, exc.inputs, self._autocast)
        if (origin is not None and origin.kind == "weights" and not exc.before_step
                and self._last_ckpt is not None):
            try:
                earlier = copy.deepcopy(self.train_model)
                earlier.load_state_dict(load_checkpoint(self._last_ckpt).model_state, strict=False)
                before = find_origin(earlier, exc.inputs, self._autocast)
                del earlier
            except Exception:  # noqa: BLE001 - a diagnosis must never hide the failure
                before = None
            if before is not None and before.kind in ("layer", "input"):
                origin = before
        return origin

    def _wait_if_paused(self) -> None:
        control = self.control
        if control.has_pending():
            self._apply_pending(control.take_pending())
        if control.pause_requested and not control.stop_requested:
            t0 = time.perf_counter()
            control.wait_while_paused(self._apply_pending)
            self._paused_s += time.perf_counter() - t0
