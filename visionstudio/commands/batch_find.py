"""``visionstudio batch-find PROJECT``: the largest training batch that fits, headless.

Searches (core/training/batch_finder.py) by powers of two and then by halving: on a CUDA
GPU each try is a real training step on a copy of the network (out of memory means it
does not fit); on the CPU and Apple MPS it is the memory estimate against the free
memory, with a safety margin. Nothing is written. Exit status: 0 done (also when not even
one sample fits: that is printed), 1 the project's network, settings or dataset cannot be
used for a run, 2 the project cannot be opened. PROJECT may be a template key.
"""

from __future__ import annotations

import argparse
import json
import sys

from visionstudio.commands.train import _open
from visionstudio.core.memory import human_bytes

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


def _max(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65_536:
        raise argparse.ArgumentTypeError(f"must be 1 to 65536, not {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "batch-find", help="find the largest batch size that fits the device's memory",
        description="Find the largest training batch that fits: measured with real training steps "
                    "on a CUDA GPU, estimated from the network's memory needs on the CPU. The project "
                    "is not changed. Exit status: 0 done, 1 the project cannot be trained as it is, "
                    "2 the file cannot be opened.")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--max", type=_max, default=4096, metavar="N",
                        help="the largest batch to consider (default 4096)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--data-dir", metavar="DIR", help="where datasets are downloaded")
    parser.add_argument("--json", action="store_true",
                        help="print the tries and the result as JSON (schema in docs/cli.md)")
    parser.set_defaults(run=run)
    return parser


def _print_text(result) -> None:
    for batch, fits, used in result.tried:
        size = human_bytes(used) if used is not None else "out of memory"
        print(f"  batch {batch:>6}: {'fits' if fits else 'does not fit'} ({size})")
    for note in result.notes:
        print(f"  note: {note}")
    if result.batch is None:
        print("Not even a batch of one fits: use a smaller input, fewer channels or another device.")
    else:
        print(f"Largest batch that fits ({result.how}): {result.batch}")


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.training.batch_finder import find_batch_size
    from visionstudio.core.training.plan import PlanProblems, plan_run

    err = sys.stderr
    try:
        doc, _source = _open(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio batch-find: {exc}", file=err)
        return EXIT_UNREADABLE
    # planned at batch 1: plan_run refuses the project's batch when it does not fit
    overrides = {"batch_size": 1, **({"device": args.device} if args.device else {})}
    plan = plan_run(doc, overrides)
    if isinstance(plan, PlanProblems):
        print(f"visionstudio batch-find: {plan.message[:1].lower()}{plan.message[1:]}", file=err)
        return EXIT_PROBLEM
    result = find_batch_size(plan, max_batch=args.max, data_dir=args.data_dir)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    if result.failure is not None:
        print(f"visionstudio batch-find: {result.failure.message}", file=err)
        return EXIT_PROBLEM
    if not args.json:
        _print_text(result)
    return EXIT_OK
