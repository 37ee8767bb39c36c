"""The same training run in the app (dashboard visible, worker thread) and as the command
line runs it (the core Trainer on the main thread), interleaved, plus the GUI's
responsiveness while the app trains.

Each repeat runs the app in a process of its own and the CLI in another, interleaved (order
reversed every other repeat): one process's memory layout alone moves the CPU a step needs
by up to ±20% (measured: 28-42 ms per step for the same run in fresh processes, one core),
so both sides sample as many processes. Modes (app, probed, thread, main: inside the app's
process, after a warm-up run; cli: its own):
  app     the RunController (training task, its thread policy: all cores, lower OS
          priority) with TrainingPanel + MetricsPlots shown; the GUI thread sits in a
          real Qt event loop (QEventLoop.exec) until the session says it has finished
  probed  the same with the latency probe below running: its 100 wake-ups a second are
          the benchmark's, not the app's (they cost the run ~4%: the GUI thread preempts
          a member of the training team each time), so the app's throughput is measured
          without it, and the responsiveness in these interleaved repeats
  thread  (--with-thread) the core Trainer in a plain Python thread with the same thread
          policy, the event loop idle: the app's threading without its UI
  cli     a separate process that trains the same project as `visionstudio train` does
          (plan_run + execute on its main thread, checkpoints into a run folder, torch's
          defaults; one warm-up run, then the measured one). A separate process because
          libgomp, torch's OpenMP, lets idle team threads spin only while the process has
          no more OpenMP threads than CPUs: in one process the app's team and a main-thread
          team would change each other's behaviour
  main    (--with-main) the Trainer on this process's main thread (that in-process effect;
          its OpenMP team then stays, so the app runs after it are not the app alone)
  lean    (--with-lean) the app with half the dashboard's drawing budget while training
  chatty  (--with-chatty) the app at 10 batch records a second, the rate it had before 4
  loose   (--with-loose-labels, with --main-window) the status bar's step and time labels
          sized by their text again, as before: each new text re-laid out the main window
  unsteady (--with-unsteady) the app with the Trainer's thread-heap pad and roomy frame off
          (core/training/allocator.py), as it trained before them: what they are worth
  --main-window: the app processes train in the app's real MainWindow (the canvas with
          its layer health, the docks, the status bar's progress and clock), not in the
          training panel and the dashboard alone
  pygc_*  (--with-python-gc) app processes with Python's own automatic collector instead of
          the app's GUI-thread one (ui/shell/collector.py), interleaved with the others
Collections: every cyclic garbage collection of a measured run is timed (gc.callbacks),
by thread (GUI or other) and generation; printed per mode with the longest one.
Throughput: images/s over the training part of each run (the trainer's own clock:
dataset loading excluded), median over repeats; ratio app/cli (target >= 0.95).
CPU (load-proof figures, benchmarks/thread_cpu.py): per-thread CPU time and context switches
from /proc, sampled on the training thread at fit start and at the last epoch's end, per
training step: the training thread, the other threads (its OpenMP helpers) and the GUI thread.
Responsiveness ("probed" runs): a 10 ms precise QTimer on the GUI thread while the app
trains; latency = how late each tick fires (interval - 10 ms); p50/p99 (target < 33 ms)
and the longest stall (target < 100 ms). Also printed: the load average, the cores this process may use
(``taskset -c 0`` for one core) and the policy the worker applied (threads, niceness).

Usage: python benchmarks/gui_training.py [--steps 60] [--batch-size 64] [--repeats 3]
       [--device auto] [--with-thread] [--with-main] [--with-python-gc] [--json out.json]
       (QT_QPA_PLATFORM=offscreen)
       taskset -c 0 python benchmarks/gui_training.py ...  (one core)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp())
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")


def project(args):
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.templates import load_template

    doc = load_template("classic_cnn")
    samples = args.steps * args.batch_size
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {"samples": samples,
                                                                        "val_samples": 0}})
    doc.training = doc.training.replace(epochs=1, batch_size=args.batch_size, val_split=0.0,
                                        device=args.device, seed=0,
                                        layer_health=not getattr(args, "no_layer_health", False))
    return doc


def headless(doc, loaded) -> float:
    from visionstudio.core.build import build_model
    from visionstudio.core.graph import analyze
    from visionstudio.core.training.trainer import Trainer

    graph = doc.graph.copy()
    model = build_model(graph, analyze(graph), seed=0)
    result = Trainer(model, doc.training).fit(loaded)
    assert result.ok, result.failure
    return result.history[-1].step * doc.training.batch_size / result.elapsed_s


class Probe:
    """A 10 ms timer on the GUI thread; records how late each tick is while ``active()``."""

    def __init__(self, active) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.lat: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.last = 0
        self.active = active
        self.timer.timeout.connect(self._tick)
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        if self.active() and self.last:
            self.lat.append(max(0.0, (now - self.last) / 1e6 - 10.0))
        self.last = now

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.lat


def in_thread(app, doc, loaded) -> tuple[float, list[float]]:
    """The engine in a plain thread under the worker's thread policy; the GUI thread waits
    in an event loop (not a polling loop: that would wake it 1,000 times a second)."""
    import threading

    from PySide6.QtCore import QEventLoop, QTimer

    from visionstudio.core.training.thread_policy import (
        apply_to_current_thread,
        default_thread_count,
        policy_for,
    )

    threads = default_thread_count()   # the GUI thread's own count is 1 once a run started
    out: list[float] = []

    def train() -> None:
        apply_to_current_thread(policy_for(doc_device(doc), threads))
        out.append(headless(doc, loaded))

    worker = threading.Thread(target=train)
    probe = Probe(worker.is_alive)
    loop, check = QEventLoop(), QTimer()
    check.setInterval(20)
    check.timeout.connect(lambda: worker.is_alive() or loop.quit())
    worker.start()
    check.start()
    loop.exec()
    check.stop()
    worker.join()
    return out[0], probe.stop()


def doc_device(doc) -> str:
    from visionstudio.core.training.device import resolve_device

    return resolve_device(doc.training.device).type


APPLIED: list = []


APP_CPU: list[dict] = []   # per app run: CPU use by thread group between fit start and the last epoch


def worker_module():
    from visionstudio.ui.training import worker

    return worker


class NoProbe:
    def __init__(self, _active) -> None:
        pass

    def stop(self) -> list[float]:
        return []


def in_app(app, doc, window, probed: bool = False) -> tuple[float, list[float]]:
    import threading

    from PySide6.QtCore import QEventLoop
    from thread_cpu import delta, process_cpu, sample_threads, split

    from visionstudio.ui.training.run_controller import runs_for

    session = runs_for(window.controller)
    window.controller.document.dataset, window.controller.document.training = doc.dataset, doc.training
    probe = (Probe if probed else NoProbe)(lambda: session.state == "running")
    loop = QEventLoop()
    marks: dict[str, object] = {"records": 0}

    def batch(_record) -> None:
        marks["records"] = int(marks["records"]) + 1

    forward = worker_module()._Forward                  # sampled on the training thread itself,
    start0, end0 = forward.on_fit_start, forward.on_epoch_end   # while its OpenMP team lives

    def on_fit_start(self, trainer, record) -> None:
        marks["before"], marks["proc0"], marks["t0"] = sample_threads(), process_cpu(), time.perf_counter()
        start0(self, trainer, record)

    def on_epoch_end(self, trainer, record) -> None:
        marks["after"], marks["proc1"], marks["steps"] = sample_threads(), process_cpu(), record.step
        marks["wall"] = time.perf_counter() - marks["t0"]
        end0(self, trainer, record)

    forward.on_fit_start, forward.on_epoch_end = on_fit_start, on_epoch_end
    hooks = ((session.batch, batch), (session.finished, loop.quit))
    for signal, slot in hooks:
        signal.connect(slot)
    assert session.train(), session.last_failure
    worker = session.worker
    if session.active_run is not None:
        loop.exec()
    for signal, slot in hooks:
        signal.disconnect(slot)
    forward.on_fit_start, forward.on_epoch_end = start0, end0
    lat = probe.stop()
    if worker is not None and worker.thread_policy is not None and not probed:
        APPLIED.append(worker.thread_policy)
        per_thread = delta(marks["before"], marks["after"])
        used = split(per_thread, threading.get_native_id(), worker.thread_policy.thread_id)
        named, steps = sorted(((s.voluntary, s.name, s.cpu_s) for tid, s in per_thread.items() if tid
                               not in (threading.get_native_id(), worker.thread_policy.thread_id)),
                              reverse=True)[:4], max(int(marks["steps"]), 1)
        print("  busiest other threads (voluntary switches / CPU ms per step): " + ", ".join(
            f"{n or '?'} {v / steps:.1f} / {1e3 * c / steps:.2f}" for v, n, c in named), flush=True)
        APP_CPU.append({k: [v.cpu_s, v.voluntary, v.involuntary] for k, v in used.items()}
                       | {"steps": marks["steps"], "records": marks["records"],
                          "process_cpu_s": marks["proc1"][0] - marks["proc0"][0], "wall_s": marks["wall"]})
    result = session.last_result
    assert result is not None and result.ok, session.last_failure
    return result.history[-1].step * doc.training.batch_size / result.elapsed_s, lat


class _CpuProbe:
    """A trainer callback sampling per-thread CPU at fit start and at the last epoch's end
    (on the training thread: the OpenMP helpers are still alive then)."""

    def __init__(self) -> None:
        self.before = self.after = None
        self.steps = 0

    def on_fit_start(self, trainer, record) -> None:
        from thread_cpu import sample_threads

        self.before, self.t0 = sample_threads(), time.perf_counter()

    def on_epoch_end(self, trainer, record) -> None:
        from thread_cpu import sample_threads

        self.after, self.steps = sample_threads(), record.step
        self.wall = time.perf_counter() - self.t0

    def __getattr__(self, name):          # the other hooks: nothing
        if name.startswith("on_"):
            return lambda *a: None
        raise AttributeError(name)


def cli_once(args) -> tuple[float, dict]:
    """`--cli-once`: this process trains as `visionstudio train` does (plan_run + execute on
    the main thread, checkpoints into a run folder, no Qt); returns (images/s, CPU use)."""
    import threading

    from thread_cpu import delta, split

    from visionstudio.core.training.plan import execute, plan_run

    doc = project(args)
    out = {}
    watch_collections()
    for _ in range(2):                                 # warm-up (allocator, kernels), measured
        COLLECTIONS.clear()
        plan = plan_run(doc)
        probe = _CpuProbe()
        with tempfile.TemporaryDirectory() as run_dir:
            result = execute(plan, [probe], run_dir=run_dir)
        assert result.status == "completed", result.failure
        out = split(delta(probe.before, probe.after), None, threading.get_native_id())
    fit = result.fit
    ips = fit.history[-1].step * doc.training.batch_size / fit.elapsed_s
    cpu = {k: [v.cpu_s, v.voluntary, v.involuntary] for k, v in out.items()}
    return ips, cpu | {"steps": probe.steps, "wall_s": probe.wall,
                       "collections": collection_summary(COLLECTIONS)}


def in_cli(args) -> float:
    return cli_run(args)[0]


def cli_run(args) -> tuple[float, dict]:
    """`visionstudio train`'s loop in a process of its own: (images/s, its CPU use)."""
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--cli-once", "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--device", args.device, "--threads", str(args.threads)] + \
        (["--no-layer-health"] if args.no_layer_health else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("CLI_RESULT "):
            got = json.loads(line.split(" ", 1)[1])
            return got["ips"], got["cpu"]
    raise SystemExit(f"the CLI run failed:\n{done.stdout}\n{done.stderr}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def build_app(args):
    """The app's window (TrainingPanel + MetricsPlots, a real QApplication) and the
    dataset for the in-process modes; (app, doc, window, loaded, torch)."""
    from PySide6.QtWidgets import QApplication, QSplitter

    app = QApplication(sys.argv[:1])
    if not args.python_gc:   # as the app does (visionstudio/app.py main)
        from visionstudio.ui.shell import collector

        collector.install(app)
    watch_collections()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.training.panel import TrainingPanel

    doc = project(args)
    # generated in a throwaway thread: a torch op on the GUI thread would give it an OpenMP
    # team of its own, which the app (whose GUI thread trains nothing) does not have
    loaded = []
    maker = __import__("threading").Thread(target=lambda: loaded.append(
        load_dataset(doc.dataset, val_split=0.0, seed=0)))
    maker.start()
    maker.join()
    controller = DocumentController(project(args))
    if args.main_window:   # the whole app: canvas, docks, status bar, training integration
        from PySide6.QtCore import QSettings

        from visionstudio.ui.shell.main_window import MainWindow

        folder = tempfile.mkdtemp()
        window = MainWindow(controller, settings=QSettings(os.path.join(folder, "settings.ini"),
                                                           QSettings.Format.IniFormat),
                            recovery_dir=__import__("pathlib").Path(folder) / "recovery")
        window.resize(1600, 1000)
        window.show()
        for _ in range(20):
            app.processEvents()
        from PySide6.QtWidgets import QDockWidget

        for dock in window.findChildren(QDockWidget):   # a user watching the curves
            if dock.windowTitle() == "Metrics":
                dock.raise_()
    else:
        window = QSplitter()
        window.controller = controller
        window.addWidget(TrainingPanel(controller))
        window.addWidget(MetricsPlots(controller))
        window.resize(1400, 700)
    window.show()
    for _ in range(20):    # the main window builds its docks in the first event-loop turns
        app.processEvents()
        time.sleep(0.01)
    return app, doc, window, loaded[0], torch


COLLECTIONS: list[tuple[bool, int, float]] = []   # (on the GUI thread, generation, seconds)


def watch_collections() -> None:
    """Time every cyclic collection of this process and note its thread (gc.callbacks)."""
    import gc
    import threading

    gui, started = threading.get_ident(), {}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[threading.get_ident()] = time.perf_counter()
        elif threading.get_ident() in started:
            took = time.perf_counter() - started.pop(threading.get_ident())
            COLLECTIONS.append((threading.get_ident() == gui, info["generation"], took))

    gc.callbacks.append(callback)


def collection_summary(kept: list[tuple[bool, int, float]]) -> dict:
    out = {}
    for on_gui, where in ((True, "gui"), (False, "other")):
        got = [(g, t) for g_ui, g, t in kept if g_ui == on_gui]
        out[where] = {"count": len(got), "full": sum(1 for g, _ in got if g == 2),
                      "total_ms": 1000 * sum(t for _, t in got),
                      "longest_ms": 1000 * max((t for _, t in got), default=0.0)}
    return out


def print_collections(runs: list[dict], cli_cpu: list[dict]) -> None:
    """Cyclic collections per run, summed over the repeats: on the GUI thread and elsewhere
    (the training thread, its helpers), with the longest one."""
    per_mode: dict[str, list[dict]] = {}
    for run in runs:
        for mode, summary in run.get("collections", {}).items():
            per_mode.setdefault(mode, []).append(summary)
    per_mode["cli"] = [cpu["collections"] for cpu in cli_cpu if "collections" in cpu]
    print("cyclic garbage collections during a run (mean per run: count, full ones, total ms, longest ms):")
    for mode, got in per_mode.items():
        if not got:
            continue
        parts = []
        for where in ("gui", "other"):
            n = len(got)
            c = sum(g[where]["count"] for g in got) / n
            f = sum(g[where]["full"] for g in got) / n
            t = sum(g[where]["total_ms"] for g in got) / n
            longest = max(g[where]["longest_ms"] for g in got)
            label = "main thread" if mode == "cli" and where == "gui" else \
                "GUI thread" if where == "gui" else "other threads"
            parts.append(f"{label} {c:.1f}, {f:.1f} full, {t:.1f} ms, longest {longest:.1f} ms")
        print(f"  {mode:12s} " + "; ".join(parts))


def app_once(args) -> dict:
    """`--app-once`: one app process: a warm-up run, then each in-process mode once (order
    by ``--order``); returns their images/s, latencies, CPU use and the applied policy."""
    from visionstudio.core.training.thread_policy import default_thread_count

    app, doc, window, loaded, torch = build_app(args)
    in_app(app, doc, window)                           # warm-up (allocator, kernels)
    APP_CPU.clear()
    modes = ["app", "probed"] + (["thread"] if args.with_thread else []) + \
        (["main"] if args.with_main else []) + (["no_health"] if args.with_no_health else []) + \
        (["lean"] if args.with_lean else []) + (["chatty"] if args.with_chatty else []) + \
        (["unsteady"] if args.with_unsteady else []) + (["loose"] if args.with_loose_labels else [])
    out: dict = {"ips": {}, "lat": {}, "device": "cuda" if args.device == "auto" and
                 torch.cuda.is_available() else "cpu" if args.device == "auto" else args.device,
                 "torch_threads": default_thread_count()}
    for mode in (modes if args.order % 2 == 0 else modes[::-1]):
        COLLECTIONS.clear()
        if mode in ("app", "probed"):
            v, got = in_app(app, doc, window, probed=mode == "probed")
        elif mode == "lean":
            v, got = app_with(app, doc, window, budget=0.5)   # half the drawing budget
        elif mode == "chatty":
            v, got = app_with(app, doc, window, interval=CHATTY_REPORT_INTERVAL_S)
        elif mode == "loose":
            v, got = app_loose_labels(app, doc, window)
        elif mode == "unsteady":
            v, got = app_unsteady(app, doc, window)
        elif mode == "no_health":
            quiet = project(args)
            quiet.training = quiet.training.replace(layer_health=False)
            v, got = in_app(app, quiet, window)
        elif mode == "thread":
            v, got = in_thread(app, doc, loaded)
        else:
            v, got = headless(doc, loaded), []
        out["ips"][mode], out["lat"][mode] = v, got
        out.setdefault("collections", {})[mode] = collection_summary(COLLECTIONS)
        if APP_CPU:
            out.setdefault("cpu_modes", {})[mode] = APP_CPU.pop()
    out["cpu"] = out.get("cpu_modes", {}).get("app")
    policy = APPLIED[-1] if APPLIED else None
    out["policy"] = None if policy is None else {"threads": policy.threads, "nice": policy.nice,
                                                 "note": policy.note}
    from visionstudio.ui.training.run_controller import runs_for

    runs_for(window.controller).shutdown()
    if args.python_gc:   # its modes under their own names, beside the collector's
        for key in ("ips", "lat", "collections", "cpu_modes"):
            if key in out:
                out[key] = {f"pygc_{mode}": v for mode, v in out[key].items()}
        out["cpu"] = None   # reported apart, as pygc_app's
    return out


CHATTY_REPORT_INTERVAL_S = 0.1   # "chatty": the batch-record rate the app had before (10 a second)


def app_with(app, doc, window, interval: float | None = None,
             budget: float | None = None) -> tuple[float, list[float]]:
    """The app with another batch-record interval or with its drawing budget times
    ``budget``: what the GUI's own share of a core costs the run, side by side with the app
    as it is."""
    from visionstudio.ui.plots import metrics

    worker = worker_module()
    saved = worker.REPORT_INTERVAL_S, metrics.TRAINING_BUDGET
    worker.REPORT_INTERVAL_S = saved[0] if interval is None else interval
    metrics.TRAINING_BUDGET = saved[1] if budget is None else budget * saved[1]
    try:
        return in_app(app, doc, window)
    finally:
        worker.REPORT_INTERVAL_S, metrics.TRAINING_BUDGET = saved


def app_loose_labels(app, doc, window) -> tuple[float, list[float]]:
    """The main window with its status-bar labels free to follow their text (before the
    fixed size in ui/training/integration.py), side by side with the app as it is."""
    from visionstudio.ui.training.integration import install

    labels = [install(window).step_label, install(window).time_label]
    fixed = [(label.minimumSize(), label.maximumSize()) for label in labels]
    for label in labels:
        label.setMinimumSize(0, 0)
        label.setMaximumSize(16777215, 16777215)
    try:
        return in_app(app, doc, window)
    finally:
        for label, (low, high) in zip(labels, fixed):
            label.setMinimumSize(low)
            label.setMaximumSize(high)


def app_unsteady(app, doc, window) -> tuple[float, list[float]]:
    """The app with the Trainer's fit neither raising glibc's top pad nor running below the
    roomy frame (allocator.py), side by side with the app as it is."""
    import contextlib

    from visionstudio.core.training import trainer

    saved = trainer.steady_thread_heaps, trainer.with_frame_room
    trainer.steady_thread_heaps = lambda: contextlib.nullcontext(False)
    trainer.with_frame_room = lambda fn, *a, **k: fn(*a, **k)
    try:
        return in_app(app, doc, window)
    finally:
        trainer.steady_thread_heaps, trainer.with_frame_room = saved


def app_run(args, order: int, python_gc: bool = False) -> dict:
    """One app process (``app_once``), as a separate process, like the CLI's."""
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--app-once", "--order", str(order)] + \
        (["--python-gc"] if python_gc else []) + [
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--device", args.device,
           "--threads", str(args.threads)] + (["--with-thread"] if args.with_thread else []) + \
        (["--main-window"] if args.main_window else []) + \
        (["--no-layer-health"] if args.no_layer_health else []) + \
        (["--with-no-health"] if args.with_no_health else []) + \
        (["--with-lean"] if args.with_lean else []) + \
        (["--with-chatty"] if args.with_chatty else []) + \
        (["--with-unsteady"] if args.with_unsteady else []) + \
        (["--with-loose-labels"] if args.with_loose_labels else []) + \
        (["--with-main"] if args.with_main else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("APP_RESULT "):
            return json.loads(line.split(" ", 1)[1])
    raise SystemExit(f"the app run failed:\n{done.stdout}\n{done.stderr}")


def report(args, runs: list[dict], ips: dict[str, list[float]], cli_cpu: list[dict], cores: int) -> dict:
    med = {k: statistics.median(v) for k, v in ips.items()}
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    out = {"device": runs[0]["device"], "steps": args.steps, "batch_size": args.batch_size, "cores": cores,
           "torch_threads": runs[0]["torch_threads"], "images_per_s": med, "runs": ips,
           "ratio_app_vs_cli": med["app"] / med["cli"], "load_average_end": load}
    policy = runs[-1]["policy"]
    if policy is not None:
        out["worker_policy"] = policy
        print(f"worker thread policy: {policy['threads']} torch threads, niceness {policy['nice']} "
              f"(GUI thread {os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, 'getpriority') else '?'})"
              + (f"; {policy['note']}" if policy["note"] else ""))
    line = f"throughput (median images/s): app {med['app']:.1f}, CLI (own process) {med['cli']:.1f}"
    out["ratio_probed_vs_cli"] = med["probed"] / med["cli"]
    line += f", app with the latency probe {med['probed']:.1f}"
    extra = f", app with the latency probe / CLI {out['ratio_probed_vs_cli']:.3f}"
    for mode, words in (("no_health", "app without layer health"), ("lean", "lean app"),
                        ("chatty", "app at 10 batch records a second"),
                        ("unsteady", "app without the heap pad and roomy frame"),
                        ("loose", "app with text-sized status labels"),
                        ("thread", "engine in a thread"),
                        ("main", "engine on this main thread")):
        if mode in med:
            out[f"ratio_app_vs_{mode}"] = med["app"] / med[mode]
            line += f", {words} {med[mode]:.1f}"
            extra += f", app / {words} {out[f'ratio_app_vs_{mode}']:.3f}"
    print(line)
    print(f"  ratio app / CLI {out['ratio_app_vs_cli']:.3f} (target >= 0.95){extra}")
    if "pygc_app" in med:
        out["ratio_pygc_app_vs_cli"] = med["pygc_app"] / med["cli"]
        out["ratio_app_vs_pygc_app"] = med["app"] / med["pygc_app"]
        print(f"  with Python's own collector: app {med['pygc_app']:.1f} images/s, / CLI "
              f"{out['ratio_pygc_app_vs_cli']:.3f}; the app's GUI-thread collector / Python's "
              f"{out['ratio_app_vs_pygc_app']:.3f}")
    print_collections(runs, cli_cpu)
    for mode in ("probed", "pygc_probed", "thread"):
        values = [v for run in runs for v in run["lat"].get(mode, [])]
        if mode not in ips:
            continue
        stats = {"ticks": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99),
                 "max_ms": max(values or [float("nan")])}
        out[f"latency_{mode}"] = stats
        print(f"event-loop latency, {mode} ({stats['ticks']} ticks): p50 {stats['p50_ms']:.1f} ms, "
              f"p99 {stats['p99_ms']:.1f} ms (target < 33), longest stall {stats['max_ms']:.1f} ms "
              f"(target < 100)")
    from thread_cpu import cpu_report

    out["cpu"] = cpu_report([run["cpu"] for run in runs if run["cpu"]], cli_cpu)
    for mode in ("lean", "chatty", "no_health", "unsteady", "loose", "pygc_app"):
        got = [run["cpu_modes"][mode] for run in runs if mode in run.get("cpu_modes", {})]
        if got:
            print(f"  ({mode}, same figures:", end=" ", flush=True)
            out[f"cpu_{mode}"] = cpu_report(got, [])
            print(")")
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    ap.add_argument("--with-thread", action="store_true", help="also the engine in a plain thread")
    ap.add_argument("--with-main", action="store_true", help="also the engine on this process's main thread")
    ap.add_argument("--cli-once", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--app-once", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--order", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--no-layer-health", action="store_true",
                    help="the project's layer health off (the app samples it, the CLI does not)")
    ap.add_argument("--with-no-health", action="store_true",
                    help="also the app with the project's layer health off (mode no_health)")
    ap.add_argument("--with-lean", action="store_true",
                    help="also the app with half the drawing budget while training")
    ap.add_argument("--with-chatty", action="store_true",
                    help="also the app at 10 batch records a second (the former rate)")
    ap.add_argument("--with-unsteady", action="store_true",
                    help="also the app without the Trainer's thread-heap pad and roomy frame")
    ap.add_argument("--with-loose-labels", action="store_true",
                    help="also the main window with text-sized status-bar labels (the former way)")
    ap.add_argument("--python-gc", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--with-python-gc", action="store_true",
                    help="also app processes with Python's own collector instead of the app's "
                         "GUI-thread one (modes pygc_app, pygc_probed)")
    ap.add_argument("--main-window", action="store_true",
                    help="the app processes train in the real main window (canvas, docks, status "
                         "bar) instead of the training panel and the dashboard alone")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.cli_once:
        if args.threads:
            __import__("torch").set_num_threads(args.threads)
        ips, cpu = cli_once(args)
        print("CLI_RESULT " + json.dumps({"ips": ips, "cpu": cpu}), flush=True)
        return 0
    if args.app_once:
        print("APP_RESULT " + json.dumps(app_once(args)), flush=True)
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"classic CNN, shapes, {args.steps} steps x batch {args.batch_size}, device {args.device}, "
          f"cores usable {cores}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"each app and CLI repeat in a process of its own", flush=True)
    runs: list[dict] = []
    cli_cpu: list[dict] = []
    ips: dict[str, list[float]] = {}
    for rep in range(args.repeats):
        sides = ("app", "cli") + (("pygc",) if args.with_python_gc else ())
        for side in (sides if rep % 2 == 0 else sides[::-1]):
            if side in ("app", "pygc"):
                run = app_run(args, rep, python_gc=side == "pygc")
                runs.append(run)
                got = run["ips"]
            else:
                v, cpu = cli_run(args)
                cli_cpu.append(cpu)
                got = {"cli": v}
            for mode, v in got.items():
                ips.setdefault(mode, []).append(v)
                print(f"  repeat {rep + 1} {mode:7s} {v:9.1f} images/s", flush=True)
    out = report(args, runs, ips, cli_cpu, cores)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
