"""Start-up benchmark: first paint, document ready, event-loop stalls, quit -> exit.

Each run starts the app's real entry point (``visionstudio.cli.main()``, as the program)
in a child process, after one warm-up run that is not counted. The child installs a
probe before the app starts: a 10 ms QTimer whose ticks, once the window has shown,
record every gap between two ticks for ``--watch`` seconds, and at least until the
later docks are in plus one second (a gap is how long a click or key press would have
waited). Then it closes the window as a user would and prints the moment;
this process times how long the child takes to exit after that. The app itself prints
the first-paint and document-ready times (VISIONSTUDIO_STARTUP_T0).

Targets: first paint < 1.5 s warm, no stall > 100 ms after the window shows,
quit -> exit < 1 s, torch not imported (the app loads it when Train or the feature maps
first need it).

    python benchmarks/startup.py [--runs 5] [--watch 10] [--platform offscreen]
                                 [--torch-baseline] [--stacks] [--show-tab metrics]

``--show-tab metrics`` picks the Metrics tab at +3 s and the Feature maps tab at +5.5 s,
as a user would, and reports the longest stall after each (their panels are built in
steps then; the feature maps first load torch on a worker thread, so torch is imported).

``--stacks`` prints what the GUI thread was doing during each stall > 100 ms (a
watchdog thread samples its stack): where to look when a stall comes back.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STALL_MS = 100.0

# Runs in the child: the probe, then the app's own main().
CHILD = r"""
import os, sys, threading, time, traceback
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

WATCH_S, STACKS, SHOW_TAB = float(sys.argv[1]), sys.argv[2] == "1", sys.argv[3] == "1"
TAB_S = (("metricsPlots", 3.0), ("featureMapView", 5.5))   # the user picks these tabs then
app = QApplication([sys.argv[0]])
ticks = []
seen = {}
main_ident = threading.get_ident()
stacks = []

def tick():
    ticks.append(time.perf_counter())
    window = main_window()
    docks = window is not None and getattr(window, "later_docks_added", True)
    if docks and "docks" not in seen:
        seen["docks"] = (ticks[-1] - ticks[0]) * 1000
    if SHOW_TAB and docks:
        # each tab at its second, but at least 0.5 s after the docks are in and 2 s after the
        # tab before (so one's stall is not counted as the next one's)
        earliest = seen["docks"] / 1000 + 0.5
        for key, at in TAB_S:
            if key in seen:
                earliest = (ticks[seen[key]] - ticks[0]) + 2.0
            elif ticks[-1] - ticks[0] >= max(at, earliest):
                seen[key] = len(ticks) - 1
                window.docks[key].raise_()
                break
            else:
                break
    # At least WATCH_S, and until the later docks are in (the last start-up work) + 1 s.
    if ticks[-1] - ticks[0] >= max(WATCH_S, seen.get("docks", 1e9) / 1000 + 1) \
            or ticks[-1] - ticks[0] >= 120:
        timer.stop()
        report()

