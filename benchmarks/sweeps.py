"""Sweep figures: the orchestration overhead per trial, and the speed-up of two workers.

Overhead: a sweep of tiny trials in this process (after one warm-up trial, which pays
torch's first-use costs); per trial, the sweep's wall time minus the runs' own training
time (``fit.elapsed_s``): planning, building, the study's database work, the run's
files. Target: under 1 s.

Speed-up: the same 8-trial grid study run by one ``visionstudio sweep-worker`` process
and then by two at once on a fresh SQLite study, each process with one torch thread
(OMP_NUM_THREADS=1); the ratio of the two wall times, process starts included, and of
the spans from the first trial's start to the last trial's end (the study's timestamps:
process starts left out).

    python benchmarks/sweeps.py [--trials 8] [--samples 600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402 - after the path: the checkout's package, not an installed one
import torch  # noqa: E402 - as above

from tests.core.sweep_helpers import tiny_project  # noqa: E402 - as above
from visionstudio.core.data.config import DatasetConfig  # noqa: E402 - as above
from visionstudio.core.sweeps.bundle import write_bundle  # noqa: E402 - as above
from visionstudio.core.sweeps.config import SweepConfig  # noqa: E402 - as above
from visionstudio.core.sweeps.study import SweepRunner, load_study_rows  # noqa: E402 - as above


def overhead(folder: Path, trials: int) -> dict[str, float]:
    torch.set_num_threads(1)
    doc = tiny_project()
    warm = SweepConfig.from_dict({"name": "warm", "sampler": "random", "trials": 1, "epochs": 1,
                                  "parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True}}})
    SweepRunner(doc, warm, runs_root=folder / "runs").run()
    config = SweepConfig.from_dict({"name": "overhead", "sampler": "random", "trials": trials, "epochs": 1,
                                    "parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True}}})
    start = time.perf_counter()
    summary = SweepRunner(doc, config, runs_root=folder / "runs").run()
    wall = time.perf_counter() - start
    training = sum(r.training_s for r in summary.rows)
    per_trial = [r.seconds - r.training_s for r in summary.rows]
    return {"trials": len(summary.rows), "wall_s": wall, "training_s": training,
            "overhead_per_trial_s": (wall - training) / len(summary.rows),
            "inside_trial_median_s": statistics.median(per_trial)}


def _workers(bundle: Path, storage: str, count: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    optuna.create_study(study_name="speed", storage=storage)   # tables made before the race
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "visionstudio", "sweep-worker", str(bundle),
                               "--storage", storage, "--device", "cpu"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(count)]
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed:\n{out}\n{err}")
    return time.perf_counter() - start


def speedup(folder: Path, trials: int, samples: int) -> dict[str, float]:
    doc = tiny_project()
    doc.set_dataset(DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 12, "classes": 3, "samples": samples, "val_samples": 60}}))
    doc.set_training(doc.training.replace(batch_size=20))
    lrs = [round(1e-3 * (1 + i), 6) for i in range(trials)]
    config = SweepConfig.from_dict({"name": "speed", "sampler": "grid", "epochs": 1,
                                    "parameters": {"optimizer.lr": lrs}})
    times = {}
    for count in (1, 2):
        bundle = folder / f"bundle{count}"
        write_bundle(doc, config, bundle)
        storage = f"sqlite:///{folder / f'speed{count}.db'}"
        times[count] = _workers(bundle, storage, count)
        rows = load_study_rows(storage, "speed")
        assert len(rows) == trials and all(r.state == "complete" for r in rows), rows
        times[f"train{count}"] = sum(r.training_s for r in rows)
        done = [t for t in optuna.load_study(study_name="speed", storage=storage).trials
                if t.state.name == "COMPLETE"]
        times[f"span{count}"] = (max(t.datetime_complete for t in done)
                                 - min(t.datetime_start for t in done)).total_seconds()
    return {"one_worker_s": times[1], "two_workers_s": times[2], "speedup": times[1] / times[2],
            "span_one_s": times["span1"], "span_two_s": times["span2"],
            "span_speedup": times["span1"] / times["span2"],
            "training_s_one": times["train1"], "training_s_two": times["train2"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--samples", type=int, default=600)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        o = overhead(Path(tmp) / "o", args.trials)
        print(f"overhead: {o['trials']} trials in {o['wall_s']:.2f} s, of which training "
              f"{o['training_s']:.2f} s -> {o['overhead_per_trial_s']:.3f} s per trial "
              f"(inside a trial, median {o['inside_trial_median_s']:.3f} s; target < 1 s)")
        s = speedup(Path(tmp) / "s", args.trials, args.samples)
        print(f"speed-up: {args.trials} trials, 1 worker {s['one_worker_s']:.1f} s, 2 workers "
              f"{s['two_workers_s']:.1f} s (1 torch thread each) -> {s['speedup']:.2f}x; "
              f"first trial to last: {s['span_one_s']:.1f} s vs {s['span_two_s']:.1f} s -> "
              f"{s['span_speedup']:.2f}x (summed training time {s['training_s_one']:.1f} s vs "
              f"{s['training_s_two']:.1f} s)")


if __name__ == "__main__":
    main()
