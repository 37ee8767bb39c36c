"""The learning-rate finder (Smith's range test): train a throw-away copy for a few
steps while the learning rate grows geometrically, and read a good one off the curve.

It goes through the single training path: a RunPlan from ``plan_run`` (every check:
network, dataset fit, device, memory), the dataset loaded and the model built as
``execute`` does, and a Trainer set up as for a real run (device, feeds, loss, the
optimizer with its parameter groups and frozen layers). Only the loop differs: the
learning rate of step i is ``start * (end / start) ** (i / (steps - 1))``, set on every
group (times its multiplier), and the loss is read after each step.

Nothing of the next real run changes: the model is a fresh build from the plan's
detached graph, the optimizer is new, the batches come from a generator of its own and
the process-wide random state is restored afterwards (``torch.random.fork_rng``), so a
Train after a sweep gives the same numbers as one without it.

The suggestions (docs/training.md, "Learning-rate finder"):

* steepest: where the smoothed loss falls fastest against log10(lr) (the minimum of its
  numerical gradient), the first tenth and the last ``SKIP_END`` points left out;
* valley (fastai's): the longest run of falling loss (a longest decreasing subsequence of
  the smoothed curve, same points left out), ~2/3 of the way down it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import FailureRecord

DEFAULT_START, DEFAULT_END, DEFAULT_STEPS = 1e-7, 10.0, 100
BETA = 0.98               # the loss's exponential moving average
DIVERGE_FACTOR = 4.0      # stop once the smoothed loss is this many times its best
SKIP_END = 5              # last points left out of the suggestions (they rise steeply)
MIN_POINTS = 8            # fewer kept points than this: no suggestion

Progress = Callable[[int, int, float, float], None]   # (step, steps, lr, smoothed loss)


@dataclass(frozen=True)
class LRFindResult:
    """A sweep's curve and what it suggests, as plain data.

    ``stopped_reason``: "completed" (all steps), "diverged" (the smoothed loss passed
    DIVERGE_FACTOR times its best), "non-finite" (a loss was NaN or infinite),
    "cancelled" (the control asked to stop) or "failed" (``failure`` says why)."""

    lrs: tuple[float, ...] = ()
    losses: tuple[float, ...] = ()
    smoothed: tuple[float, ...] = ()
    steepest: float | None = None
    valley: float | None = None
    stopped_reason: str = "completed"
    failure: FailureRecord | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {"format": "visionstudio.lr_find", "version": 1, "ok": self.ok,
                "stopped_reason": self.stopped_reason,
                "suggestions": {"steepest": self.steepest, "valley": self.valley},
                "lrs": list(self.lrs), "losses": list(self.losses), "smoothed": list(self.smoothed),
                "notes": list(self.notes),
                "failure": ({"kind": self.failure.kind, "message": self.failure.message}
                            if self.failure else None)}


# -- the curve ------------------------------------------------------------------------------
def sweep_lrs(start: float, end: float, steps: int) -> list[float]:
    """The geometric schedule from ``start`` to ``end`` in ``steps`` values."""
    if not (0 < start < end) or not math.isfinite(end):
        raise ValueError(f"the sweep needs 0 < start < end (got {start:g} and {end:g})")
    if steps < 2:
        raise ValueError(f"the sweep needs at least 2 steps (got {steps})")
    ratio = end / start
    return [start * ratio ** (i / (steps - 1)) for i in range(steps)]


class Smoother:
    """Bias-corrected exponential moving average of the loss and the divergence test."""

    def __init__(self, beta: float = BETA, diverge_factor: float = DIVERGE_FACTOR) -> None:
        self.beta, self.diverge_factor = beta, diverge_factor
        self.avg, self.count, self.best = 0.0, 0, math.inf

    def add(self, loss: float) -> float:
        self.count += 1
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smoothed = self.avg / (1 - self.beta ** self.count)
        self.best = min(self.best, smoothed)
        return smoothed

    def diverged(self, smoothed: float) -> bool:
        return self.best > 0 and smoothed > self.diverge_factor * self.best


def _kept(n: int) -> slice:
    return slice(n // 10, max(n // 10, n - SKIP_END))


def steepest_lr(lrs: Sequence[float], smoothed: Sequence[float]) -> float | None:
    """The lr where the smoothed loss falls fastest per decade, before its lowest point
    (None: too few points): once a run has blown up, its loss falling back from the spike
    is no descent to train at."""
    import numpy as np

    part = _kept(len(lrs))
    x, y = np.log10(np.asarray(lrs[part], dtype=float)), np.asarray(smoothed[part], dtype=float)
    if len(y):
        lowest = int(np.argmin(y)) + 1
        x, y = x[:lowest], y[:lowest]
    if len(x) < MIN_POINTS:
        return None
    slope = np.gradient(y, x)
    falling = slope.min() < -1e-9 * max(1.0, float(np.abs(y).max()))   # not rounding noise
    return float(10 ** x[int(np.argmin(slope))]) if falling else None


def valley_lr(lrs: Sequence[float], smoothed: Sequence[float]) -> float | None:
    """fastai's valley: the longest decreasing stretch of the curve, 2/3 of the way down."""
    part = _kept(len(lrs))
    x, y = list(lrs[part]), list(smoothed[part])
    n = len(y)
    if n < MIN_POINTS:
        return None
    run = [1] * n       # run[i]: the longest decreasing subsequence ending at i
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if y[i] < y[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[i] > run[end]:
            end = i
            start = end - run[end]
    if end == 0:
        return None
    third = (end - start) / 3
    return float(x[min(n - 1, max(0, start + int(third) + int(third / 2)))])


# -- the sweep ------------------------------------------------------------------------------
def _step(trainer: Any, loss: Any, params: list) -> None:
    """Backward and one optimizer step, with the run's clipping and gradient scaler."""
    import torch

    opt, scaler, clip = trainer.optimizer, trainer.scaler, trainer.config.clip_norm
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, clip)
        scaler.step(opt)
        scaler.update()
        return
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def _batches(trainer: Any, generator: Any):
    """Batches without end: a fresh shuffle (from ``generator``) each pass."""
    import torch

    bs = trainer.config.batch_size
    while True:
        order = torch.randperm(trainer.train_feed.n, generator=generator)
        for inputs, labels in trainer.train_feed.batches(order, bs, 0, trainer.augment):
            # a run drops a last batch of one (batch norm cannot train on it); batch size 1 keeps them
            if int(labels.shape[0]) > 1 or bs == 1 or trainer.train_feed.n == 1:
                yield inputs, labels


