"""One epoch of training, the validation pass and the end of an epoch, for a set-up Trainer.

Losses and correct counts stay on the device between reports (``_Window``) and are read
in one transfer per report, so the GPU is never synchronised per batch; only the CPU
(where reading is free) and the first CHECKED_FIRST_STEPS steps read every loss before
its update, so a NaN there is caught with the weights that failed on it intact.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Any

import torch

from visionstudio.core.training.failures import NonFinite
from visionstudio.core.training.feed import unreadable_events
from visionstudio.core.training.records import BatchRecord, EpochRecord, ValidationRecord

CHECKED_FIRST_STEPS = 3
ZERO_SUMS = (0.0, 0.0, 0)


def autocast(trainer: Any):
    return (torch.autocast(trainer.device.type, dtype=trainer.amp_dtype)
            if trainer.amp_dtype is not None else nullcontext())


class _Window:
    """The steps since the last batch record (on the device) and the epoch's running sums."""

    def __init__(self, trainer: Any, sums: tuple[float, float, int]) -> None:
        self.trainer = trainer
        self.loss_sum, self.correct_sum, self.seen = float(sums[0]), float(sums[1]), int(sums[2])
        self.losses: list[torch.Tensor] = []
        self.corrects: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.lrs: list[float] = []
        self.inputs: torch.Tensor | None = None   # the latest batch, to diagnose a NaN with
        self.last_report = time.perf_counter()
        self.start_elapsed = trainer._elapsed()

    def add(self, loss: torch.Tensor, out: torch.Tensor, labels: torch.Tensor, lr: float) -> None:
        if out.dim() > 2:
            out = out.reshape(out.shape[0], -1)
        self.losses.append(loss.detach())
        self.corrects.append((out.detach().argmax(1) == labels).sum())
        self.sizes.append(int(labels.shape[0]))
        self.lrs.append(lr)

    def due(self, batch: int, batches: int) -> bool:
        every = self.trainer.report_every
        if batch == batches:
            return True
        if every is not None:
            return len(self.losses) >= every
        return time.perf_counter() - self.last_report >= self.trainer.report_interval_s

    def sums(self) -> tuple[float, float, int]:
        return (self.loss_sum, self.correct_sum, self.seen)

    def report(self, epoch: int, batch: int) -> None:
        """Read the window's values (one transfer), check them, send a BatchRecord."""
        t = self.trainer
        n = len(self.losses)
        values = torch.cat([torch.stack(self.losses).float(), torch.stack(self.corrects).float()]).tolist()
        losses, corrects = values[:n], values[n:]
        first = t.step - n + 1
        for i, v in enumerate(losses):
            if not math.isfinite(v):
                raise NonFinite(v, first + i, inputs=self.inputs)
        images = sum(self.sizes)
        weighted = sum(v * s for v, s in zip(losses, self.sizes))
        self.loss_sum += weighted
        self.correct_sum += sum(corrects)
        self.seen += images
        t._events.extend(unreadable_events(t.train_feed, t.val_feed))
        elapsed = t._elapsed()
        per_step = t._session_elapsed() / max(t._session_steps, 1)
        record = BatchRecord(
            epoch=epoch, batch=batch, batches=t.steps_per_epoch, step=t.step,
            loss=weighted / max(images, 1), accuracy=sum(corrects) / max(images, 1), lr=self.lrs[-1],
            images_per_s=images / max(elapsed - self.start_elapsed, 1e-9), elapsed_s=elapsed,
            eta_s=per_step * (t.total_steps - t.step),
            losses=tuple(losses), lrs=tuple(self.lrs), events=tuple(t._events))
        t._events.clear()
        self.losses.clear(), self.corrects.clear(), self.sizes.clear(), self.lrs.clear()
        t._emit("on_batch_end", record)
        self.last_report = time.perf_counter()
        self.start_elapsed = t._elapsed()


def _check_before_step(trainer: Any, loss: torch.Tensor, inputs: torch.Tensor, epoch: int) -> None:
    if not (trainer.check_every_step or trainer._session_steps < CHECKED_FIRST_STEPS):
        return
    value = loss.detach().float().item()
    if not math.isfinite(value):
        # Caught before backward and step: the weights that failed on this batch are intact
        # for the diagnosis. The failed step is counted, as it always was.
        trainer.step += 1
        trainer._where = (epoch, trainer.step)
        raise NonFinite(value, trainer.step, inputs=inputs, before_step=True)


def _backward_and_step(trainer: Any, loss: torch.Tensor, params: list[torch.Tensor]) -> None:
    opt, scaler, clip = trainer.optimizer, trainer.scaler, trainer.config.clip_norm
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


def _train_step(trainer: Any, window: _Window, inputs: torch.Tensor, labels: torch.Tensor,
                epoch: int, params: list[torch.Tensor]) -> None:
    lr = trainer.schedule.lr(trainer.step)
    if lr != trainer._lr:
        trainer._set_lr(lr)
    with autocast(trainer):
        out = trainer.train_model(inputs)
        loss = trainer.loss_fn(out, labels)
    window.inputs = inputs
    _check_before_step(trainer, loss, inputs, epoch)
    _backward_and_step(trainer, loss, params)
    trainer.step += 1
    trainer._session_steps += 1
    window.add(loss, out, labels, lr)


