"""``visionstudio sweep PROJECT --config SWEEP.json``: a hyper-parameter / architecture sweep.

Prints one line per trial (number, values, objective, state, seconds) and the best
trial at the end. Each trial's runs are ordinary runs of the project: their folders go
to the project's runs folder and their entries into the project file (saved after
each run), so the app lists them. The study is SQLite in that runs folder unless
``--storage`` names another; running the same sweep again continues it. Ctrl+C or
SIGTERM stops after the batch (the interrupted trial is not counted). ``--bundle OUT``
writes a sweep bundle for ``visionstudio sweep-worker`` instead of training.
Exit status: 0 done or stopped, 1 no trial completed, 2 the project or the sweep file
cannot be used.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep", help="search training settings and layer parameters with Optuna",
        description="Run a sweep (an Optuna study) over a project: each trial is a run of the "
                    "project. The sweep file's format is in docs/sweeps.md. Exit status: 0 done, "
                    "1 no trial completed, 2 the project or the sweep file cannot be used.")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--config", metavar="SWEEP.json", required=True, help="the sweep file")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage URL (default: sqlite in the project's runs folder)")
    parser.add_argument("--name", help="the study's name (default: the sweep file's name)")
    parser.add_argument("--device", help="train every trial on this device (cpu, cuda:N, …)")
    parser.add_argument("--bundle", metavar="OUT",
                        help="write a sweep bundle for sweep-worker into OUT and stop")
    parser.set_defaults(run=run)
    return parser


def fmt_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trial_line(row, metric: str) -> str:
    params = " ".join(f"{k}={fmt_value(v)}" for k, v in row.params.items())
    value = fmt_value(row.value) if row.value is not None else "-"
    spread = f" ±{row.spread:.3g}" if row.spread is not None else ""
    note = f"  ({row.message})" if row.message and row.state != "complete" else ""
    return (f"trial {row.number:>3}  {params}  {metric}={value}{spread}  {row.state}  "
            f"{row.seconds:.1f}s{note}")


def line_printer(metric: str):
    """The on_trial callback: one line per finished trial (a starting one prints nothing)."""
    def on_trial(row) -> None:
        if row.state != "running":
            print(trial_line(row, metric), flush=True)
    return on_trial


def read_config(path: str, name: str | None):
    """The sweep file (checked), renamed when ``name`` is given; ConfigError or OSError."""
    from visionstudio.core.sweeps.config import MAX_FILE_BYTES, SweepConfig, load_sweep_text

    with open(path, "rb") as fh:
        text = fh.read(MAX_FILE_BYTES + 1)
    config = load_sweep_text(text)
    return SweepConfig.from_dict({**config.to_dict(), "name": name}) if name else config


def shown_url(url: str) -> str:
    """A storage URL as printed: its password hidden."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def quiet_optuna() -> None:
    """Our lines say what Optuna's log would (twice, on stderr)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def run_sweep(runner, control, err, metric: str) -> int:
    """Run ``runner`` with Ctrl+C/SIGTERM as a stop; print the best; the exit status."""
    from visionstudio.commands.train import _StopSignals

    with _StopSignals(control, err) as signals:
        try:
            summary = runner.run(control)
        except KeyboardInterrupt:
            print("visionstudio sweep: aborted", file=err)
            return signals.status(EXIT_FAILED)
    if summary.best is None:
        print("no trial completed" + (" (stopped)" if summary.stopped else ""))
        return signals.status(EXIT_OK if summary.stopped else EXIT_FAILED)
    best = summary.best
    print(f"best: trial {best.number}  {' '.join(f'{k}={fmt_value(v)}' for k, v in best.params.items())}  "
          f"{metric}={fmt_value(best.value)}" + ("  (stopped)" if summary.stopped else ""))
    return signals.status(EXIT_OK)


def _project(project: str):
    """(document, project file or None, runs folder)."""
    from visionstudio.core.project import load_project
    from visionstudio.core.runs import runs_root
    from visionstudio.core.templates import TEMPLATES, load_template

    if not os.path.exists(project) and project in {t.key for t in TEMPLATES}:
        return load_template(project), None, Path.cwd() / f"{project}.runs"
    return load_project(project), Path(project), runs_root(project)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.params import ConfigError
    from visionstudio.core.project import ProjectFormatError, save_project
    from visionstudio.core.runs import AddRun
    from visionstudio.core.runs.paths import RunPathError
    from visionstudio.core.sweeps.bundle import BundleError, write_bundle
    from visionstudio.core.sweeps.parameters import check_parameters
    from visionstudio.core.sweeps.study import SweepError, SweepRunner
    from visionstudio.core.training.control import TrainerControl

    err = sys.stderr
    try:
        doc, path, root = _project(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio sweep: {exc}", file=err)
        return EXIT_SETUP
    try:
        config = read_config(args.config, args.name)
        check_parameters(doc, config)
        if args.bundle:
            write_bundle(doc, config, args.bundle, **({"storage_hint": args.storage} if args.storage else {}))
            print(f"wrote the sweep bundle {args.bundle}; on each machine run:\n"
                  f"  visionstudio sweep-worker {args.bundle} --storage {args.storage or 'URL'}")
            return EXIT_OK
    except ConfigError as exc:
        print(f"visionstudio sweep: {args.config}: {exc}", file=err)
        return EXIT_SETUP
    except (OSError, BundleError, ValueError) as exc:
        print(f"visionstudio sweep: {exc}", file=err)
        return EXIT_SETUP

    def on_run(entry: dict) -> None:   # a run, not an edit: recorded like the app's (no undo)
        AddRun(entry).do(doc)
        if path is not None:
            save_project(doc, path)

    quiet_optuna()
    try:
        runner = SweepRunner(doc, config, runs_root=root, storage=args.storage,
                             on_trial=line_printer(config.objective_metric), on_run=on_run,
                             overrides={"device": args.device} if args.device else None)
        print(f"sweep {config.name}: {config.sampler} over {', '.join(p.path for p in config.parameters)}; "
              f"study in {shown_url(runner.storage)}", flush=True)
        return run_sweep(runner, TrainerControl(), err, config.objective_metric)
    except (SweepError, RunPathError) as exc:
        print(f"visionstudio sweep: {exc}", file=err)
        return EXIT_SETUP