def _sweep(trainer: Any, lrs: list[float], control: TrainerControl, progress: Progress | None,
           seed: int) -> tuple[list[float], list[float], str]:
    import torch

    from visionstudio.core.training.device import autocast
    from visionstudio.core.training.param_groups import set_group_lrs

    generator = torch.Generator().manual_seed(seed)
    trainer.enter_train_mode()
    params = [p for p in trainer.train_model.parameters() if p.requires_grad]
    smoother, losses, smoothed = Smoother(), [], []
    feed = _batches(trainer, generator)
    for i, lr in enumerate(lrs):
        if control.stop_requested:
            return losses, smoothed, "cancelled"
        inputs, labels = next(feed)
        set_group_lrs(trainer.optimizer, lr)
        with autocast(trainer):
            loss = trainer.loss_fn(trainer.train_model(inputs), labels)
        value = float(loss.detach().float().item())
        if not math.isfinite(value):
            return losses, smoothed, "non-finite"
        losses.append(value)
        smoothed.append(smoother.add(value))
        if progress is not None:
            progress(i + 1, len(lrs), lr, smoothed[-1])
        if smoother.diverged(smoothed[-1]):
            return losses, smoothed, "diverged"
        _step(trainer, loss, params)
    return losses, smoothed, "completed"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _failed(kind: str, message: str, notes: Sequence[str] = ()) -> LRFindResult:
    return LRFindResult(stopped_reason="failed", notes=tuple(notes),
                        failure=FailureRecord(kind=kind, message=message, epoch=0, step=0))