def main_window():
    return next((w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"), None)

def report():
    gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]
    worst = max(gaps, default=0.0)
    at = (ticks[gaps.index(worst)] - ticks[0]) * 1000 if gaps else 0.0
    over = sum(1 for g in gaps if g > 100)
    marks = [seen[k] for k, _ in TAB_S if k in seen] + [len(ticks)]
    for (key, _at), start, end in zip(TAB_S, marks, marks[1:]):
        print(f"tab {key} at-ms {(ticks[start] - ticks[0]) * 1000:.0f} "
              f"stall-ms {max(gaps[start:end], default=0.0):.1f}", flush=True)
    print(f"stall-max-ms {worst:.1f} at-ms {at:.0f} stalls-over-100 {over} "
          f"docks-ms {seen.get('docks', -1):.0f} torch-imported {'torch' in sys.modules}", flush=True)
    for line in stacks:
        print(line, flush=True)
    window = main_window()
    print(f"quit-at {time.time():.6f}", flush=True)
    window.close()

def watchdog():
    seen = 0.0
    while timer_running[0]:
        time.sleep(0.02)
        if ticks and time.perf_counter() - ticks[-1] > 0.1 and ticks[-1] != seen:
            seen = ticks[-1]
            frames = sys._current_frames()
            frame = frames.get(main_ident)
            entries = [e for e in traceback.extract_stack(frame) if "<frozen" not in e.filename]
            where = "".join(traceback.format_list(entries[-14:])) if frame else "?"
            # the other threads' innermost frames: one may hold the GIL (an import)
            names = {t.ident: t.name for t in threading.enumerate()}
            others = "".join(
                f"  [thread {names.get(ident, ident)}] "
                + " <- ".join(f"{e.filename.rsplit('/', 1)[-1]}:{e.lineno}"
                              for e in traceback.extract_stack(f)[-3:][::-1]) + "\n"
                for ident, f in frames.items()
                if ident not in (main_ident, threading.get_ident()))
            stacks.append(f"--- stall at {(seen - ticks[0]) * 1000:.0f} ms:\n{where}{others}")

class Shown(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not timer.isActive() and not ticks:
            app.removeEventFilter(self)
            ticks.append(time.perf_counter())
            timer.start()
            if STACKS:
                threading.Thread(target=watchdog, daemon=True).start()
        return False

timer = QTimer()
timer.setInterval(10)
timer.timeout.connect(tick)
timer_running = [True]
shown = Shown()
app.installEventFilter(shown)
from visionstudio.cli import main
sys.argv = ["visionstudio"]
code = main()  # as the program: the app ends the process itself
timer_running[0] = False
sys.exit(code)
"""


@dataclass
class Run:
    paint_ms: float
    ready_ms: float | None
    stall_ms: float
    stall_at_ms: float
    stalls: int
    quit_ms: float
    docks_ms: float
    torch: bool   # torch was imported by the end of the watch (start-up should not)
    text: str


def _number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def one_run(env: dict[str, str], watch: float, stacks: bool, timeout: float,
            show_tab: bool = False) -> Run:
    env = dict(env, VISIONSTUDIO_STARTUP_T0=f"{time.time():.6f}")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(watch), "1" if stacks else "0",
                              "1" if show_tab else "0"],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
        raise SystemExit(f"the app did not exit within {timeout:.0f} s:\n{out[-3000:]}") from None
    exited = time.time()
    paint = _number(r"first-paint-ms ([\d.]+)", out)
    stall = _number(r"stall-max-ms ([\d.]+)", out)
    quit_at = _number(r"quit-at ([\d.]+)", out)
    if paint is None or stall is None or quit_at is None:
        raise SystemExit(f"the app printed no timings (exit {child.returncode}):\n{out[-3000:]}")
    return Run(paint, _number(r"document-ready-ms ([\d.]+)", out), stall,
               _number(r"at-ms ([\d.]+)", out) or 0.0, int(_number(r"stalls-over-100 (\d+)", out) or 0),
               (exited - quit_at) * 1000, _number(r"docks-ms (-?[\d.]+)", out) or -1.0,
               "torch-imported True" in out.split("stall-max-ms", 1)[-1], out)


def torch_import_ms() -> float:
    code = "import time; t=time.perf_counter(); import torch; print((time.perf_counter()-t)*1000)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.strip())


def _summary(name: str, values: list[float], target: str) -> str:
    return (f"median {name}: {statistics.median(values):.1f} ms "
            f"(min {min(values):.1f}, max {max(values):.1f}; target {target})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--watch", type=float, default=10.0, help="seconds of stall probing")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--stacks", action="store_true", help="print the GUI thread's stack in each stall")
    parser.add_argument("--show-tab", choices=["metrics"],
                        help="metrics: pick the Metrics tab at +3 s and the Feature maps tab at "
                             "+5.5 s (their panels are built then) and report the longest stall after each "
                             "(the feature maps load torch first)")
    parser.add_argument("--torch-baseline", action="store_true",
                        help="also time a bare 'import torch' (what start-up avoids)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=args.platform, VISIONSTUDIO_NO_RECOVERY_PROMPT="1",
                   XDG_CONFIG_HOME=f"{tmp}/config", XDG_STATE_HOME=f"{tmp}/state",
                   XDG_CACHE_HOME=f"{tmp}/cache", XDG_DATA_HOME=f"{tmp}/data")
        one_run(env, 2.0, False, args.timeout)  # warm-up: file system caches, .pyc files
        runs, tabs = [], {}
        watch = max(args.watch, 15.0) if args.show_tab else args.watch   # the tabs' panels built
        for i in range(args.runs):
            run = one_run(env, watch, args.stacks, args.timeout, bool(args.show_tab))
            runs.append(run)
            ready = run.ready_ms if run.ready_ms is not None else float("nan")
            print(f"run {i + 1}: first paint {run.paint_ms:7.1f} ms   document ready {ready:7.1f} ms   "
                  f"longest stall {run.stall_ms:6.1f} ms (at +{run.stall_at_ms:.0f} ms, "
                  f"{run.stalls} over {STALL_MS:.0f} ms; later docks in at +{run.docks_ms:.0f} ms)   "
                  f"quit -> exit {run.quit_ms:6.1f} ms")
            for key, at, stall in re.findall(r"tab (\w+) at-ms (\d+) stall-ms ([\d.]+)", run.text):
                tabs.setdefault(key, []).append(float(stall))
                print(f"       {key} tab shown at +{at} ms: longest stall after it {float(stall):6.1f} ms")
            if args.stacks:
                for block in re.findall(r"--- stall at .*?(?=\n---|\Z)", run.text, re.S):
                    print(block)
    print(_summary("first paint", [r.paint_ms for r in runs], "< 1500 ms"))
    readies = [r.ready_ms for r in runs if r.ready_ms is not None]
    if readies:
        print(f"median document ready: {statistics.median(readies):.1f} ms")
    print(_summary(f"longest stall in the first {watch:.0f} s", [r.stall_ms for r in runs],
                   f"<= {STALL_MS:.0f} ms"))
    for key, stalls in tabs.items():
        print(_summary(f"stall after showing {key}", stalls, f"<= {STALL_MS:.0f} ms"))
    print(_summary("quit -> process exit", [r.quit_ms for r in runs], "< 1000 ms"))
    print(f"torch imported during the watch: {sum(r.torch for r in runs)} of {len(runs)} runs (target 0)")
    if args.torch_baseline:
        print(f"bare 'import torch': {torch_import_ms():.1f} ms")
    try:
        load = os.getloadavg()[0]
        print(f"load average while measuring: {load:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
