"""Start-up benchmark: process spawn -> first painted main window, and -> document ready.

Runs ``python -m visionstudio`` several times (after one warm-up run that is not
counted) with VISIONSTUDIO_STARTUP_T0 set to the spawn time; the app prints the
milliseconds to its first Paint event and to the moment the first document is in
place, then quits. Reports each run and the medians. Target: first paint < 1.5 s warm.

    python benchmarks/startup.py [--runs 5] [--platform offscreen] [--torch-baseline]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(env: dict[str, str], timeout: float) -> tuple[float, float | None, bool]:
    env = dict(env, VISIONSTUDIO_STARTUP_T0=f"{time.time():.6f}", VISIONSTUDIO_STARTUP_EXIT="1")
    out = subprocess.run([sys.executable, "-m", "visionstudio"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    paint = re.search(r"first-paint-ms ([\d.]+) torch-imported (\w+)", text)
    ready = re.search(r"document-ready-ms ([\d.]+)", text)
    if paint is None:
        raise SystemExit(f"no first-paint line (exit {out.returncode}):\n{text[-3000:]}")
    return float(paint.group(1)), float(ready.group(1)) if ready else None, paint.group(2) == "True"


def torch_import_ms() -> float:
    code = "import time; t=time.perf_counter(); import torch; print((time.perf_counter()-t)*1000)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--torch-baseline", action="store_true",
                        help="also time a bare 'import torch' (what start-up avoids)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=args.platform, VISIONSTUDIO_NO_RECOVERY_PROMPT="1",
                   XDG_CONFIG_HOME=f"{tmp}/config", XDG_STATE_HOME=f"{tmp}/state",
                   XDG_CACHE_HOME=f"{tmp}/cache", XDG_DATA_HOME=f"{tmp}/data")
        one_run(env, args.timeout)  # warm-up: file system caches, .pyc files
        paints, readies = [], []
        for i in range(args.runs):
            paint, ready, torch_loaded = one_run(env, args.timeout)
            paints.append(paint)
            if ready is not None:
                readies.append(ready)
            print(f"run {i + 1}: first paint {paint:7.1f} ms   document ready "
                  f"{ready if ready is not None else float('nan'):7.1f} ms   "
                  f"torch loaded at first paint: {torch_loaded}")
    print(f"median first paint: {statistics.median(paints):.1f} ms "
          f"(min {min(paints):.1f}, max {max(paints):.1f}; target < 1500 ms)")
    if readies:
        print(f"median document ready: {statistics.median(readies):.1f} ms")
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