def find_lr(plan: Any, *, start_lr: float = DEFAULT_START, end_lr: float = DEFAULT_END,
            steps: int = DEFAULT_STEPS, control: TrainerControl | None = None,
            progress: Progress | None = None, data_dir: Any = None, download: bool = True,
            seed: int | None = None) -> LRFindResult:
    """Run the range test for ``plan`` (a RunPlan) on the calling thread: its dataset is
    loaded and its model built as ``execute`` does, then ``range_test`` sweeps.

    ``control.request_stop()`` ends it between steps ("cancelled", the curve so far);
    ``progress(step, steps, lr, smoothed_loss)`` is called after each step. What a user can
    get wrong (dataset, build, out of memory) comes back as ``failure``."""
    import torch

    from visionstudio.core.training.plan import RunResult, load_and_build

    lrs = sweep_lrs(start_lr, end_lr, steps)   # a bad range is the caller's error: before loading
    control = control or TrainerControl()
    device = torch.device(plan.device)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        prepared = load_and_build(plan, control, data_dir=data_dir, download=download)
    if isinstance(prepared, RunResult):
        return (_failed(prepared.failure.kind, prepared.failure.message) if prepared.failure
                else LRFindResult(stopped_reason="cancelled"))
    loaded, model = prepared
    return range_test(plan, loaded, model, lrs, control=control, progress=progress, seed=seed)


def range_test(plan: Any, data: Any, model: Any, lrs: Sequence[float], *,
               control: TrainerControl | None = None, progress: Progress | None = None,
               seed: int | None = None) -> LRFindResult:
    """Sweep ``lrs`` training ``model`` (a throw-away build) on ``data`` (a LoadedDataset
    or TrainData) with the plan's loss, optimizer, batch size, precision and device.

    The batches are shuffled with ``seed`` (default: the plan's seed + 1, a stream of its
    own); the process-wide random state is the same afterwards."""
    import torch

    from visionstudio.core.training.device import TrainingSetupError, is_oom, release_memory
    from visionstudio.core.training.feed import TrainData
    from visionstudio.core.training.param_groups import TransferPlan
    from visionstudio.core.training.trainer import Trainer
    from visionstudio.core.training.transfer_plan import transfer_plan

    control = control or TrainerControl()
    data = TrainData.from_loaded(data)
    device = torch.device(plan.device)
    transfer = (transfer_plan(plan.graph, frozen_bn_eval=plan.config.frozen_bn_eval)
                if plan.graph is not None else TransferPlan())
    trainer = Trainer(model, plan.config, control=control, device=plan.device,
                      notes=list(data.report or []), transfer=transfer)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        try:
            trainer._reset()
            trainer._setup(data)   # exactly a run's set-up: feeds, loss, optimizer, groups
            losses, smoothed, reason = _sweep(trainer, list(lrs), control, progress,
                                              plan.config.seed + 1 if seed is None else seed)
        except TrainingSetupError as exc:
            return _failed("setup", _sentence(str(exc)), trainer.notes)
        except (MemoryError, RuntimeError) as exc:
            if not (isinstance(exc, MemoryError) or is_oom(exc)):
                raise
            return _failed("oom", f"The sweep ran out of memory at batch {plan.config.batch_size}; "
                           "lower the batch size or the input size.", trainer.notes)
        finally:
            release_memory(trainer.device, trainer.optimizer)
    swept = list(lrs[:len(smoothed)])
    return LRFindResult(lrs=tuple(swept), losses=tuple(losses), smoothed=tuple(smoothed),
                        steepest=steepest_lr(swept, smoothed), valley=valley_lr(swept, smoothed),
                        stopped_reason=reason, notes=tuple(trainer.notes))
