"""The training loop: a plain Python loop with seven hooks (Lightning's shape).

    on_fit_start(trainer, FitStartRecord)      on_validation_end(trainer, ValidationRecord)
    on_epoch_start(trainer, epoch)             on_epoch_end(trainer, EpochRecord)
    on_batch_end(trainer, BatchRecord)         on_fit_end(trainer, FitResult)
    on_failure(trainer, FailureRecord)         (then on_fit_end with status "failed")

Batch records are throttled (every ``report_interval_s`` or ``report_every`` batches)
and losses/correct counts stay on the device between reports, so the GPU is never
synchronised per batch. Stop, pause and hyper-parameter changes come through a
TrainerControl and are honoured between batches.

Beside the loop: device.py (device, precision, channels-last, OOM), trainer_state.py
(the resumable state in a checkpoint), failures.py (what a failed run reports), feed.py
(batches on the device). Names used from here before the split are re-exported.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionstudio.core.params import ParamError
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.device import (
    AMP_DTYPES,
    OutOfMemory,
    TrainingSetupError,
    is_oom,
    release_memory,
    resolve_device,
    resolve_precision,
    suggest_batch_size,
    use_channels_last,
)
from visionstudio.core.training.failures import NonFinite, failure_record
from visionstudio.core.training.feed import (
    Normalizer,
    TrainData,
    make_feeds,
    unreadable_events,
    unreadable_notes,
)
from visionstudio.core.training.losses import TrainingLoss
from visionstudio.core.training.lr_schedule import Schedule
from visionstudio.core.training.model_prep import training_view
from visionstudio.core.training.nonfinite import NonFiniteOrigin, find_origin
from visionstudio.core.training.optimizers import OPTIMIZERS, apply_group_values
from visionstudio.core.training.records import (
    BatchRecord,
    EpochRecord,
    FailureRecord,
    FitResult,
    FitStartRecord,
    ValidationRecord,
)
from visionstudio.core.training.schedules import SCHEDULERS
from visionstudio.core.training.trainer_state import CHECKPOINT_FORMAT, restore_state, save_state

CHECKED_FIRST_STEPS = 3

__all__ = ["CHECKPOINT_FORMAT", "Callback", "OutOfMemory", "Trainer", "TrainingSetupError",
           "resolve_device", "suggest_batch_size"]


class Callback:
    """Override any of the hooks; they run on the training thread."""

    def on_fit_start(self, trainer: Trainer, record: FitStartRecord) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer: Trainer, record: BatchRecord) -> None: ...
    def on_validation_end(self, trainer: Trainer, record: ValidationRecord) -> None: ...
    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None: ...
    def on_fit_end(self, trainer: Trainer, result: FitResult) -> None: ...
    def on_failure(self, trainer: Trainer, failure: FailureRecord) -> None: ...


class Trainer:
    def __init__(self, model: nn.Module, config: TrainingConfig | None = None, *,
                 callbacks: Sequence[Callback] = (), control: TrainerControl | None = None,
                 checkpoint_dir: str | os.PathLike[str] | None = None,
                 report_interval_s: float = 0.05, report_every: int | None = None,
                 channels_last: bool | None = None, num_workers: int | None = None,
                 notes: Sequence[str] = (), device: str | torch.device | None = None) -> None:
        self.model = model
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
        self.schedule: Schedule | None = None
        self.step = 0
        self._events: list[str] = []

    # -- hooks ------------------------------------------------------------------------
    def _emit(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # -- setup ------------------------------------------------------------------------
    def _setup(self, data: TrainData) -> None:
        cfg = self.config
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
        shape = data.sample_shape or (tuple(data.train_images.shape[1:]) if data.in_memory else None)
        self.channels_last = use_channels_last(self.channels_last_choice, shape, device, self.model)
        self.model.to(device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.train_model, log_softmax, notes = training_view(self.model, cfg.loss["key"])
        self.notes.extend(notes)
        try:
            self.loss_fn = TrainingLoss(cfg.loss["key"], cfg.loss["params"], data.num_classes,
                                        device, log_softmax=log_softmax)
        except ValueError as exc:
            raise TrainingSetupError(f"loss: {exc}") from None
        self.augment = None
        if cfg.augmentation != "none" and shape is not None:
            try:
                from visionstudio.core.data.augment import make_augmentation
            except ImportError:
                self.notes.append(f"Augmentation '{cfg.augmentation}' is not available; training without it.")
            else:
                self.augment = make_augmentation(cfg.augmentation, tuple(shape))
        mean, std = data.stats()
        norm = Normalizer(mean, std, device, self.channels_last)
        self.train_feed, self.val_feed = make_feeds(data, norm, device, augmented=self.augment is not None,
                                                    num_workers=self.num_workers)
        if self.train_feed is None or self.train_feed.n == 0:
            raise TrainingSetupError("the dataset has no training images")
        self.data = data
        bs = cfg.batch_size
        self.steps_per_epoch = max(1, len(range(0, self.train_feed.n, bs))
                                   - (1 if self.train_feed.n % bs == 1 and self.train_feed.n > 1 else 0))
        self.total_steps = self.steps_per_epoch * cfg.epochs
        spec = OPTIMIZERS.get(cfg.optimizer["key"])
        self.optimizer_spec = spec
        self.optimizer = spec.factory(self.model.parameters(), self.optimizer_params,
                                      fused=device.type == "cuda")
        self.schedule = SCHEDULERS.get(cfg.scheduler["key"]).factory(
            cfg.scheduler["params"], base_lr=self.optimizer_params["lr"],
            steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
        self.generator = torch.Generator().manual_seed(cfg.seed)
        torch.default_generator.manual_seed(cfg.seed)  # (torch.manual_seed also queues CUDA seeding)
        if device.type == "cuda":
            torch.cuda.manual_seed_all(cfg.seed)
        metric = cfg.early_stopping_metric
        if metric.startswith("val_") and self.val_feed is None:
            fallback = metric.replace("val_", "train_")
            self.notes.append(f"There is no validation set, so {metric} is replaced by {fallback} "
                              "for early stopping and the best checkpoint.")
            metric = fallback
        self.metric = metric
        self.metric_mode = "max" if metric.endswith("accuracy") else "min"

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
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self._lr = lr

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
        data = TrainData.from_loaded(data)
        self.notes = list(self._base_notes)
        self.history = []
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.since_best = 0
        self.step = 0
        self._setup(data)
        position = {"epoch": 1, "batch": 0, "epoch_gen_state": None, "sums": (0.0, 0.0, 0)}
        if resume is not None:
            position = self._restore(resume)
            if position["batch"] >= self.steps_per_epoch:
                position = {**position, "epoch": position["epoch"] + 1, "batch": 0,
                            "epoch_gen_state": None, "sums": (0.0, 0.0, 0)}
        self._set_lr(self.schedule.lr(self.step))
        self._t_start = time.perf_counter()
        self._paused_s = 0.0
        # elapsed time continues across a resume (curves over time stay continuous)
        self._elapsed_offset = self.history[-1].elapsed_s if self.history else 0.0
        self._session_steps = 0
        self._last_ckpt: str | None = None
        if self.checkpoint_dir is not None and (self.checkpoint_dir / "last").is_dir():
            self._last_ckpt = str(self.checkpoint_dir / "last")
        self._best_ckpt = (str(self.checkpoint_dir / "best")
                           if self.checkpoint_dir is not None and (self.checkpoint_dir / "best").is_dir()
                           else None)
        start = FitStartRecord(
            device=str(self.device), precision=self.precision, channels_last=self.channels_last,
            epochs=self.config.epochs, batch_size=self.config.batch_size,
            steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
            start_epoch=position["epoch"], start_step=self.step,
            train_samples=self.train_feed.n, val_samples=self.val_feed.n if self.val_feed else 0,
            num_classes=data.num_classes,
            parameters=sum(p.numel() for p in self.model.parameters()),
            in_memory=data.in_memory, notes=tuple(self.notes))
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
            self._release_memory()
            status = "failed"
            try:
                self._emit("on_failure", failure)
            except Exception:  # noqa: BLE001 - a broken callback must not hide the failure
                pass
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
        lr = getattr(self, "_lr", self.optimizer_params.get("lr", 0.0))
        return failure_record(kind, exc, epoch=self._where[0], step=step, lr=lr,
                              batch_size=self.config.batch_size, clip_norm=self.config.clip_norm,
                              device=self.device, checkpoint=self._last_ckpt, value=value,
                              origin=origin, precision=getattr(self, "precision", "fp32"))

    def _autocast(self):
        return (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
                else nullcontext())

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
                from visionstudio.core.training.checkpoint import load_checkpoint

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

    def _run(self, position: dict[str, Any]) -> str:
        cfg = self.config
        for epoch in range(position["epoch"], cfg.epochs + 1):
            self._where = (epoch, self.step)
            self._emit("on_epoch_start", epoch)
            if epoch == position["epoch"] and position["epoch_gen_state"] is not None:
                self.generator.set_state(position["epoch_gen_state"])
                start_batch, sums = position["batch"], position["sums"]
            else:
                start_batch, sums = 0, (0.0, 0.0, 0)
            outcome = self._train_epoch(epoch, start_batch, sums)
            if outcome == "stopped":
                return "stopped"
            if self._end_epoch(epoch, outcome):
                return "early_stopped"
            if self.control.stop_requested:
                return "stopped"
        return "completed"

    def _train_epoch(self, epoch: int, start_batch: int, sums: tuple[float, float, int]) -> Any:
        cfg, device = self.config, self.device
        model, loss_fn, opt, schedule = self.train_model, self.loss_fn, self.optimizer, self.schedule
        epoch_gen_state = self.generator.get_state()
        self._epoch_started = self._elapsed()
        order = torch.randperm(self.train_feed.n, generator=self.generator)
        model.train()
        amp = (torch.autocast(device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
               else nullcontext())
        scaler, clip, augment = self.scaler, cfg.clip_norm, self.augment
        params = [p for p in model.parameters() if p.requires_grad]
        check_each_step = self.check_every_step   # .item() is free on the CPU
        interval, every = self.report_interval_s, self.report_every
        batches = self.steps_per_epoch
        loss_sum, correct_sum, seen = float(sums[0]), float(sums[1]), int(sums[2])
        pend_loss: list[torch.Tensor] = []
        pend_correct: list[torch.Tensor] = []
        pend_sizes: list[int] = []
        pend_lrs: list[float] = []
        last_report = time.perf_counter()
        window_start_elapsed = self._elapsed()
        control = self.control
        batch = start_batch

        def report() -> None:
            nonlocal loss_sum, correct_sum, seen, last_report, window_start_elapsed
            n = len(pend_loss)
            values = torch.cat([torch.stack(pend_loss).float(),
                                torch.stack(pend_correct).float()]).tolist()
            losses, corrects = values[:n], values[n:]
            first = self.step - n + 1
            for i, v in enumerate(losses):
                if not math.isfinite(v):
                    raise NonFinite(v, first + i, inputs=xb)
            images = sum(pend_sizes)
            loss_sum += sum(v * s for v, s in zip(losses, pend_sizes))
            correct_sum += sum(corrects)
            seen += images
            self._events.extend(unreadable_events(self.train_feed, self.val_feed))
            elapsed = self._elapsed()
            window = max(elapsed - window_start_elapsed, 1e-9)
            per_step = self._session_elapsed() / max(self._session_steps, 1)
            record = BatchRecord(
                epoch=epoch, batch=batch, batches=batches, step=self.step,
                loss=sum(v * s for v, s in zip(losses, pend_sizes)) / max(images, 1),
                accuracy=sum(corrects) / max(images, 1), lr=pend_lrs[-1],
                images_per_s=images / window, elapsed_s=elapsed,
                eta_s=per_step * (self.total_steps - self.step),
                losses=tuple(losses), lrs=tuple(pend_lrs), events=tuple(self._events))
            self._events.clear()
            pend_loss.clear(), pend_correct.clear(), pend_sizes.clear(), pend_lrs.clear()
            self._emit("on_batch_end", record)
            last_report = time.perf_counter()
            window_start_elapsed = self._elapsed()

        batch_iter = iter(self.train_feed.batches(order, cfg.batch_size, start_batch, augment))
        while batch < batches:
            # Control first, then fetch: a stopped run has drawn no randomness (augmentation)
            # for a batch it did not train, so resuming from its checkpoint is exact.
            self._wait_if_paused()
            if control.stop_requested:
                if pend_loss:
                    report()
                self._last_ckpt = self._save("last", epoch, batch, epoch_gen_state,
                                             (loss_sum, correct_sum, seen)) or self._last_ckpt
                return "stopped"
            try:
                xb, yb = next(batch_iter)
            except StopIteration:
                break
            lr = schedule.lr(self.step)
            if lr != self._lr:
                self._set_lr(lr)
            with amp:
                out = model(xb)
                loss = loss_fn(out, yb)
            if check_each_step or self._session_steps < CHECKED_FIRST_STEPS:
                value = loss.detach().float().item()
                if not math.isfinite(value):
                    # Caught before backward and step: the weights that failed on this batch are
                    # intact for the diagnosis. The failed step is counted, as it always was.
                    self.step += 1
                    self._where = (epoch, self.step)
                    raise NonFinite(value, self.step, inputs=xb, before_step=True)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, clip)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                opt.step()
            self.step += 1
            self._session_steps += 1
            batch += 1
            self._where = (epoch, self.step)
            detached = loss.detach()
            if out.dim() > 2:
                out = out.reshape(out.shape[0], -1)
            pend_loss.append(detached)
            pend_correct.append((out.detach().argmax(1) == yb).sum())
            pend_sizes.append(int(yb.shape[0]))
            pend_lrs.append(lr)
            del out, loss
            if (batch == batches or (every is not None and len(pend_loss) >= every)
                    or (every is None and time.perf_counter() - last_report >= interval)):
                report()
        if pend_loss:
            report()
        return (loss_sum / max(seen, 1), correct_sum / max(seen, 1), seen, epoch_gen_state)

    @torch.no_grad()
    def validate(self) -> tuple[float, float, float | None, int]:
        """(loss, accuracy, top-5 accuracy or None, samples) on the validation set."""
        if self.val_feed is None:
            return math.nan, math.nan, None, 0
        model, device = self.train_model, self.device
        was_training = model.training
        model.eval()
        amp = (torch.autocast(device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
               else nullcontext())
        k5 = self.data.num_classes > 5
        zero = torch.zeros((), device=device, dtype=torch.float64)
        loss_sum, correct, top5, n = zero.clone(), zero.clone(), zero.clone(), 0
        for xb, yb in self.val_feed.batches(None, max(self.config.batch_size * 2, 256)):
            with amp:
                out = model(xb)
                loss = self.loss_fn(out, yb)
            out = out.reshape(out.shape[0], -1)
            loss_sum += loss.double() * yb.shape[0]
            correct += (out.argmax(1) == yb).sum()
            if k5:
                top5 += (out.topk(5, dim=1).indices == yb[:, None]).any(1).sum()
            n += int(yb.shape[0])
        model.train(was_training)
        values = torch.stack([loss_sum, correct, top5]).tolist()
        n = max(n, 1)
        return values[0] / n, values[1] / n, (values[2] / n if k5 else None), n

    def _end_epoch(self, epoch: int, outcome: tuple) -> bool:
        """Validate, record, checkpoint; True when early stopping ends the run."""
        train_loss, train_acc, seen, epoch_gen_state = outcome
        t0 = time.perf_counter()
        val_loss, val_acc, val_top5, n_val = self.validate()
        if n_val:
            if not math.isfinite(val_loss):
                raise NonFinite(val_loss, self.step)
            self._emit("on_validation_end", ValidationRecord(
                epoch=epoch, step=self.step, loss=val_loss, accuracy=val_acc, top5=val_top5,
                samples=n_val, seconds=time.perf_counter() - t0))
        monitored_loss = val_loss if n_val else train_loss
        if self.schedule.on_validation(monitored_loss):
            self._events.append(f"learning rate reduced to {self.schedule.lr(self.step):.3g} "
                                f"after epoch {epoch} (plateau)")
        values = {"val_loss": val_loss, "val_accuracy": val_acc, "train_loss": train_loss,
                  "train_accuracy": train_acc}
        monitored = values[self.metric]
        better = (self.best_value is None
                  or (monitored < self.best_value if self.metric_mode == "min" else monitored > self.best_value))
        if better:
            self.best_value, self.best_epoch, self.since_best = monitored, epoch, 0
        else:
            self.since_best += 1
        elapsed = self._elapsed()
        per_step = self._session_elapsed() / max(self._session_steps, 1)
        epoch_s = max(elapsed - self._epoch_started, 1e-9)
        record = EpochRecord(
            epoch=epoch, step=self.step, train_loss=train_loss, train_accuracy=train_acc,
            val_loss=val_loss if n_val else None, val_accuracy=val_acc if n_val else None,
            val_top5=val_top5, lr=self._lr, images_per_s=seen / epoch_s, epoch_s=epoch_s,
            elapsed_s=elapsed, eta_s=per_step * (self.total_steps - self.step),
            monitored=monitored, best=better)
        self.history.append(record)
        next_state = self.generator.get_state()
        self._last_ckpt = self._save("last", epoch + 1, 0, next_state, (0.0, 0.0, 0)) or self._last_ckpt
        if better:
            self._best_ckpt = self._save("best", epoch + 1, 0, next_state, (0.0, 0.0, 0)) or self._best_ckpt
        self._emit("on_epoch_end", record)
        patience = self.config.early_stopping_patience
        return bool(patience and self.since_best >= patience)
