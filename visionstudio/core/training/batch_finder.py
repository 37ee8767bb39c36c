"""The batch-size finder: the largest training batch that fits the device's memory.

The search (Lightning's ``scale_batch_size`` in its "binsearch" mode): try 1, 2, 4, ...
until a batch does not fit or the cap is reached (the cap itself is tried when it is no
power of two), then halve the gap between the last batch that fitted and the first that
did not until they are neighbours. The cap is the smallest of ``max_batch``, the
training set's size (a larger batch is never formed) and the batch-size setting's own
maximum.

Whether a batch fits:

* **CUDA, measured**: one real training step (forward, loss, backward, optimizer step,
  with the run's precision, clipping and gradient scaler) at that batch on a copy of the
  model and a fresh optimizer, set up exactly as a run's (``Trainer._setup``), from
  batch 2 (a run drops a batch of one, which batch norm cannot train on). An
  out-of-memory error means "does not fit"; after every try the gradients are dropped,
  the allocator's cache emptied and its peak statistics reset, so one failure does not
  make the next try fail. ``tried`` holds each try's peak allocated bytes.
* **CPU and MPS, estimated** (they share the host's memory, and running out of it means
  swapping or the kernel killing the app, not an exception to catch): from the memory
  estimate (core/memory.py), nothing of the batch's size allocated. A batch fits when
  ``ESTIMATE_FACTOR`` × its estimate plus torch's fixed ``FIXED_OVERHEAD`` stays within the
  available memory (free RAM, or the room under a cgroup limit): the estimate came
  within 0.5-1.2x of the measured peak, so twice the estimate covers the worst case seen.

The model passed in, the process-wide random state and the project are unchanged
afterwards; what a user can get wrong comes back as ``failure`` or a note, in words.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.memory import available_memory, estimate_training_memory, human_bytes
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import FailureRecord

SETTING_MAX = 65_536                 # what the batch_size setting accepts
ESTIMATE_FACTOR = 2.0                # the estimate was as low as half the measured peak
FIXED_OVERHEAD = 256 * 1024 ** 2     # torch's own first-step cost on the CPU (~170 MiB) and some room
MEASURED_START = 2                   # a run drops a batch of one: batch norm cannot train on it

Probe = Callable[[int], "int | None"]          # batch -> bytes it used; raises out-of-memory
Progress = Callable[[int, bool, "int | None"], None]   # (batch, fits, bytes) after each try


@dataclass(frozen=True)
class BatchFindResult:
    """The largest batch that fits (None: not even one sample), as plain data.

    ``how``: "measured" (real steps on the GPU) or "estimated" (the memory estimate);
    ``tried``: (batch, fits, bytes) in the order tried (bytes: the peak measured or the
    estimate; None when a try ran out of memory); ``cap``: the largest batch considered."""

    batch: int | None = None
    how: str = "estimated"
    tried: tuple[tuple[int, bool, int | None], ...] = ()
    cap: int = 0
    available: int | None = None
    cancelled: bool = False
    notes: tuple[str, ...] = field(default=())
    failure: FailureRecord | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {"format": "visionstudio.batch_find", "version": 1, "ok": self.ok,
                "batch": self.batch, "how": self.how, "cap": self.cap, "available": self.available,
                "cancelled": self.cancelled,
                "tried": [{"batch": b, "fits": f, "bytes": n} for b, f, n in self.tried],
                "notes": list(self.notes),
                "failure": ({"kind": self.failure.kind, "message": self.failure.message}
                            if self.failure else None)}


# -- the search ------------------------------------------------------------------------------
def _candidates_up(cap: int, start: int):
    batch = min(start, cap)
    while batch < cap:
        yield batch
        batch *= 2
    yield cap


def largest_fitting(fits: Callable[[int], tuple[bool, int | None]], cap: int, *, start: int = 1,
                    control: TrainerControl | None = None, progress: Progress | None = None,
                    ) -> tuple[int | None, list[tuple[int, bool, int | None]], bool]:
    """(largest batch in ``start``..``cap`` for which ``fits`` holds, the tries, cancelled?),
    assuming that a batch fits whenever a larger one does. ``fits(batch)`` -> (fits, bytes)."""
    tried: list[tuple[int, bool, int | None]] = []

    def attempt(batch: int) -> bool | None:
        if control is not None and control.stop_requested:
            return None
        ok, used = fits(batch)
        tried.append((batch, ok, used))
        if progress is not None:
            progress(batch, ok, used)
        return ok

    good, bad = 0, None
    for batch in _candidates_up(max(1, cap), max(1, start)):
        ok = attempt(batch)
        if ok is None:
            return good or None, tried, True
        if not ok:
            bad = batch
            break
        good = batch
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        if mid < start:
            break
        ok = attempt(mid)
        if ok is None:
            return good or None, tried, True
        good, bad = (mid, bad) if ok else (good, mid)
    return good or None, tried, False


def catching_oom(probe: Probe, after: Callable[[], None] | None = None
                 ) -> Callable[[int], tuple[bool, int | None]]:
    """``probe`` as a fits-function: an out-of-memory error is "does not fit"; ``after``
    runs after every try (frees what the try left)."""
    from visionstudio.core.training.device import is_oom

    def fits(batch: int) -> tuple[bool, int | None]:
        try:
            return True, probe(batch)
        except (MemoryError, RuntimeError) as exc:
            if not (isinstance(exc, MemoryError) or is_oom(exc)):
                raise
            return False, None
        finally:
            if after is not None:
                after()
    return fits


# -- whether one batch fits ------------------------------------------------------------------
def estimate_fits(plan: Any, available: int) -> Callable[[int], tuple[bool, int | None]]:
    """Fits-function from the memory estimate against ``available`` bytes (see the module)."""
    def fits(batch: int) -> tuple[bool, int | None]:
        need = estimate_training_memory(plan.analysis, batch, plan.config.optimizer, plan.precision).total
        return ESTIMATE_FACTOR * need + FIXED_OVERHEAD <= available, need
    return fits


def _step_probe(trainer: Any) -> Probe:
    """One real training step at a batch (CUDA): its peak allocated bytes."""
    import torch

    from visionstudio.core.training.device import autocast
    from visionstudio.core.training.lr_finder import _step

    params = [p for p in trainer.train_model.parameters() if p.requires_grad]
    device = trainer.device

    def probe(batch: int) -> int:
        torch.cuda.reset_peak_memory_stats(device)
        feed = trainer.train_feed.batches(None, batch, 0, trainer.augment)
        try:
            inputs, labels = next(feed)
        finally:
            feed.close()
        with autocast(trainer):
            loss = trainer.loss_fn(trainer.train_model(inputs), labels)
        _step(trainer, loss, params)
        del inputs, labels, loss
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device))
    return probe


def _freer(trainer: Any) -> Callable[[], None]:
    import torch

    from visionstudio.core.training.device import release_memory

    def after() -> None:
        release_memory(trainer.device, trainer.optimizer)
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.device)
    return after


# -- the finder --------------------------------------------------------------------------------
def _train_size(data: Any) -> int:
    if data.train_images is not None:
        return int(data.train_images.shape[0])
    return len(data.train_dataset) if data.train_dataset is not None else 0


def _failed(kind: str, message: str, notes=()) -> BatchFindResult:
    return BatchFindResult(notes=tuple(notes), failure=FailureRecord(kind, message, 0, 0))


def find_batch_size(plan: Any, *, max_batch: int = 4096, probe: Probe | None = None,
                    control: TrainerControl | None = None, progress: Progress | None = None,
                    data_dir: Any = None, download: bool = True) -> BatchFindResult:
    """The largest batch for ``plan`` (a RunPlan; plan it at batch 1, since plan_run refuses
    a batch that does not fit): its dataset is loaded and its model built as ``execute``
    does, then ``search_batch`` searches. ``probe(batch)`` replaces the real CUDA step
    (tests: raise torch.cuda.OutOfMemoryError above a threshold)."""
    import torch

    from visionstudio.core.training.plan import RunResult, load_and_build

    control = control or TrainerControl()
    device = torch.device(plan.device)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        prepared = load_and_build(plan, control, data_dir=data_dir, download=download)
    if isinstance(prepared, RunResult):
        return (_failed(prepared.failure.kind, prepared.failure.message) if prepared.failure
                else BatchFindResult(cancelled=True))
    loaded, model = prepared
    return search_batch(plan, loaded, model, max_batch=max_batch, probe=probe, control=control,
                        progress=progress)


def search_batch(plan: Any, data: Any, model: Any, *, max_batch: int = 4096,
                 probe: Probe | None = None, control: TrainerControl | None = None,
                 progress: Progress | None = None) -> BatchFindResult:
    """Search on ``data`` (a LoadedDataset or TrainData) with ``model`` (copied, never
    trained itself) on the plan's device, as the module describes."""
    import torch

    from visionstudio.core.training.feed import TrainData

    data = TrainData.from_loaded(data)
    n = _train_size(data)
    if n == 0:
        return _failed("dataset", "The dataset has no training images.")
    cap = max(1, min(int(max_batch), n, SETTING_MAX))
    notes = []
    if cap == n and n < max_batch:
        notes.append(f"Capped at the training set's {n} images: a batch cannot be larger.")
    device = torch.device(plan.device)
    if probe is None and device.type != "cuda":
        return _estimated(plan, cap, notes, control, progress)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        return _measured(plan, data, copy.deepcopy(model), cap, notes, probe, control, progress)


