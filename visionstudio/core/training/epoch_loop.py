"""One epoch of training, the validation pass and the end of an epoch, for a set-up Trainer.

Losses and correct counts stay on the device between reports (``_Window``) and are read
in one transfer per report, so the GPU is never synchronised per batch; only the CPU
(where reading is free) and the first CHECKED_FIRST_STEPS steps read every loss before
its update, so a NaN there is caught with the weights that failed on it intact.

The task's Objective (core/tasks) gives the loss (total and per head) and the training
score; the outputs are always a tuple of heads. Per-head losses ride in the same single
read as the losses; validation metrics come from the objective's Evaluator, read once per
pass. A task without a training score (regression …) reports its train accuracy as NaN
(None in the files). The per-head training sums of an epoch interrupted mid-way start
again at zero when it resumes (the total's sums are in the checkpoint).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from visionstudio.core.tasks.objective import as_outputs
from visionstudio.core.training.device import autocast
from visionstudio.core.training.failures import NonFinite
from visionstudio.core.training.feed import unreadable_events
from visionstudio.core.training.records import BatchRecord, EpochRecord
from visionstudio.core.training.validation import validated

CHECKED_FIRST_STEPS = 3
ZERO_SUMS = (0.0, 0.0, 0)


class _Window:
    """The steps since the last batch record (on the device) and the epoch's running sums."""

    def __init__(self, trainer: Any, sums: tuple[float, float, int]) -> None:
        self.trainer = trainer
        self.loss_sum, self.correct_sum, self.seen = float(sums[0]), float(sums[1]), int(sums[2])
        self.losses: list[torch.Tensor] = []
        self.corrects: list[torch.Tensor] = []
        self.head_losses: list[torch.Tensor] = []
        self.head_sums: list[float] = []          # the epoch's Σ head loss × images
        self.scored = False                       # the objective gives a training score
        self.sizes: list[int] = []
        self.lrs: list[float] = []
        self.inputs: torch.Tensor | None = None   # the latest batch, to diagnose a NaN with
        self.last_report = time.perf_counter()
        self.start_elapsed = trainer._elapsed()

    def add(self, loss: torch.Tensor, per_head: torch.Tensor | None, score: torch.Tensor | None,
            images: int, lr: float) -> None:
        self.losses.append(loss.detach())
        if score is not None:
            self.corrects.append(score)
            self.scored = True
        if per_head is not None:
            self.head_losses.append(per_head)
        self.sizes.append(images)
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
        n, scored, heads = len(self.losses), bool(self.corrects), len(self.head_losses)
        parts = [torch.stack(self.losses).float()]
        if scored:
            parts.append(torch.stack(self.corrects).float())
        if heads:
            parts.append(torch.stack(self.head_losses).float().flatten())
        values = torch.cat(parts).tolist()
        losses = values[:n]
        corrects = values[n:2 * n] if scored else []
        per_head = values[2 * n if scored else n:]
        first = t.step - n + 1
        for i, v in enumerate(losses):
            if not math.isfinite(v):
                raise NonFinite(v, first + i, inputs=self.inputs)
        images = sum(self.sizes)
        weighted = sum(v * s for v, s in zip(losses, self.sizes))
        self.loss_sum += weighted
        self.correct_sum += sum(corrects)
        self.seen += images
        head_pairs = self._add_heads(per_head, heads)
        t._events.extend(unreadable_events(t.train_feed, t.val_feed))
        elapsed = t._elapsed()
        per_step = t._session_elapsed() / max(t._session_steps, 1)
        record = BatchRecord(
            epoch=epoch, batch=batch, batches=t.steps_per_epoch, step=t.step,
            loss=weighted / max(images, 1),
            accuracy=sum(corrects) / max(images, 1) if scored else math.nan, lr=self.lrs[-1],
            images_per_s=images / max(elapsed - self.start_elapsed, 1e-9), elapsed_s=elapsed,
            eta_s=per_step * (t.total_steps - t.step),
            losses=tuple(losses), lrs=tuple(self.lrs), events=tuple(t._events), head_losses=head_pairs)
        t._events.clear()
        self.losses.clear(), self.corrects.clear(), self.sizes.clear(), self.lrs.clear()
        self.head_losses.clear()
        t._emit("on_batch_end", record)
        self.last_report = time.perf_counter()
        self.start_elapsed = t._elapsed()

    def _add_heads(self, per_head: list[float], steps: int) -> tuple[tuple[str, float], ...]:
        """The window's mean loss per head (and the epoch's sums), from the flat values read."""
        if not steps:
            return ()
        names = self.trainer.objective.head_names
        k = len(names)
        if not self.head_sums:
            self.head_sums = [0.0] * k
        window = [0.0] * k
        for i, size in enumerate(self.sizes[-steps:]):
            for h in range(k):
                window[h] += per_head[i * k + h] * size
        images = max(sum(self.sizes[-steps:]), 1)
        for h in range(k):
            self.head_sums[h] += window[h]
        return tuple((name, window[h] / images) for h, name in enumerate(names))

    def epoch_head_losses(self) -> tuple[tuple[str, float], ...]:
        if not self.head_sums:
            return ()
        seen = max(self.seen, 1)
        return tuple((name, v / seen) for name, v in zip(self.trainer.objective.head_names, self.head_sums))


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
    objective = trainer.objective
    with autocast(trainer):
        out = as_outputs(trainer.train_model(inputs))
        loss, per_head = objective.loss(out, labels)
    window.inputs = inputs
    _check_before_step(trainer, loss, inputs, epoch)
    _backward_and_step(trainer, loss, params)
    trainer.step += 1
    trainer._session_steps += 1
    window.add(loss, per_head, objective.batch_score(out, labels), int(labels.shape[0]), lr)


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
    accuracy = window.correct_sum / seen if window.scored else math.nan
    return (window.loss_sum / seen, accuracy, window.seen, epoch_gen_state, window.epoch_head_losses())


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
    train_loss, train_acc, seen, _epoch_gen_state, train_heads = outcome
    v = validated(trainer, epoch)
    n_val = v.samples
    if trainer.schedule.on_validation(v.loss if n_val else train_loss):
        trainer._events.append(f"learning rate reduced to {trainer.schedule.lr(trainer.step):.3g} "
                               f"after epoch {epoch} (plateau)")
    values = {"val_loss": v.loss, "val_accuracy": v.accuracy, "train_loss": train_loss,
              "train_accuracy": train_acc, "val_metric": v.primary}
    monitored = values[trainer.metric]
    better = _note_best(trainer, monitored, epoch)
    elapsed = trainer._elapsed()
    per_step = trainer._session_elapsed() / max(trainer._session_steps, 1)
    epoch_s = max(elapsed - trainer._epoch_started, 1e-9)
    record = EpochRecord(
        epoch=epoch, step=trainer.step, train_loss=train_loss, train_accuracy=train_acc,
        val_loss=v.loss if n_val else None,
        val_accuracy=v.accuracy if n_val and math.isfinite(v.accuracy) else None,
        val_top5=v.top5, lr=trainer._lr, images_per_s=seen / epoch_s, epoch_s=epoch_s,
        elapsed_s=elapsed, eta_s=per_step * (trainer.total_steps - trainer.step),
        monitored=monitored, best=better, val_metrics=v.metrics, val_head_losses=v.head_losses,
        train_head_losses=train_heads)
    trainer.history.append(record)
    next_state = trainer.generator.get_state()
    trainer._last_ckpt = trainer._save("last", epoch + 1, 0, next_state, ZERO_SUMS) or trainer._last_ckpt
    if better:
        trainer._best_ckpt = trainer._save("best", epoch + 1, 0, next_state, ZERO_SUMS) or trainer._best_ckpt
    trainer._emit("on_epoch_end", record)
    patience = trainer.config.early_stopping_patience
    return bool(patience and trainer.since_best >= patience)
