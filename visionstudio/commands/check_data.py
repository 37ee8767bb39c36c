"""``visionstudio check-data PROJECT``: the dataset checks, headless.

Checks the project's dataset with the project's validation split and seed (what training
would see; core/data/checks.py) and prints each finding with its count, e.g.
"validation images that leak from training: 12 (exact 8, near 4)". The result is cached
until the files change. Exit status: 0 nothing that warns, 1 findings that warn (leakage,
heavy class imbalance) or a dataset that cannot be checked, 2 the project cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys

from visionstudio.commands.train import _open

EXIT_OK, EXIT_WARN, EXIT_UNREADABLE = 0, 1, 2
SHOWN = 3     # items listed per finding in the text output


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check-data", help="check the project's dataset for duplicates, leakage and imbalance",
        description="Check the project's dataset (with its validation split and seed) for "
                    "unreadable files, exact and near duplicates, validation images that leak "
                    "from training and class imbalance, and print each finding with its count. "
                    "Exit status: 0 nothing that warns, 1 findings that warn or a dataset that "
                    "cannot be checked, 2 the project cannot be opened.")
    parser.add_argument("project", metavar="PROJECT", help="a .vsproj file or a template key")
    parser.add_argument("--data-dir", metavar="DIR", help="where datasets are downloaded")
    parser.add_argument("--no-cache", action="store_true", help="check again even if nothing changed")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.set_defaults(run=run)
    return parser


def _print_text(result) -> None:
    cached = " (cached)" if result.cached else ""
    print(f"Checked {result.images} images of {result.source}{cached}.")
    counts = ", ".join(f"{n} {c}" for n, c in zip(result.class_names, result.class_counts))
    print(f"classes: {counts}")
    if not result.findings:
        print("No duplicates, leaks, unreadable files or heavy imbalance found.")
    for finding in result.findings:
        print(("warning: " if finding.warns else "") + finding.message)
        for group in finding.groups[:SHOWN]:
            print("  " + "  =  ".join(group[:4]) + (" …" if len(group) > 4 else ""))
        if len(finding.groups) > SHOWN:
            print(f"  … and {len(finding.groups) - SHOWN} more")


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.data.base import DatasetError
    from visionstudio.core.data.checks import check_dataset
    from visionstudio.core.project import ProjectFormatError

    err = sys.stderr
    try:
        doc, _source = _open(args.project)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio check-data: {exc}", file=err)
        return EXIT_UNREADABLE
    try:
        result = check_dataset(doc.dataset, val_split=doc.training.val_split, seed=doc.training.seed,
                               data_dir=args.data_dir, use_cache=not args.no_cache)
    except DatasetError as exc:
        print(f"visionstudio check-data: {exc}", file=err)
        return EXIT_WARN
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        _print_text(result)
    return EXIT_WARN if result.warnings else EXIT_OK
