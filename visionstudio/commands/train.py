"""``visionstudio train PROJECT``: train a project's network headless.

Shows a progress line on stderr (loss, accuracy, ETA), writes checkpoints
(``OUT/checkpoints/{last,best}``), a metrics CSV and ``OUT/run.json``, and prints a
summary. Exit status: 0 trained (or stopped with Ctrl+C, checkpoint saved), 1 training
failed (the message says what to try), 2 the project, its settings or its dataset
cannot be used, 143 (128 + SIGTERM) stopped by SIGTERM — after saving a checkpoint
exactly as Ctrl+C does, so a job scheduler or ``kill`` never loses the epoch in progress;
the distinct status tells a supervisor the run did not finish. A second Ctrl+C or
SIGTERM aborts without waiting for the batch. PROJECT may be a template key such as
``classic_cnn``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2
EXIT_TERMINATED = 128 + 15   # the shell's status for SIGTERM; a checkpoint was saved first
# Ctrl+C, and SIGTERM where the platform has it: both stop cooperatively (control.request_stop)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a project's network on its dataset",
        description="Train a project's network with its dataset and training settings. "
                    "Exit status: 0 done, 1 training failed, 2 the project or its settings "
                    "cannot be used, 143 stopped by SIGTERM (checkpoint saved).")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--batch-size", type=int, help="override the batch size")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--lr", type=float, help="override the optimizer's learning rate")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (default: runs/<project>-<time> beside the project)")
    parser.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint folder")
    parser.add_argument("--metrics-csv", metavar="FILE", help="per-epoch metrics (default OUT/metrics.csv)")
    parser.add_argument("--data-dir", metavar="DIR", help="where datasets are downloaded")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.set_defaults(run=run)
    return parser


def _fmt_time(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _progress_callback(stream, quiet: bool):
    from visionstudio.core.training.callbacks import Callback

    tty = hasattr(stream, "isatty") and stream.isatty()

    class Progress(Callback):
        last = 0.0
        start_notes: tuple[str, ...] = ()

        def on_fit_start(self, trainer, record):
            print(f"Training on {record.device} ({record.precision}"
                  f"{', channels_last' if record.channels_last else ''}): {record.train_samples} "
                  f"training / {record.val_samples} validation images, {record.parameters:,} "
                  f"parameters, {record.epochs} epochs of {record.steps_per_epoch} steps.",
                  file=stream)
            self.start_notes = record.notes
            for note in record.notes:
                print(f"  note: {note}", file=stream)

        def on_batch_end(self, trainer, r):
            if quiet or not tty:
                return
            now = time.monotonic()
            if now - self.last < 0.1 and r.batch != r.batches:
                return
            self.last = now
            width = 24
            done = int(width * r.batch / max(r.batches, 1))
            bar = "#" * done + "-" * (width - done)
            acc = f"acc {r.accuracy:.3f} " if math.isfinite(r.accuracy) else ""
            stream.write(f"\repoch {r.epoch}/{trainer.config.epochs} [{bar}] {r.batch}/{r.batches} "
                         f"loss {r.loss:.4f} {acc}lr {r.lr:.2g} "
                         f"{r.images_per_s:,.0f} img/s ETA {_fmt_time(r.eta_s)} ")
            stream.flush()

        def on_epoch_end(self, trainer, r):
            if tty and not quiet:
                stream.write("\r\x1b[K")
            print(f"epoch {r.epoch}/{trainer.config.epochs}: {epoch_words(r)} lr {r.lr:.3g} "
                  f"({r.epoch_s:.1f}s, {r.images_per_s:,.0f} img/s){' *best*' if r.best else ''}",
                  file=stream)
            stream.flush()

    return Progress()


def epoch_words(r, sep: str = " ") -> str:
    """An epoch's numbers: losses, then the task's measures (accuracy and top-5 for a
    classification; R², MAE, RMSE … averaged over the targets; mAP …), then per-head losses."""
    parts = [f"loss {r.train_loss:.4f}"]
    if math.isfinite(r.train_accuracy):
        parts.append(f"acc {r.train_accuracy:.3f}")
    if r.val_loss is not None:
        parts.append(f"val_loss {r.val_loss:.4f}")
        if r.val_accuracy is not None and not r.val_metrics:
            parts.append(f"val_acc {r.val_accuracy:.3f}")
    if r.val_top5 is not None:
        parts.append(f"top5 {r.val_top5:.3f}")
    parts += [f"{name} {value:.4g}" for name, value in r.val_metrics if "/" not in name]
    heads = ", ".join(f"{name} {value:.4f}" for name, value in r.val_head_losses or r.train_head_losses)
    which = "val" if r.val_head_losses else "train"
    return sep.join(parts) + (f" ({which} loss per head: {heads})" if heads else "")


def _open(project: str):
    from visionstudio.core.project import load_project
    from visionstudio.core.templates import TEMPLATES, load_template

    if not os.path.exists(project) and project in {t.key for t in TEMPLATES}:
        return load_template(project), Path.cwd() / project
    return load_project(project), Path(project)


def _overrides(args: argparse.Namespace, doc) -> dict:
    overrides = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                   ("device", args.device)) if v is not None}
    if args.lr is not None:
        opt = dict(doc.training.optimizer)
        overrides["optimizer"] = {"key": opt["key"], "params": {**opt["params"], "lr": args.lr}}
    return overrides


class _StopSignals:
    """Ctrl+C and SIGTERM stop cooperatively (a checkpoint is saved); a second aborts."""

    def __init__(self, control, err) -> None:
        self.control, self.err = control, err
        self.received: list[int] = []

    def __enter__(self) -> _StopSignals:
        self.previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame) -> None:
        if self.control.stop_requested:
            raise KeyboardInterrupt
        self.received.append(signum)
        how = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
        print(f"\nStopping after this batch ({how}; again to abort)…", file=self.err)
        self.control.request_stop()

    def status(self, code: int) -> int:
        terminated = any(s != signal.SIGINT for s in self.received)
        return EXIT_TERMINATED if terminated else code


def _setup_words(message: str) -> str:
    return message[:1].lower() + message[1:]   # 'visionstudio train: the network …'


def _report(result, args, out: Path, start_notes: tuple[str, ...]) -> int:
    """Print the outcome of a run that trained; the exit status (before signals)."""
    err = sys.stderr
    if result.failure is not None:
        print(f"visionstudio train: training failed. {result.failure.message}", file=err)
        if result.failure.kind == "error" and result.failure.traceback:
            print(result.failure.traceback, file=err)
        if result.failure.checkpoint:
            print(f"The last good checkpoint is kept: {result.failure.checkpoint}", file=err)
        return EXIT_FAILED
    fit = result.fit
    last = fit.history[-1] if fit.history else None
    print(f"{fit.status}: {fit.epochs_completed} epoch(s), {fit.steps} steps in "
          f"{_fmt_time(fit.elapsed_s)}")
    for note in fit.notes[len(start_notes):]:   # e.g. images that broke mid-run
        print(note)
    if last is not None and not last.val_metrics and math.isfinite(last.train_accuracy):
        val = (f", val_loss {last.val_loss:.4f}, val_accuracy {last.val_accuracy:.4f}"
               if last.val_loss is not None and last.val_accuracy is not None else "")
        print(f"final: loss {last.train_loss:.4f}, accuracy {last.train_accuracy:.4f}{val}")
    elif last is not None:
        print(f"final: {epoch_words(last, sep=', ')}")
    if fit.best_epoch is not None:
        print(f"best {fit.metric}: {fit.best_metric:.4f} (epoch {fit.best_epoch})")
    print(f"checkpoints: {fit.last_checkpoint or '-'} (last), {fit.best_checkpoint or '-'} (best)")
    print(f"metrics: {args.metrics_csv or out / 'metrics.csv'}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.training.control import TrainerControl
    from visionstudio.core.training.plan import PlanProblems, execute, plan_run

    err = sys.stderr
    try:
        doc, source = _open(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio train: {exc}", file=err)
        return EXIT_SETUP
    plan = plan_run(doc, _overrides(args, doc), resume=args.resume)
    if isinstance(plan, PlanProblems):
        print(f"visionstudio train: {_setup_words(plan.message)}", file=err)
        return EXIT_SETUP
    out = Path(args.out) if args.out else (
        source.parent / "runs" / f"{source.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    control = TrainerControl()
    progress = _progress_callback(err, args.quiet)
    with _StopSignals(control, err) as signals:
        try:
            result = execute(plan, [progress], control, run_dir=out, metrics_csv=args.metrics_csv,
                             data_dir=args.data_dir)
        except KeyboardInterrupt:
            print("visionstudio train: aborted", file=err)
            return signals.status(EXIT_FAILED)
    if result.fit is None:   # the dataset or the build: nothing was trained
        message = result.failure.message if result.failure else "Loading the dataset was cancelled."
        print(f"visionstudio train: {_setup_words(message)}", file=err)
        return signals.status(EXIT_SETUP)
    return signals.status(_report(result, args, out, progress.start_notes))