def _estimated(plan, cap, notes, control, progress) -> BatchFindResult:
    room = available_memory(plan.device)
    if room is None:
        return BatchFindResult(how="estimated", cap=cap, notes=(
            *notes, "How much memory is free could not be measured here, so no batch size can be "
            "suggested."))
    best, tried, cancelled = largest_fitting(estimate_fits(plan, room.bytes), cap,
                                             control=control, progress=progress)
    notes.append(f"Estimated from the memory estimate against {human_bytes(room.bytes)} free on "
                 f"{room.where}, with room for the estimate to be twice too low.")
    return BatchFindResult(best, "estimated", tuple(tried), cap, room.bytes, cancelled, tuple(notes))


def _measured(plan, data, model, cap, notes, probe, control, progress) -> BatchFindResult:
    from visionstudio.core.training.device import TrainingSetupError
    from visionstudio.core.training.param_groups import TransferPlan
    from visionstudio.core.training.trainer import Trainer
    from visionstudio.core.training.transfer_plan import transfer_plan

    if probe is not None:
        best, tried, cancelled = largest_fitting(catching_oom(probe), cap, control=control,
                                                 progress=progress)
        return BatchFindResult(best, "measured", tuple(tried), cap, None, cancelled, tuple(notes))
    transfer = (transfer_plan(plan.graph, frozen_bn_eval=plan.config.frozen_bn_eval)
                if plan.graph is not None else TransferPlan())
    trainer = Trainer(model, plan.config, control=control, device=plan.device,
                      notes=list(data.report or []), transfer=transfer)
    room = available_memory(plan.device)   # free on the GPU before the search
    try:
        trainer._reset()
        trainer._setup(data)   # exactly a run's set-up: feeds, loss, optimizer, groups
        trainer.enter_train_mode()
        best, tried, cancelled = largest_fitting(catching_oom(_step_probe(trainer), _freer(trainer)),
                                                 cap, start=MEASURED_START, control=control,
                                                 progress=progress)
    except TrainingSetupError as exc:
        return _failed("setup", str(exc)[:1].upper() + str(exc)[1:], trainer.notes)
    finally:
        _freer(trainer)()
    notes.append("Measured with one training step per try; validation and other programs on the "
                 "GPU need some room too.")
    return BatchFindResult(best, "measured", tuple(tried), cap, room.bytes if room else None,
                           cancelled, (*trainer.notes, *notes))
