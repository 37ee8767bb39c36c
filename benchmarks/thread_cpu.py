"""Per-thread CPU time and context switches of this process, from /proc (Linux): figures
that survive a loaded machine, unlike wall-clock ratios. Used by gui_training.py.

Run on its own, it isolates what a training thread pays for sharing a process with a Qt
event loop: the same run (classic CNN on shapes, plan_run + execute, as `visionstudio
train`) in a fresh process per mode, interleaved, each measured on its second run:

  main     on the main thread (the command line)
  thread   in a plain Python thread, the main thread waiting in join()
  qt       in a thread while the main thread runs a Qt event loop with a 10 ms timer and
           every batch record emitted to it through a queued signal (the app's plumbing,
           without its widgets)

and prints, per step, the training thread's own CPU time and voluntary / involuntary
context switches, the other threads' and the load average next to them.

    python benchmarks/thread_cpu.py [--steps 40] [--repeats 2]     (taskset -c 0 for one core)
"""

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


# -- standalone: the training thread's cost by where it runs ---------------------------------

def _project(steps: int, batch: int):
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.templates import load_template

    doc = load_template("classic_cnn")
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {"samples": steps * batch,
                                                                        "val_samples": 0}})
    doc.training = doc.training.replace(epochs=1, batch_size=batch, val_split=0.0, device="cpu", seed=0)
    return doc


class _Hooks:
    """Trainer callback: samples at fit start / epoch end, optionally forwards each batch."""

    def __init__(self, forward=None) -> None:
        self.forward, self.steps = forward, 0

    def __getattr__(self, name):
        if name.startswith("on_"):
            return lambda *a: None
        raise AttributeError(name)

    def on_fit_start(self, trainer, record) -> None:
        self.before = sample_threads()

    def on_batch_end(self, trainer, record) -> None:
        if self.forward is not None:
            self.forward(record)

    def on_epoch_end(self, trainer, record) -> None:
        self.after, self.steps = sample_threads(), record.step


def _train_twice(steps: int, forward=None) -> dict:
    import tempfile
    import threading

    from visionstudio.core.training.plan import execute, plan_run

    for _ in range(2):                      # warm-up, then the measured run
        hooks = _Hooks(forward)
        with tempfile.TemporaryDirectory() as run_dir:
            execute(plan_run(_project(steps, 64)), [hooks], run_dir=run_dir)
    me = threading.get_native_id()
    used = delta(hooks.before, hooks.after)
    n = max(hooks.steps, 1)
    own = used[me]
    rest = [s for tid, s in used.items() if tid != me]
    return {"cpu_ms": 1e3 * own.cpu_s / n, "vol": own.voluntary / n, "invol": own.involuntary / n,
            "others_ms": 1e3 * sum(s.cpu_s for s in rest) / n,
            "others_vol": sum(s.voluntary for s in rest) / n}


def _child(mode: str, steps: int) -> dict:
    import threading

    import torch

    if mode == "main":
        return _train_twice(steps)
    out: list[dict] = []
    threads = torch.get_num_threads()
    if mode == "thread":
        def train() -> None:
            torch.set_num_threads(threads)
            out.append(_train_twice(steps))
        worker = threading.Thread(target=train)
        worker.start()
        worker.join()
        return out[0]
    from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QTimer, Signal

    app = QCoreApplication.instance() or QCoreApplication([])

    class Relay(QObject):
        record = Signal(object)

    relay, got = Relay(), []
    relay.record.connect(got.append, Qt.ConnectionType.QueuedConnection)

    def train_qt() -> None:
        torch.set_num_threads(threads)
        out.append(_train_twice(steps, relay.record.emit))

    worker = threading.Thread(target=train_qt)
    loop, tick, check = QEventLoop(), QTimer(), QTimer()
    tick.setInterval(10)
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.timeout.connect(lambda: None)
    check.setInterval(20)
    check.timeout.connect(lambda: worker.is_alive() or loop.quit())
    worker.start()
    tick.start()
    check.start()
    loop.exec()
    worker.join()
    del app
    return out[0] | {"records": len(got)}


def main() -> None:
    import argparse
    import json
    import subprocess
    import sys

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.steps)))
        return
    modes = ["main", "thread", "qt"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores usable {cores}, {args.steps} steps x batch 64", flush=True)
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for r in range(args.repeats):
        for mode in modes if r % 2 == 0 else modes[::-1]:
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode, "--steps",
                                   str(args.steps)], capture_output=True, text=True, env=env, check=True)
            res = json.loads(done.stdout.strip().splitlines()[-1])
            runs[mode].append(res)
            print(f"  repeat {r + 1} {mode:<7} training thread {res['cpu_ms']:6.2f} ms/step, voluntary "
                  f"{res['vol']:5.2f}, involuntary {res['invol']:5.2f}; other threads "
                  f"{res['others_ms']:5.2f} ms, voluntary {res['others_vol']:5.2f}  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    base = statistics.median(r["cpu_ms"] for r in runs["main"])
    for mode in modes:
        med = statistics.median(r["cpu_ms"] for r in runs[mode])
        vol = statistics.median(r["vol"] for r in runs[mode])
        print(f"median {mode:<7} training thread {med:6.2f} ms/step ({med / base:.2f}x main), "
              f"voluntary switches {vol:.2f}/step")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
