"""Per-thread CPU time and context switches of this process, from /proc (Linux): figures
that survive a loaded machine, unlike wall-clock ratios. Used by gui_training.py."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadSample:
    name: str
    cpu_s: float          # on-CPU time (schedstat, ns resolution; utime+stime where absent)
    voluntary: int        # context switches: the thread slept (waited for the GIL, a lock, I/O)
    involuntary: int      # the scheduler took the CPU away


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def sample_threads() -> dict[int, ThreadSample]:
    """{native thread id: sample} for every live thread of this process."""
    out: dict[int, ThreadSample] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ():
        base = f"/proc/self/task/{entry}"
        sched = _read(f"{base}/schedstat").split()
        if sched:
            cpu = int(sched[0]) / 1e9
        else:
            fields = _read(f"{base}/stat").rsplit(")", 1)[-1].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick if len(fields) > 12 else 0.0
        status = dict(line.split(":\t", 1) for line in _read(f"{base}/status").splitlines() if ":\t" in line)
        out[int(entry)] = ThreadSample(
            _read(f"{base}/comm").strip(), cpu, int(status.get("voluntary_ctxt_switches", 0)),
            int(status.get("nonvoluntary_ctxt_switches", 0)))
    return out


def process_cpu() -> tuple[float, int, int]:
    """(CPU seconds, voluntary, involuntary switches) of the whole process, dead threads included."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_nvcsw, r.ru_nivcsw


def delta(before: dict[int, ThreadSample], after: dict[int, ThreadSample]) -> dict[int, ThreadSample]:
    """Per-thread use between two samples (a thread born in between counts from zero)."""
    zero = ThreadSample("", 0.0, 0, 0)
    return {tid: ThreadSample(s.name, s.cpu_s - before.get(tid, zero).cpu_s,
                              s.voluntary - before.get(tid, zero).voluntary,
                              s.involuntary - before.get(tid, zero).involuntary)
            for tid, s in after.items()}


def split(used: dict[int, ThreadSample], gui: int | None, trainer: int | None) -> dict[str, ThreadSample]:
    """Sum the deltas into GUI thread / training thread / its OpenMP helpers and the rest."""
    groups: dict[str, list[ThreadSample]] = {"gui": [], "train": [], "helpers": []}
    for tid, s in used.items():
        key = "gui" if tid == gui else "train" if tid == trainer else "helpers"
        groups[key].append(s)
    return {k: ThreadSample(k, sum(s.cpu_s for s in v), sum(s.voluntary for s in v),
                            sum(s.involuntary for s in v)) for k, v in groups.items()}
