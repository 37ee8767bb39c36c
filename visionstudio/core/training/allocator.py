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

A thread's heaps are another matter (``steady_thread_heaps``). A thread other than the
main one (the app's training thread, a sweep trial's) allocates from an arena of its own,
made of mmap'd heaps of at most 64 MiB, and glibc unmaps a heap whose top chunk covers it
as soon as a free empties it: the trim threshold is not consulted there, only the top
pad. A training step empties its activations' heap at every step, so the next step maps
it again and faults every page in, and the munmap shoots down the TLB of every core the
OpenMP team runs on. Measured (2 cores, classic CNN, 600 steps, fresh processes): the
Trainer in a plain thread ran at 0.92-0.99x the main thread with 2-3x its system time,
and in one process in six at 0.75x with 30x the page faults; with a 64 MiB top pad it had
the main thread's system time (0.96-1.0x with the frame room below). A heap then keeps
what the steps use, so
the pad is raised only while a fit runs (counted: sweeps fit in parallel) and put back
after, when the next free returns the emptied heaps.

CPython's own frame stack has the same trap (``with_frame_room``). Since 3.11 a thread's
Python frames live in 16 KiB chunks that are mapped when a call does not fit and unmapped
when it returns (CPython gh-142183; 3.13 and 3.14 keep one spare chunk since 2026-03).
A step whose call depth crosses a chunk boundary (how deep the loop sits depends on the
thread: the app's training thread sat at one) maps and unmaps a chunk several times a
step: measured, 3.7 16 KiB mmap/munmap pairs a step in a plain thread, each munmap a TLB
shootdown on the other core. The fit therefore runs below one frame that reserves 64 KiB
of evaluation stack: CPython gives it a fresh 128 KiB chunk, and the ~62 KiB left in it
hold a step's frames (a step is some tens of frames of a few hundred bytes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_TOP_PAD = -2
MMAP_THRESHOLD = 32 * 1024 * 1024     # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024
FRAME_ROOM_WORDS = 8300               # the roomy frame's evaluation stack (8-byte words): > 64 KiB
THREAD_HEAP_PAD = 64 * 1024 * 1024    # a thread heap's largest size (glibc, 64-bit): never unmapped
DEFAULT_TOP_PAD = 128 * 1024          # glibc's own (malloc-machine.h), put back after the last fit

_applied: bool | None = None
_holds = 0
_holds_lock = threading.Lock()


def steady_malloc() -> bool:
    """Fix glibc's thresholds once per process; True where they are fixed."""
    global _applied
    if _applied is None:
        mallopt = _mallopt()
        _applied = mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
            bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


@contextmanager
def steady_thread_heaps() -> Iterator[bool]:
    """While at least one fit runs: thread heaps are kept, not unmapped and mapped again
    every step (see the module docstring); yields whether the pad is raised."""
    global _holds
    mallopt = _mallopt()
    if mallopt is None:
        yield False
        return
    with _holds_lock:
        _holds += 1
        raised = _holds > 1 or bool(mallopt(M_TOP_PAD, THREAD_HEAP_PAD))
    try:
        yield raised
    finally:
        with _holds_lock:
            _holds -= 1
            if _holds == 0:
                mallopt(M_TOP_PAD, DEFAULT_TOP_PAD)


def with_frame_room(fn: Callable[..., object], *args, **kwargs):
    """``fn(*args, **kwargs)`` at the start of a fresh frame-stack chunk, with ~62 KiB of
    room below it (see the module docstring); a plain call outside CPython."""
    return _roomy_call(fn, *args, **kwargs)


def _call(fn, *args, **kwargs):
    return fn(*args, **kwargs)


# the same function with a frame too big for any chunk it is called from: CPython pushes a
# chunk of twice its size for it, and the frames it calls follow it there
_roomy_call = (types.FunctionType(_call.__code__.replace(co_stacksize=FRAME_ROOM_WORDS), globals())
               if sys.implementation.name == "cpython" else _call)


@cache   # find_library runs ldconfig: once per process
def _mallopt():
    """glibc's ``mallopt`` (Linux), None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):   # musl and others: no mallopt
        return None
