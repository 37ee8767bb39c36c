"""``visionstudio lr-find PROJECT``: the learning-rate range test, headless.

Sweeps the learning rate geometrically over a throw-away copy of the project's network
and optimizer (core/training/lr_finder.py) and prints the suggested learning rates
(steepest descent and valley). Nothing is written. Exit status: 0 done (also when the
curve gave no suggestion: the reason is printed), 1 the project's network, settings or
dataset cannot be used for a run (the message says why), 2 the project cannot be opened.
PROJECT may be a template key such as ``classic_cnn``.
"""

from __future__ import annotations

import argparse
import json
import sys

from visionstudio.commands.train import _open

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _steps(text: str) -> int:
    value = int(text)
    if not 2 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be 2 to 100000, not {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lr-find", help="suggest learning rates with a learning-rate range test",
        description="Train a copy of the project's network for a few steps while the learning "
                    "rate grows from --start to --end, and print the suggested learning rates "
                    "(steepest descent and valley). The project is not changed. Exit status: "
                    "0 done, 1 the project cannot be trained as it is, 2 the file cannot be opened.")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--steps", type=_steps, default=100, help="steps of the sweep (default 100)")
    parser.add_argument("--start", type=_positive, default=1e-7, metavar="LR",
                        help="first learning rate (default 1e-7)")
    parser.add_argument("--end", type=_positive, default=10.0, metavar="LR",
                        help="last learning rate (default 10)")
    parser.add_argument("--batch-size", type=int, help="override the batch size")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--data-dir", metavar="DIR", help="where datasets are downloaded")
    parser.add_argument("--json", action="store_true",
                        help="print the curve and the suggestions as JSON (schema in docs/cli.md)")
    parser.set_defaults(run=run)
    return parser


def _fmt(lr: float | None) -> str:
    return f"{lr:.2e}" if lr is not None else "none"


REASONS = {"completed": "all steps done", "diverged": "stopped: the loss diverged",
           "non-finite": "stopped: the loss became NaN or infinite", "cancelled": "stopped early"}


def _print_text(result, args) -> None:
    lo, hi = (result.lrs[0], result.lrs[-1]) if result.lrs else (args.start, args.start)
    print(f"Swept {len(result.lrs)} steps from {_fmt(lo)} to {_fmt(hi)} "
          f"({REASONS.get(result.stopped_reason, result.stopped_reason)}).")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"steepest descent: {_fmt(result.steepest)}")
    print(f"valley:           {_fmt(result.valley)}")
    if result.steepest is None and result.valley is None:
        print("The loss did not fall during the sweep: try a wider range (--start, --end) or more steps.")


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.training.lr_finder import find_lr
    from visionstudio.core.training.plan import PlanProblems, plan_run

    err = sys.stderr
    if not args.start < args.end:
        print(f"visionstudio lr-find: --start ({args.start:g}) must be below --end ({args.end:g})", file=err)
        return EXIT_PROBLEM
    try:
        doc, _source = _open(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio lr-find: {exc}", file=err)
        return EXIT_UNREADABLE
    overrides = {k: v for k, v in (("batch_size", args.batch_size), ("device", args.device))
                 if v is not None}
    plan = plan_run(doc, overrides)
    if isinstance(plan, PlanProblems):
        print(f"visionstudio lr-find: {plan.message[:1].lower()}{plan.message[1:]}", file=err)
        return EXIT_PROBLEM
    result = find_lr(plan, start_lr=args.start, end_lr=args.end, steps=args.steps, data_dir=args.data_dir)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    if result.failure is not None:
        print(f"visionstudio lr-find: {result.failure.message}", file=err)
        return EXIT_PROBLEM
    if not args.json:
        _print_text(result, args)
    return EXIT_OK
