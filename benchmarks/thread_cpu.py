"""Per-thread CPU time and context switches of this process, from /proc (Linux): figures
that survive a loaded machine, unlike wall-clock ratios. Used by gui_training.py."""

from __future__ import annotations

import os
import resource
import statistics
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


def cpu_report(app_runs: list[dict], cli_runs: list[dict]) -> dict:
    """CPU seconds per training step by thread group, median over runs (load-proof figures:
    a busy machine stretches wall time, not the CPU a step needs)."""
    rows: dict[str, dict] = {}
    for mode, runs in (("app", app_runs), ("cli", cli_runs)):
        if not runs:
            continue
        def med(key, i, runs=runs):
            return statistics.median(r[key][i] / max(r["steps"], 1) for r in runs)
        row = {"train_thread_ms": 1e3 * med("train", 0), "helpers_ms": 1e3 * med("helpers", 0),
               "gui_ms": 1e3 * med("gui", 0) if mode == "app" else 0.0,
               "switches_vol": med("train", 1) + med("helpers", 1),
               "train_vol": med("train", 1), "others_vol": med("helpers", 1),
               "switches_invol": med("train", 2) + med("helpers", 2)}
        if mode == "app":
            row["process_minus_gui_ms"] = 1e3 * statistics.median(
                (r["process_cpu_s"] - r["gui"][0]) / max(r["steps"], 1) for r in runs)
            # GUI CPU in the same span (a GUI sample from the training thread is exact)
            row["records_per_step"] = statistics.median(r["records"] / max(r["steps"], 1) for r in runs)
            row["gui_switches_vol"] = med("gui", 1)
            row["gui_share"] = statistics.median(r["gui"][0] / max(r["wall_s"], 1e-9) for r in runs)
        rows[mode] = row
        print(f"CPU per step, {mode}: training thread {row['train_thread_ms']:.2f} ms, other threads "
              f"(OpenMP helpers) {row['helpers_ms']:.2f} ms, GUI thread {row['gui_ms']:.2f} ms"
              + (f", process minus GUI {row['process_minus_gui_ms']:.2f} ms, "
                 f"{row['records_per_step']:.2f} records/step, GUI busy {100 * row['gui_share']:.1f}% "
                 f"of a core" if mode == "app" else "")
              + f"; context switches per step (training side) voluntary {row['switches_vol']:.1f} "
                f"(training thread {row['train_vol']:.1f}, other threads {row['others_vol']:.1f}), "
                f"involuntary {row['switches_invol']:.1f}")
    return rows
