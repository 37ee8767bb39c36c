"""How a training thread that shares its process with a GUI is set up (no Qt here).

Policy: train on **all** cores (the same intra-op thread count the command line gets), at a
**lower OS scheduling priority** than the GUI thread, so the GUI preempts training only when
it has work to do, instead of reserving a core that sits idle most of the time.

Why it is applied on the training thread itself, before its first torch op:

* torch's intra-op count is per calling thread: ``torch.set_num_threads`` sets the OpenMP
  ICV of the thread that calls it (and a fresh thread takes the process-wide default at its
  first parallel op), so the count must be set *in* the training thread.
* The OpenMP team (libgomp) is created by the training thread at its first parallel
  region, and Linux threads inherit the niceness of the thread that creates them. Lowering
  the training thread's priority first lowers its whole team; doing it later would leave
  the team's helpers at the GUI's priority. Idle team helpers spin before they sleep, so a
  team at the GUI's priority takes the core the GUI needs: the reason the old policy
  (cores − 1 threads) existed, at the cost of half the machine on 2 cores.

On Linux ``os.setpriority(PRIO_PROCESS, native thread id, ...)`` changes one thread. On other
systems it would change the whole process, so nothing is done here and the UI uses the
thread API of its toolkit instead (QThread.LowPriority).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LOWER_PRIORITY = 10          # niceness added to the training thread (Linux: 0 normal .. 19 lowest)
THREADS_ENV = "VISIONSTUDIO_CPU_THREADS"
NICE_ENV = "VISIONSTUDIO_TRAINING_NICE"
MAX_THREADS = 1024


@dataclass(frozen=True)
class ThreadPolicy:
    threads: int | None      # intra-op threads for the training thread (None: leave torch's count)
    nice: int                # niceness to add to the training thread (0: unchanged)


@dataclass(frozen=True)
class AppliedPolicy:
    """What the training thread ended up with (read back on that thread)."""

    thread_id: int           # native id of the training thread
    threads: int             # torch.get_num_threads() on the training thread, after applying
    nice: int | None         # the training thread's niceness after applying (None: not on Linux)
    note: str | None = None  # why the priority could not be lowered, in words


def _int_env(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw.lstrip("-").isdigit() or len(raw) > 6:
        return None
    return max(low, min(high, int(raw)))


def policy_for(device_type: str, default_threads: int, env: Mapping[str, str] | None = None) -> ThreadPolicy:
    """The policy for a training thread on ``device_type`` ("cpu", "cuda", "mps").

    ``default_threads``: the intra-op count the process's main thread uses, i.e. what
    ``visionstudio train`` would train with. ``VISIONSTUDIO_CPU_THREADS=N`` overrides it
    (0: keep it); ``VISIONSTUDIO_TRAINING_NICE=N`` overrides the priority step (0: none).
    On a GPU the thread count is left alone (the CPU only feeds the device), but the
    priority is still lowered: the thread's Python work should yield to the GUI's.
    """
    env = os.environ if env is None else env
    nice = _int_env(env, NICE_ENV, 0, 19)
    nice = LOWER_PRIORITY if nice is None else nice
    if device_type != "cpu":
        return ThreadPolicy(threads=None, nice=nice)
    wanted = _int_env(env, THREADS_ENV, 0, MAX_THREADS)
    threads = wanted if wanted else max(1, int(default_threads))
    return ThreadPolicy(threads=threads, nice=nice)


def lower_priority_supported() -> bool:
    """Whether one thread's priority can be lowered on its own (Linux's per-thread nice)."""
    return sys.platform.startswith("linux") and hasattr(os, "setpriority")


def thread_nice(thread_id: int) -> int | None:
    """The niceness of one thread of this process (Linux), None elsewhere."""
    if not lower_priority_supported():
        return None
    return os.getpriority(os.PRIO_PROCESS, thread_id)


def apply_to_current_thread(policy: ThreadPolicy) -> AppliedPolicy:
    """Apply ``policy`` to the calling thread. Call it first thing on the training thread,
    before any torch op, so the OpenMP team the thread creates inherits the priority.

    Lowering a priority needs no privilege; it is never raised back (the thread ends with
    its run, and raising would need CAP_SYS_NICE)."""
    import torch

    tid = threading.get_native_id()
    note = None
    if policy.nice and lower_priority_supported():
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + policy.nice))
        except OSError as exc:
            note = f"The training thread's priority could not be lowered ({exc.strerror or exc})."
    if policy.threads is not None and torch.get_num_threads() != policy.threads:
        torch.set_num_threads(policy.threads)
    return AppliedPolicy(thread_id=tid, threads=torch.get_num_threads(), nice=thread_nice(tid), note=note)


# -- the GUI thread: torch on one thread, so that it never owns an OpenMP team -------------------
#
# libgomp lets idle team threads spin between parallel regions only while the process has
# no more OpenMP threads than CPUs; past that, every team's threads sleep at every barrier.
# A team, once made, lives as long as the thread that made it, and the GUI thread lives as
# long as the app: one feature-map forward pass on it (a sample through the network, run
# there because it takes milliseconds) gave it a team for good, and every later run trained
# with sleeping helpers (measured in the main window on 2 cores: 36 instead of 0.8 voluntary
# switches a step on the training thread, the app at 0.80x the command line). So torch
# runs serially on the GUI thread; heavy work goes to workers, which train on all cores.

_process_threads: list[int] = []   # torch's intra-op count before a thread was made serial


def default_thread_count() -> int:
    """The intra-op count this process trains with (what ``visionstudio train`` uses), also
    when asked on a thread made serial by ``serial_torch_on_this_thread``."""
    import torch

    return _process_threads[0] if _process_threads else torch.get_num_threads()


def serial_torch_on_this_thread(elsewhere: Callable[[Callable[[], None]], None]) -> bool:
    """torch ops on the calling thread run on it alone from now on, so it never makes an
    OpenMP team; threads started later keep the process's default count. Call it on the
    GUI thread before its first torch op that could run in parallel (a later call cannot
    undo a team already made). ``elsewhere(fn)``: runs ``fn`` on another, short-lived
    thread and returns when it has (the app's task helper; core starts no thread). True
    when it changed anything."""
    import torch

    # get_num_threads() first: a thread's first one sets its count from the process-wide
    # value; set after it, the count sticks to this thread
    before = torch.get_num_threads()
    if before == 1:
        return False
    if not _process_threads:
        _process_threads.append(before)
    default = _process_threads[0]
    torch.set_num_threads(1)
    # set_num_threads also changed the count fresh threads start from: put it back from
    # another thread (the call sets that thread's own count too, which dies with it)
    elsewhere(lambda: torch.set_num_threads(default))
    return True
