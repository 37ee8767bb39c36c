"""``visionstudio evaluate PROJECT``: measure a run's checkpoint on the validation set.

Prints the task's metrics — a classification's accuracy, top-5 and each class's
accuracy and precision; a regression's R², MAE and RMSE, averaged and per target; a
localization's IoU; a detection's mAP — or, with ``--json``, one JSON object. The run is
one of the project's (``--run`` name or id, default the latest) or a folder
``visionstudio train --out`` wrote (``--run FOLDER``). Exit status: 0 evaluated, 1 the
run cannot be evaluated (the message says why), 2 the project cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="measure a run's checkpoint on the validation set",
        description="Evaluate a run's checkpoint on its validation set and print the task's "
                    "metrics. Exit status: 0 evaluated, 1 the run cannot be evaluated, 2 the "
                    "project cannot be opened.")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--run", dest="run_id", metavar="ID",
                        help="which run: its name or id in the project (default the latest), or "
                             "a folder 'visionstudio train --out' wrote")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which checkpoint of the run (default best; last when it has none)")
    parser.add_argument("--device", default="cpu", help="where to evaluate (default cpu)")
    parser.add_argument("--data-dir", metavar="DIR", help="where downloaded datasets are kept")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)
    return parser


def _source(args: argparse.Namespace):
    from visionstudio.commands.train import _open
    from visionstudio.core.report import from_folder, from_project

    doc, path = _open(args.project)
    if args.run_id is not None and Path(args.run_id).is_dir():
        return from_folder(Path(args.run_id), doc)
    return from_project(doc, path, args.run_id)


def _text(source, ev) -> str:
    lines = [f"{source.run_name}: {ev.checkpoint} checkpoint"
             f"{f' (after epoch {ev.epoch})' if ev.epoch is not None else ''}, {ev.task}, "
             f"{ev.images:,} validation images"]
    lines += [f"  note: {n}" for n in ev.notes]
    rows = [("loss", ev.loss), *ev.metrics.items(),
            *((f"loss/{name}", value) for name, value in ev.head_losses.items())]
    width = max(len(name) for name, _ in rows)
    lines += [f"  {name:<{width}}  {value:.4f}" for name, value in rows]
    if ev.per_class:
        names = max(len(c["class"]) for c in ev.per_class)
        lines.append(f"  {'class':<{names}}  images  accuracy  precision")
        for c in ev.per_class:
            acc = f"{c['accuracy']:.4f}" if c["accuracy"] is not None else "-"
            prec = f"{c['precision']:.4f}" if c["precision"] is not None else "-"
            lines.append(f"  {c['class']:<{names}}  {c['images']:>6,}  {acc:>8}  {prec:>9}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.report import ReportError
    from visionstudio.core.training.evaluate_run import EvaluationError, evaluate_checkpoint

    err = sys.stderr
    try:
        source = _source(args)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio evaluate: {exc}", file=err)
        return EXIT_UNREADABLE
    except ReportError as exc:
        print(f"visionstudio evaluate: {exc}", file=err)
        return EXIT_PROBLEM
    try:
        ev = evaluate_checkpoint(source.document, source.folder, source.training, source.dataset,
                                 checkpoint=args.checkpoint, device=args.device, data_dir=args.data_dir)
    except (EvaluationError, ValueError, RuntimeError) as exc:
        print(f"visionstudio evaluate: {exc}", file=err)
        return EXIT_PROBLEM
    if args.json:
        print(json.dumps({"run": source.run_name, **ev.as_dict()}, indent=1))
    else:
        print(_text(source, ev))
    return EXIT_OK
