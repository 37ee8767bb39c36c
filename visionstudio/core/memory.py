"""How much memory a network needs, from the static analysis alone, and how much there is.

A project file is untrusted input: a Dense 1,000,000→10,000 layer is 10^10 weights
(37 GiB), and building it would exhaust the machine before anything could say so.
So everything that builds a model (``run_training``, the GUI's Train, the feature-map
dock) first asks :func:`training_memory_problem` / :func:`memory_problem` and refuses
with a sentence instead. Nothing here allocates a tensor or imports torch, except the
CUDA probe, which runs only when the run's device is a CUDA GPU.

The estimate (bytes):

- **weights**: parameters × 4 (float32; mixed precision keeps float32 master weights);
- **gradients**: one float32 per parameter when training;
- **optimizer state**: float32 copies per parameter (``OPTIMIZER_STATE_COPIES``:
  Adam/AdamW 2 (+1 with AMSGrad), SGD with momentum or Nesterov 1, RMSprop 1 (+1 with
  momentum), Adagrad 1, plain SGD 0; an unknown optimizer counts as 2);
- **activations**: every layer's output for the whole batch (sum over nodes of the
  output's elements × batch × 4 bytes, or 2 under bf16/fp16 autocast), counted twice
  when there is a backward pass: autograd keeps each output (and a fused activation's
  or a batch norm's own copy) for the backward pass, and the gradients flowing back are
  about as large again at their peak.

It is an order of magnitude, not a promise: on the CPU it came within 0.5–1.2× of the
peak RSS growth of a training step (beyond torch's fixed ~170 MiB cost of a first
step) for the templates from 20 MiB to 1 GiB (benchmarks/memory_estimate.py). What the
dataset itself holds is not included.

What there is (:func:`available_memory`): on a CUDA device, the GPU's free memory
(``torch.cuda.mem_get_info``); otherwise physical memory that can still be allocated
without swapping: ``MemAvailable`` from /proc/meminfo on Linux, lowered to a cgroup
memory limit when one is set (containers); ``ullAvailPhys`` on Windows; elsewhere
(macOS, BSD) 80% of the physical RAM from ``os.sysconf``, since their free-page
counts leave out the reclaimable cache. A network is refused when its estimate is
larger than that figure; when nothing can be measured, nothing is refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from math import prod
from typing import Any

FLOAT32 = 4
ACTIVATION_BYTES = {"fp32": 4, "off": 4, "bf16": 2, "fp16": 2}
OPTIMIZER_STATE_COPIES = {"sgd": 0, "sgd_momentum": 1, "nesterov": 1, "rmsprop": 1,
                          "adam": 2, "adamw": 2, "adagrad": 1}
UNKNOWN_OPTIMIZER_COPIES = 2
BACKWARD_ACTIVATION_COPIES = 2
TOTAL_RAM_FRACTION = 0.8   # where only the total is known (macOS, BSD)

MEMINFO = "/proc/meminfo"
CGROUP_V2 = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current")
CGROUP_V1 = ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")


@dataclass(frozen=True)
class MemoryEstimate:
    purpose: str            # "training" or "inference"
    batch_size: int
    optimizer: str | None   # registry key; None for inference
    precision: str          # "fp32", "bf16" or "fp16" (the activations' type)
    weights: int
    gradients: int
    optimizer_state: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.activations

    @property
    def weights_and_state(self) -> int:
        return self.weights + self.gradients + self.optimizer_state

    def describe(self) -> str:
        """'Memory for training (batch 64, adam): about 1.2 GiB'."""
        if self.purpose == "training":
            what = f"training (batch {self.batch_size}, {self.optimizer}"
            what += f", {self.precision})" if self.precision != "fp32" else ")"
        else:
            what = "one image (inference)" if self.batch_size == 1 else f"inference (batch {self.batch_size})"
        return f"Memory for {what}: about {human_bytes(self.total)}"

    def breakdown(self) -> str:
        """'weights 476 KiB · gradients 476 KiB · optimizer state 953 KiB · activations 22 MiB'."""
        parts = [("weights", self.weights), ("gradients", self.gradients),
                 ("optimizer state", self.optimizer_state), ("activations", self.activations)]
        return " · ".join(f"{name} {human_bytes(n)}" for name, n in parts
                          if n or name in ("weights", "activations"))

    def to_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "batch_size": self.batch_size, "optimizer": self.optimizer,
                "precision": self.precision, "weights_bytes": self.weights,
                "gradients_bytes": self.gradients, "optimizer_state_bytes": self.optimizer_state,
                "activations_bytes": self.activations, "total_bytes": self.total,
                "total_human": human_bytes(self.total)}


@dataclass(frozen=True)
class AvailableMemory:
    bytes: int
    where: str      # "this machine" / "the GPU (cuda:0)": the subject of the refusal sentence
    source: str     # how it was measured, for logs and tests

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "human": human_bytes(self.bytes), "where": self.where,
                "source": self.source}


def human_bytes(n: int | float) -> str:
    """1536 -> '1.5 KiB', 2.3e11 -> '214 GiB': one decimal below 10, none above."""
    n = float(n)
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        n /= 1024
        if n < 1024 or unit == "EiB":
            return f"{n:.1f} {unit}" if n < 10 else f"{n:.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


# -- the estimate --------------------------------------------------------------------------
def activation_elements(analysis: Any) -> int:
    """Elements of every layer's output for one sample (the Input's included). A block
    instance counts the layers inside it (its output is its last inner layer's); a
    definition's input and output ports are values counted where they are made."""
    total = 0
    ports = analysis.ports
    for nid, info in analysis.nodes.items():
        if info.inner is not None:
            total += activation_elements(info.inner)
            continue
        shape = info.output_shape
        if shape and nid not in ports:
            total += prod(int(d) for d in shape)
    return total


def optimizer_state_copies(optimizer: str | Mapping[str, Any] | None) -> tuple[str, int]:
    """(key, float32 copies per parameter) for a key or a ``{"key", "params"}`` setting."""
    if optimizer is None:
        return "adam", OPTIMIZER_STATE_COPIES["adam"]
    if isinstance(optimizer, Mapping):
        key = str(optimizer.get("key", "adam"))
        params = optimizer.get("params") or {}
    else:
        key, params = str(optimizer), {}
    copies = OPTIMIZER_STATE_COPIES.get(key, UNKNOWN_OPTIMIZER_COPIES)
    if key in ("adam", "adamw") and params.get("amsgrad"):
        copies += 1                     # max_exp_avg_sq
    if key == "rmsprop" and params.get("momentum"):
        copies += 1                     # momentum_buffer
    return key, copies


def _precision(precision: str) -> str:
    return "fp32" if precision in ("off", "fp32") else precision


def estimate_training_memory(analysis: Any, batch_size: int,
                             optimizer: str | Mapping[str, Any] | None = "adam",
                             precision: str = "fp32", frozen: int = 0) -> MemoryEstimate:
    """What one training step of ``batch_size`` needs (see the module docstring);
    ``frozen`` parameters (transfer learning) have no gradients and no optimizer state."""
    batch = max(int(batch_size), 1)
    params = int(analysis.total_params)
    trained = max(params - int(frozen), 0)
    key, copies = optimizer_state_copies(optimizer)
    precision = _precision(precision)
    act = activation_elements(analysis) * batch * ACTIVATION_BYTES.get(precision, FLOAT32)
    return MemoryEstimate("training", batch, key, precision, params * FLOAT32, trained * FLOAT32,
                          trained * FLOAT32 * copies, act * BACKWARD_ACTIVATION_COPIES)


def estimate_inference_memory(analysis: Any, batch_size: int = 1, *, precision: str = "fp32",
                              backward: bool = False) -> MemoryEstimate:
    """Weights and every layer's output for ``batch_size`` samples. ``backward``: the
    inspector's Grad-CAM and saliency also run a backward pass (gradients for the
    weights, the outputs kept for it)."""
    batch = max(int(batch_size), 1)
    params = int(analysis.total_params)
    precision = _precision(precision)
    act = activation_elements(analysis) * batch * ACTIVATION_BYTES.get(precision, FLOAT32)
    return MemoryEstimate("inference", batch, None, precision, params * FLOAT32,
                          params * FLOAT32 if backward else 0, 0,
                          act * (BACKWARD_ACTIVATION_COPIES if backward else 1))


def estimate_for_config(analysis: Any, config: Any, precision: str = "fp32",
                        frozen: int = 0) -> MemoryEstimate:
    """The training estimate for a TrainingConfig (its batch size and optimizer);
    ``frozen``: parameters that do not train (transfer learning)."""
    return estimate_training_memory(analysis, config.batch_size, config.optimizer, precision, frozen)


# -- what there is ---------------------------------------------------------------------------
def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(64).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None   # "max": no limit


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(MEMINFO, encoding="ascii", errors="replace") as f:
            for line in f:
                name, _, rest = line.partition(":")
                fields = rest.split()
                if fields and fields[0].isdigit():
                    out[name.strip()] = int(fields[0]) * (1024 if fields[1:2] == ["kB"] else 1)
    except OSError:
        return {}
    return out


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit (None: no limit found)."""
    for limit_path, usage_path in (CGROUP_V2, CGROUP_V1):
        limit = _read_int(limit_path)
        if limit is None or limit >= 1 << 60:   # v1 writes ~2^63 for "no limit"
            continue
        used = _read_int(usage_path) or 0
        return max(limit - used, 0)
    return None


def _windows_available() -> int | None:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.ullAvailPhys)


def host_available() -> AvailableMemory | None:
    """Physical memory this process can still allocate without swapping (None: unknown)."""
    where = "this machine"
    if sys.platform == "win32":
        try:
            n = _windows_available()
        except (OSError, AttributeError, ValueError):
            n = None
        return AvailableMemory(n, where, "GlobalMemoryStatusEx") if n else None
    info = _meminfo()
    found: AvailableMemory | None = None
    if "MemAvailable" in info:
        found = AvailableMemory(info["MemAvailable"], where, "MemAvailable")
    elif "MemTotal" in info:
        found = AvailableMemory(int(info["MemTotal"] * TOTAL_RAM_FRACTION), where, "80% of MemTotal")
    else:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            total = 0
        if total > 0:
            found = AvailableMemory(int(total * TOTAL_RAM_FRACTION), where, "80% of physical RAM")
    room = _cgroup_room() if sys.platform.startswith("linux") else None
    if room is not None and (found is None or room < found.bytes):
        found = AvailableMemory(room, where, "cgroup memory limit")
    return found


def cuda_available(device: str) -> AvailableMemory | None:
    """Free memory on a CUDA device (creates its context: call it when training there)."""
    import torch

    if not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    try:
        free, _total = torch.cuda.mem_get_info(index)
    except RuntimeError:
        return None
    return AvailableMemory(int(free), f"the GPU (cuda:{index})", "torch.cuda.mem_get_info")


def available_memory(device: str | None = None) -> AvailableMemory | None:
    """What a run on ``device`` (a torch device string; None or "cpu": the host) can use.
    Apple MPS shares the host's memory."""
    if device is not None and str(device).startswith("cuda"):
        return cuda_available(str(device))
    return host_available()


# -- the verdict ---------------------------------------------------------------------------------
def memory_problem(estimate: MemoryEstimate, available: AvailableMemory | None) -> str | None:
    """None when the estimate fits (or nothing is known), else the sentence for the user:
    'needs about 212 GiB for batch 64; this machine has 24 GiB free: lower the batch size
    or the input size'."""
    if available is None or estimate.total <= available.bytes:
        return None
    if estimate.purpose == "training":
        need = f"needs about {human_bytes(estimate.total)} for batch {estimate.batch_size}"
    else:
        need = f"needs about {human_bytes(estimate.total)} to show what it makes of one image"
    have = f"{available.where} has {human_bytes(available.bytes)} free"
    if estimate.activations >= estimate.weights_and_state:
        advice = ("lower the batch size or the input size" if estimate.purpose == "training"
                  else "lower the input size or use fewer channels")
    else:   # a smaller batch would not help: the weights themselves are too many
        advice = (f"use fewer units or channels, or a smaller input (the weights alone are about "
                  f"{human_bytes(estimate.weights)})")
    return f"{need}; {have}: {advice}"


def training_memory_problem(analysis: Any, config: Any, device: str | None = None,
                            precision: str = "fp32",
                            available: AvailableMemory | None = None) -> str | None:
    """The refusal sentence for training ``config`` on ``device``, or None when it fits."""
    estimate = estimate_for_config(analysis, config, precision)
    return memory_problem(estimate, available if available is not None else available_memory(device))


__all__ = ["AvailableMemory", "MemoryEstimate", "activation_elements", "available_memory",
           "cuda_available", "estimate_for_config", "estimate_inference_memory",
           "estimate_training_memory", "host_available", "human_bytes", "memory_problem",
           "optimizer_state_copies", "training_memory_problem"]
