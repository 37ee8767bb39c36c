"""Where and how the trainer computes: device choice, precision, memory layout, OOM.

``resolve_device`` turns the configuration's word (auto, cpu, cuda, cuda:N, mps) into a
torch.device or a TrainingSetupError that says what to change; ``suggest_batch_size``
is the batch size an out-of-memory failure proposes.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from visionstudio.core.gcpause import collect_garbage

OutOfMemory = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingSetupError(ValueError):
    """Training cannot start: the message says what to change."""


def resolve_device(word: str) -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU; explicit names must be available."""
    if word == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(word)
    except RuntimeError:
        raise TrainingSetupError(f"unknown device {word!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingSetupError("CUDA was asked for but no CUDA GPU is available; "
                                     "use device 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingSetupError(f"there is no {word} (this machine has "
                                     f"{torch.cuda.device_count()} CUDA device(s))")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise TrainingSetupError("Apple MPS was asked for but is not available here")
    return device


def probe_devices() -> dict:
    """{"cuda": [[index, name, total memory in bytes], ...], "mps": bool}: plain data, so a
    child process can print it as JSON (the app asks one; see ui/training/devices.py)."""
    gpus = []
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                gpus.append([i, p.name, int(p.total_memory)])
    except Exception:  # noqa: BLE001 - a broken driver lists no GPU, it must not break the list
        gpus = []
    mps = getattr(torch.backends, "mps", None)
    return {"cuda": gpus, "mps": bool(mps is not None and mps.is_available())}


def resolve_precision(mixed_precision: str, device: torch.device) -> tuple[str, str | None]:
    """(precision, note): mixed precision runs on CUDA only, float32 elsewhere (with a note)."""
    if mixed_precision == "off":
        return "fp32", None
    if device.type == "cuda":
        return mixed_precision, None
    return "fp32", (f"Mixed precision ({mixed_precision}) is used on CUDA only; "
                    f"training in float32 on {device.type}.")


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def use_channels_last(choice: bool | None, shape: tuple[int, ...] | None,
                      device: torch.device, model: nn.Module) -> bool:
    """Channels-last for image (C, H, W) samples: by default on CPU/CUDA for conv nets."""
    four_d = shape is not None and len(shape) == 3
    if choice is None:
        choice = four_d and device.type in ("cpu", "cuda") and has_conv(model)
    return bool(choice and four_d)


def suggest_batch_size(batch_size: int) -> int:
    """Half the batch size, rounded down to a power of two (at least 1)."""
    half = max(batch_size // 2, 1)
    return 1 << (half.bit_length() - 1)


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU out-of-memory errors."""
    if isinstance(exc, OutOfMemory):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def release_memory(device: torch.device, optimizer: torch.optim.Optimizer | None) -> None:
    """Drop gradients and cached blocks after a failure."""
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    collect_garbage()  # the app's GUI thread collects (core/gcpause.py says why)
    if device.type == "cuda":
        torch.cuda.empty_cache()


def autocast(trainer: Any):
    """The set-up trainer's autocast context (a no-op context in full precision)."""
    return (torch.autocast(trainer.device.type, dtype=trainer.amp_dtype)
            if trainer.amp_dtype is not None else nullcontext())
