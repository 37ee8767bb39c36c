"""The trainer's resumable state: what goes into a checkpoint beside the weights, and how
a checkpoint puts a set-up Trainer back where it stopped.

Packed: optimizer state (flattened to tensors + JSON), the RNG states (torch, the shuffle
generator, the shuffle state at the start of the interrupted epoch, CUDA), the schedule,
the fp16 grad scaler, best-metric bookkeeping, history and notes. The file format itself
(safetensors, manifest, hashes) is checkpoint.py's business. ``trainer`` is a set-up
Trainer (typed Any: the trainer imports this module, never the other way round).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from visionstudio.core.training.checkpoint import (
    MODEL_FILE,
    CheckpointError,
    flatten_optimizer,
    load_checkpoint,
    save_checkpoint,
)
from visionstudio.core.training.checkpoint_fit import check_model_state, check_rng_states, fit_optimizer_state
from visionstudio.core.training.records import EpochRecord

CHECKPOINT_FORMAT = 1


def pack_state(trainer: Any, epoch: int, batch: int, epoch_gen_state: torch.Tensor,
               sums: tuple[float, float, int]) -> tuple[dict, dict]:
    """(tensors, meta) describing the trainer at ``epoch``/``batch`` (the next one to run)."""
    tensors, optim_json = flatten_optimizer(trainer.optimizer.state_dict())
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = trainer.generator.get_state()
    tensors["rng.shuffle_epoch"] = epoch_gen_state
    if trainer.device.type == "cuda":
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    meta = {
        "trainer_format": CHECKPOINT_FORMAT,
        "epoch": epoch, "batch": batch, "step": trainer.step,
        "epoch_sums": list(sums),
        "steps_per_epoch": trainer.steps_per_epoch,
        "config": trainer.config.to_dict(),
        "optimizer_key": trainer.optimizer_spec.key,
        "optimizer_params": trainer.optimizer_params,
        "optimizer": optim_json,
        "schedule": trainer.schedule.state_dict(),
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
        "best": {"value": trainer.best_value, "epoch": trainer.best_epoch, "since": trainer.since_best},
        "metric": trainer.metric,
        "history": [r.as_dict() for r in trainer.history],
        "notes": list(trainer.notes),
        # the task's fitted state (a regression's target mean/std): predictions need it
        "task": trainer.objective.task,
        "objective": trainer.objective.state_dict(),
    }
    return tensors, meta


def save_state(trainer: Any, name: str, epoch: int, batch: int, epoch_gen_state: torch.Tensor,
               sums: tuple[float, float, int]) -> str | None:
    """Write checkpoint_dir/name; None when the trainer has no checkpoint folder."""
    if trainer.checkpoint_dir is None:
        return None
    tensors, meta = pack_state(trainer, epoch, batch, epoch_gen_state, sums)
    path = save_checkpoint(trainer.checkpoint_dir / name, model_state=trainer.model.state_dict(),
                           tensors=tensors, meta=meta)
    return str(path)


def _load_into(trainer: Any, ckpt: Any, optimizer_state: dict[str, Any], path: Any) -> None:
    """Put the checked checkpoint's weights, optimizer, schedule, scaler and RNGs in place."""
    meta = ckpt.meta
    try:
        trainer.model.load_state_dict(ckpt.model_state)
        trainer.optimizer.load_state_dict(optimizer_state)
        for state in trainer.optimizer.state.values():  # fused/foreach want state on the device
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and k != "step":
                    state[k] = v.to(trainer.device)
        trainer.optimizer_params = {**trainer.optimizer_params, **meta["optimizer_params"]}
        sched = meta["schedule"]
        if sched["key"] == trainer.schedule.key:
            trainer.schedule.load_state_dict(sched)
        else:
            trainer.schedule.base_lr = float(trainer.optimizer_params["lr"])
        if trainer.scaler is not None and meta["scaler"]:
            trainer.scaler.load_state_dict(meta["scaler"])
        torch.set_rng_state(ckpt.tensors["rng.torch"])
        trainer.generator.set_state(ckpt.tensors["rng.shuffle"])
        if trainer.device.type == "cuda":
            states = [ckpt.tensors[k] for k in sorted(ckpt.tensors) if k.startswith("rng.cuda.")]
            if len(states) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(states)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, AttributeError,
            IndexError) as exc:
        # A safety net: restore_state's checks are meant to leave nothing for torch to refuse.
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(f"cannot use checkpoint {path}: its training state does not fit "
                              f"({type(exc).__name__}: {reason})") from None


def _load_objective(trainer: Any, meta: dict[str, Any], path: Any) -> None:
    """The objective's saved state (checked by the objective before it takes it)."""
    from visionstudio.core.tasks.objective import ObjectiveError

    task = meta.get("task", "classification")
    if task != trainer.objective.task:
        raise CheckpointError(f"the checkpoint {path} was trained for {task}, the run is "
                              f"{trainer.objective.task}; resume needs the same task")
    try:
        trainer.objective.load_state_dict(meta.get("objective") or {})
    except ObjectiveError as exc:
        raise CheckpointError(f"cannot use checkpoint {path}: {exc}") from None


def restore_state(trainer: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``path`` into a set-up trainer; returns the position to continue from
    (epoch, batch, epoch_gen_state, sums). Raises CheckpointError saying what does not fit.

    Everything is checked before anything is loaded (checkpoint_fields.py when the file is
    read, checkpoint_fit.py against this model and optimizer here), so a refused
    checkpoint leaves the model, the optimizer and the RNGs as they were."""
    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    root = ckpt.path
    if "trainer_format" not in meta:
        raise CheckpointError(f"cannot use checkpoint {path}: it holds weights but no training state "
                              "(checkpoint.json has no field 'trainer_format'), so it cannot be resumed")
    check_model_state(ckpt.model_state, trainer.model, f"the checkpoint {path} ({MODEL_FILE})")
    if meta["optimizer_key"] != trainer.optimizer_spec.key:
        raise CheckpointError(
            f"the checkpoint {path} was trained with optimizer {meta['optimizer_key']!r}, "
            f"the project now uses {trainer.optimizer_spec.key!r}; resume needs the same optimizer")
    optimizer_state = fit_optimizer_state(root, ckpt.tensors, meta["optimizer"], trainer.optimizer)
    rng_sizes = {"rng.torch": torch.get_rng_state().numel(),
                 "rng.shuffle": trainer.generator.get_state().numel(),
                 "rng.shuffle_epoch": trainer.generator.get_state().numel()}
    check_rng_states(root, ckpt.tensors, rng_sizes)
    history = [EpochRecord.from_dict(r) for r in meta["history"]]   # fields checked by read_meta
    _load_objective(trainer, meta, path)
    _load_into(trainer, ckpt, optimizer_state, path)
    trainer.history = history
    best = meta["best"]
    trainer.best_value, trainer.best_epoch, trainer.since_best = best["value"], best["epoch"], best["since"]
    trainer.step = meta["step"]
    same_epoch_len = meta["steps_per_epoch"] == trainer.steps_per_epoch
    batch = meta["batch"] if same_epoch_len else 0
    if not same_epoch_len and meta["batch"]:
        trainer.notes.append("The batch size or dataset changed since the checkpoint; "
                             "resuming at the start of the interrupted epoch.")
    return {"epoch": meta["epoch"], "batch": batch,
            "epoch_gen_state": ckpt.tensors["rng.shuffle_epoch"],
            "sums": tuple(meta["epoch_sums"]) if batch else (0.0, 0.0, 0)}