def train_epoch(trainer: Any, epoch: int, start_batch: int, sums: tuple[float, float, int]) -> Any:
    """Train ``epoch`` from ``start_batch``; "stopped" (a checkpoint saved) or
    (train loss, train accuracy, images seen, the shuffle state the epoch began with)."""
    epoch_gen_state = trainer.generator.get_state()
    trainer._epoch_started = trainer._elapsed()
    order = torch.randperm(trainer.train_feed.n, generator=trainer.generator)
    trainer.enter_train_mode()
    params = [p for p in trainer.train_model.parameters() if p.requires_grad]
    window, batch, batches = _Window(trainer, sums), start_batch, trainer.steps_per_epoch
    feed = iter(trainer.train_feed.batches(order, trainer.config.batch_size, start_batch, trainer.augment))
    while batch < batches:
        # Control first, then fetch: a stopped run has drawn no randomness (augmentation)
        # for a batch it did not train, so resuming from its checkpoint is exact.
        trainer._wait_if_paused()
        if trainer.control.stop_requested:
            if window.losses:
                window.report(epoch, batch)
            trainer._last_ckpt = (trainer._save("last", epoch, batch, epoch_gen_state, window.sums())
                                  or trainer._last_ckpt)
            return "stopped"
        try:
            inputs, labels = next(feed)
        except StopIteration:
            break
        _train_step(trainer, window, inputs, labels, epoch, params)
        batch += 1
        trainer._where = (epoch, trainer.step)
        if window.due(batch, batches):
            window.report(epoch, batch)
    if window.losses:
        window.report(epoch, batch)
    seen = max(window.seen, 1)
    return (window.loss_sum / seen, window.correct_sum / seen, window.seen, epoch_gen_state)


@torch.no_grad()
def validate(trainer: Any) -> tuple[float, float, float | None, int]:
    """(loss, accuracy, top-5 accuracy or None, samples) on the validation set."""
    if trainer.val_feed is None:
        return math.nan, math.nan, None, 0
    model, device = trainer.train_model, trainer.device
    was_training = model.training
    model.eval()
    k5 = trainer.data.num_classes > 5
    zero = torch.zeros((), device=device, dtype=torch.float64)
    loss_sum, correct, top5, n = zero.clone(), zero.clone(), zero.clone(), 0
    for xb, yb in trainer.val_feed.batches(None, max(trainer.config.batch_size * 2, 256)):
        with autocast(trainer):
            out = model(xb)
            loss = trainer.loss_fn(out, yb)
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


def _validated(trainer: Any, epoch: int) -> tuple[float, float, float | None, int]:
    t0 = time.perf_counter()
    val_loss, val_acc, val_top5, n_val = validate(trainer)
    if n_val:
        if not math.isfinite(val_loss):
            raise NonFinite(val_loss, trainer.step)
        trainer._emit("on_validation_end", ValidationRecord(
            epoch=epoch, step=trainer.step, loss=val_loss, accuracy=val_acc, top5=val_top5,
            samples=n_val, seconds=time.perf_counter() - t0))
    return val_loss, val_acc, val_top5, n_val


def _note_best(trainer: Any, monitored: float, epoch: int) -> bool:
    best = trainer.best_value
    better = best is None or (monitored < best if trainer.metric_mode == "min" else monitored > best)
    if better:
        trainer.best_value, trainer.best_epoch, trainer.since_best = monitored, epoch, 0
    else:
        trainer.since_best += 1
    return better


def end_epoch(trainer: Any, epoch: int, outcome: tuple) -> bool:
    """Validate, record, checkpoint; True when early stopping ends the run."""
    train_loss, train_acc, seen, _epoch_gen_state = outcome
    val_loss, val_acc, val_top5, n_val = _validated(trainer, epoch)
    if trainer.schedule.on_validation(val_loss if n_val else train_loss):
        trainer._events.append(f"learning rate reduced to {trainer.schedule.lr(trainer.step):.3g} "
                               f"after epoch {epoch} (plateau)")
    values = {"val_loss": val_loss, "val_accuracy": val_acc, "train_loss": train_loss,
              "train_accuracy": train_acc}
    monitored = values[trainer.metric]
    better = _note_best(trainer, monitored, epoch)
    elapsed = trainer._elapsed()
    per_step = trainer._session_elapsed() / max(trainer._session_steps, 1)
    epoch_s = max(elapsed - trainer._epoch_started, 1e-9)
    record = EpochRecord(
        epoch=epoch, step=trainer.step, train_loss=train_loss, train_accuracy=train_acc,
        val_loss=val_loss if n_val else None, val_accuracy=val_acc if n_val else None,
        val_top5=val_top5, lr=trainer._lr, images_per_s=seen / epoch_s, epoch_s=epoch_s,
        elapsed_s=elapsed, eta_s=per_step * (trainer.total_steps - trainer.step),
        monitored=monitored, best=better)
    trainer.history.append(record)
    next_state = trainer.generator.get_state()
    trainer._last_ckpt = trainer._save("last", epoch + 1, 0, next_state, ZERO_SUMS) or trainer._last_ckpt
    if better:
        trainer._best_ckpt = trainer._save("best", epoch + 1, 0, next_state, ZERO_SUMS) or trainer._best_ckpt
    trainer._emit("on_epoch_end", record)
    patience = trainer.config.early_stopping_patience
    return bool(patience and trainer.since_best >= patience)
