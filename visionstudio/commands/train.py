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
    from visionstudio.core.training.trainer import Callback

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
            stream.write(f"\repoch {r.epoch}/{trainer.config.epochs} [{bar}] {r.batch}/{r.batches} "
                         f"loss {r.loss:.4f} acc {r.accuracy:.3f} lr {r.lr:.2g} "
                         f"{r.images_per_s:,.0f} img/s ETA {_fmt_time(r.eta_s)} ")
            stream.flush()

        def on_epoch_end(self, trainer, r):
            if tty and not quiet:
                stream.write("\r\x1b[K")
            val = (f" val_loss {r.val_loss:.4f} val_acc {r.val_accuracy:.3f}"
                   if r.val_loss is not None else "")
            top5 = f" top5 {r.val_top5:.3f}" if r.val_top5 is not None else ""
            print(f"epoch {r.epoch}/{trainer.config.epochs}: loss {r.train_loss:.4f} "
                  f"acc {r.train_accuracy:.3f}{val}{top5} lr {r.lr:.3g} "
                  f"({r.epoch_s:.1f}s, {r.images_per_s:,.0f} img/s){' *best*' if r.best else ''}",
                  file=stream)
            stream.flush()

    return Progress()


def _open(project: str):
    from visionstudio.core.project import load_project

    try:
        from visionstudio.core.templates import TEMPLATES, load_template
    except ImportError:  # pragma: no cover
        TEMPLATES, load_template = (), None
    if not os.path.exists(project) and project in {t.key for t in TEMPLATES}:
        return load_template(project), Path.cwd() / project
    return load_project(project), Path(project)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.training.control import TrainerControl
    from visionstudio.core.training.run import run_training
    from visionstudio.core.training.trainer import TrainingSetupError

    err = sys.stderr
    try:
        doc, source = _open(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio train: {exc}", file=err)
        return EXIT_SETUP
    overrides = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                   ("device", args.device)) if v is not None}
    if args.lr is not None:
        opt = dict(doc.training.optimizer)
        overrides["optimizer"] = {"key": opt["key"], "params": {**opt["params"], "lr": args.lr}}
    out = Path(args.out) if args.out else (
        source.parent / "runs" / f"{source.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    control = TrainerControl()

    received: list[int] = []

    def on_stop_signal(signum, frame):
        if control.stop_requested:
            raise KeyboardInterrupt
        received.append(signum)
        how = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
        print(f"\nStopping after this batch ({how}; again to abort)…", file=err)
        control.request_stop()

    def status(code: int) -> int:
        terminated = any(s != signal.SIGINT for s in received)
        return EXIT_TERMINATED if terminated else code

    previous = {sig: signal.signal(sig, on_stop_signal) for sig in STOP_SIGNALS}
    try:
        result = run_training(doc, out_dir=out, overrides=overrides, control=control,
                              callbacks=[progress := _progress_callback(err, args.quiet)],
                              resume=args.resume, metrics_csv=args.metrics_csv,
                              data_dir=args.data_dir)
    except TrainingSetupError as exc:
        print(f"visionstudio train: {exc}", file=err)
        return status(EXIT_SETUP)
    except KeyboardInterrupt:
        print("visionstudio train: aborted", file=err)
        return status(EXIT_FAILED)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if result.failure is not None:
        print(f"visionstudio train: training failed. {result.failure.message}", file=err)
        if result.failure.kind == "error":
            print(result.failure.traceback, file=err)
        if result.failure.checkpoint:
            print(f"The last good checkpoint is kept: {result.failure.checkpoint}", file=err)
        return EXIT_FAILED
    last = result.history[-1] if result.history else None
    print(f"{result.status}: {result.epochs_completed} epoch(s), {result.steps} steps in "
          f"{_fmt_time(result.elapsed_s)}")
    for note in result.notes[len(progress.start_notes):]:   # e.g. images that broke mid-run
        print(note)
    if last is not None:
        val = (f", val_loss {last.val_loss:.4f}, val_accuracy {last.val_accuracy:.4f}"
               if last.val_loss is not None else "")
        print(f"final: loss {last.train_loss:.4f}, accuracy {last.train_accuracy:.4f}{val}")
    if result.best_epoch is not None:
        print(f"best {result.metric}: {result.best_metric:.4f} (epoch {result.best_epoch})")
    print(f"checkpoints: {result.last_checkpoint or '-'} (last), {result.best_checkpoint or '-'} (best)")
    print(f"metrics: {args.metrics_csv or out / 'metrics.csv'}")
    return status(EXIT_OK)
