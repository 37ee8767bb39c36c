"""Steady CPU memory for training: fixed glibc malloc thresholds.

glibc adapts its mmap threshold to the blocks a program frees, and hands memory at the
top of the heap back to the system past a trim threshold. A training step allocates and
frees the same large tensors (activations, gradients) over and over, so whatever moved
those thresholds once — a layer-health sample copying every weight, a validation pass, a
bigger batch — changed how many page faults every later step paid: measured on the CPU,
a run sampled by layer health just once trained 10-15% slower than the same run without
it, and ~1% with the thresholds fixed (benchmarks/layer_health.py). PyTorch's CPU
performance guide suggests a different allocator (jemalloc, tcmalloc) for the same
reason; fixing the thresholds needs nothing installed.

Blocks up to MMAP_THRESHOLD come from the heap and are reused; freed memory up to
TRIM_THRESHOLD stays with the process (a bounded cost: the memory the steps use anyway).
Only glibc (Linux) has ``mallopt``; elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024     # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024

_applied: bool | None = None


def steady_malloc() -> bool:
    """Fix glibc's thresholds once per process; True where they are fixed."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):   # musl and others: no mallopt
                return False
            _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
