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

The same steadiness for Python's own memory: ``old_objects_frozen``. The cyclic garbage
collector's oldest generation scans every tracked object of the process, and the app
holds ~380,000 of them (Qt wrappers, pyqtgraph, the UI's modules) where the command line
holds a fraction. A full collection then took ~240 ms, in whichever thread allocated at
the wrong moment, holding the GIL: the training thread stalled (its OpenMP helper spinning
meanwhile) or the event loop did (measured: 482 ms of full collections in the app's
training threads over three 150-step runs, 434 ms on its GUI thread). While a run trains,
the objects that existed before it are moved to the collector's permanent generation
(``gc.freeze``), so collections scan only what the run and the GUI create meanwhile; they
are handed back (``gc.unfreeze``) when the last run of the process ends. The thread that
owns the objects does both: ``visionstudio train`` around its run, the app's run controller
on the GUI thread when it starts a run and when the run's task is done. The cost: a cycle
that was already garbage when the run started is freed after it, not during it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


_frozen_lock = threading.Lock()
_frozen_users = 0


def freeze_old_objects() -> None:
    """Keep the garbage collector off the objects that exist now, until the matching
    ``release_old_objects``; runs at the same time (a sweep's trials, the app and a finder)
    share one freeze, undone when the last of them is released.

    Call both on the thread that owns the process's objects: the main thread (the GUI
    thread in the app). Released objects go back to the oldest generation, and whichever
    thread next collects it frees what became garbage meanwhile, Qt's wrappers included;
    a worker thread must not be the one that releases (measured: a training thread's
    ``gc.collect`` right after the release freed GUI objects there and crashed)."""
    global _frozen_users
    with _frozen_lock:
        _frozen_users += 1
        if _frozen_users == 1:
            gc.freeze()


def release_old_objects() -> None:
    global _frozen_users
    with _frozen_lock:
        if _frozen_users == 0:
            return
        _frozen_users -= 1
        if _frozen_users == 0:
            gc.unfreeze()


@contextmanager
def old_objects_frozen() -> Iterator[None]:
    """``freeze_old_objects`` for the ``with`` block (the command line's run)."""
    freeze_old_objects()
    try:
        yield
    finally:
        release_old_objects()
