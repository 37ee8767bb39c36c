"""``visionstudio sweep-worker BUNDLE --storage URL``: pull trials of a shared study.

Run it on any number of machines (and once per GPU with ``--device cuda:N``) against
one Optuna storage: each worker takes the next trial the study's sampler proposes,
trains it as a run in ``BUNDLE/project.vsproj.runs/`` and records its value in the
study, until the budget is spent. Each worker seeds its sampler differently (so two
workers never draw from the same random stream); the trials' training seeds are the
sweep's. ``--export-trial N --out DIR`` writes trial N's network and settings as a
train.py folder instead (torchrun-ready, see the bundle's README). Exit status as
``visionstudio sweep``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from visionstudio.commands.sweep import EXIT_SETUP, line_printer, quiet_optuna, run_sweep, shown_url


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep-worker", help="run trials of a shared sweep study from a sweep bundle",
        description="Pull trials from the Optuna study a sweep bundle defines (visionstudio sweep "
                    "--bundle) and train them here; run one per machine or GPU against one storage.")
    parser.add_argument("bundle", metavar="BUNDLE", help="the sweep bundle folder")
    parser.add_argument("--storage", metavar="URL",
                        help="the shared Optuna storage (postgresql://…; default sqlite in the bundle)")
    parser.add_argument("--device", help="this worker's device: cpu, cuda, cuda:N (one per GPU) or mps")
    parser.add_argument("--export-trial", metavar="N", type=int,
                        help="export trial N's network as a train.py folder (with --out) and stop")
    parser.add_argument("--out", metavar="DIR", help="where --export-trial writes")
    parser.set_defaults(run=run)
    return parser


def _export(document, config, storage: str, number: int, out: str | None, err) -> int:
    from visionstudio.core.export import ExportError
    from visionstudio.core.sweeps.bundle import export_trial_script
    from visionstudio.core.sweeps.study import load_study_rows

    if out is None:
        print("visionstudio sweep-worker: --export-trial needs --out DIR", file=err)
        return EXIT_SETUP
    row = next((r for r in load_study_rows(storage, config.name) if r.number == number), None)
    if row is None:
        print(f"visionstudio sweep-worker: the study {config.name!r} has no trial {number}", file=err)
        return EXIT_SETUP
    try:
        export_trial_script(document, config, row, out)
    except (ExportError, ValueError) as exc:
        print(f"visionstudio sweep-worker: trial {number} cannot be exported: {exc}", file=err)
        return EXIT_SETUP
    print(f"exported trial {number} to {out}: python train.py, or torchrun (see its README)")
    return 0


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.params import ConfigError
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.runs import runs_root
    from visionstudio.core.runs.paths import RunPathError
    from visionstudio.core.sweeps.bundle import PROJECT_FILE, BundleError, read_bundle
    from visionstudio.core.sweeps.study import SweepError, SweepRunner, study_storage_url
    from visionstudio.core.training.control import TrainerControl

    err = sys.stderr
    try:
        document, config = read_bundle(args.bundle)
        root = runs_root(Path(args.bundle) / PROJECT_FILE)
        storage = args.storage or study_storage_url(root)
    except ConfigError as exc:
        print(f"visionstudio sweep-worker: {args.bundle}: {exc}", file=err)
        return EXIT_SETUP
    except (BundleError, ProjectFormatError, RunPathError, OSError) as exc:
        print(f"visionstudio sweep-worker: {exc}", file=err)
        return EXIT_SETUP
    quiet_optuna()
    if args.export_trial is not None:
        return _export(document, config, storage, args.export_trial, args.out, err)
    worker = f"{os.uname().nodename if hasattr(os, 'uname') else 'worker'}-{os.getpid()}"
    sampler_seed = (time.time_ns() ^ os.getpid()) % (2**31)
    runner = SweepRunner(document, config, runs_root=root, storage=storage,
                         on_trial=line_printer(config.objective_metric),
                         overrides={"device": args.device} if args.device else None,
                         sampler_seed=sampler_seed)
    print(f"worker {worker}: sweep {config.name} from {shown_url(storage)}", flush=True)
    try:
        return run_sweep(runner, TrainerControl(), err, config.objective_metric)
    except (SweepError, RunPathError) as exc:
        print(f"visionstudio sweep-worker: {exc}", file=err)
        return EXIT_SETUP
