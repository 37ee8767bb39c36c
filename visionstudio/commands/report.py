"""``visionstudio report RUN``: write a run's report as one self-contained HTML file.

RUN is a project file (its latest run, or ``--run NAME``), a run folder inside a
project's ``.runs`` folder, or a folder ``visionstudio train --out`` wrote together with
``--project`` (the network it trained). Exit status: 0 written (what it leaves out is
printed), 1 the run cannot be reported on (the message says why), 2 the project cannot
be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be 1 to 100000, not {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report", help="write a run's report as one HTML file",
        description="Write a self-contained HTML report of a run: network diagram, layer table, "
                    "settings, curves, per-class metrics, confusion matrix, the worst errors with "
                    "Grad-CAM, feature maps. Exit status: 0 written, 1 the run cannot be reported "
                    "on, 2 the project cannot be opened.")
    parser.add_argument("target", metavar="RUN",
                        help="a .vsproj file, a run folder in its .runs folder, or a folder "
                             "'visionstudio train --out' wrote (with --project)")
    parser.add_argument("--run", dest="run_name", metavar="NAME",
                        help="which of the project's runs (name or id; default the latest)")
    parser.add_argument("--project", metavar="PROJECT",
                        help="the project a run folder was trained from (a .vsproj or a template key)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write the report (default RUN_FOLDER/report.html)")
    parser.add_argument("--max-images", type=_count, default=500,
                        help="validation images to evaluate at most (default 500)")
    parser.set_defaults(run=run)
    return parser


def _source(args: argparse.Namespace):
    from visionstudio.commands.train import _open
    from visionstudio.core.report import ReportError, from_folder, from_project, project_of

    target = Path(args.target)
    if target.is_dir():
        if args.project is None and (project := project_of(target)) is not None:
            doc, path = _open(str(project))   # the run as the project lists it: name, status
            return from_project(doc, path, target.name)
        if args.project is None:
            raise ReportError(f"{target} is not inside a project's .runs folder; name the project "
                              "it was trained from with --project")
        doc, _path = _open(args.project)
        return from_folder(target, doc)
    if not target.is_file():
        raise ReportError(f"no such project file or run folder: {target}")
    doc, path = _open(str(target))
    return from_project(doc, path, args.run_name)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.report import ReportError, write_report

    err = sys.stderr
    try:
        source = _source(args)
    except (ProjectFormatError, OSError) as exc:
        print(f"visionstudio report: {exc}", file=err)
        return EXIT_UNREADABLE
    except ReportError as exc:
        print(f"visionstudio report: {exc}", file=err)
        return EXIT_PROBLEM
    try:
        result = write_report(source, args.output, max_images=args.max_images)
    except ValueError as exc:   # ReportError, or RunPathError: a planted link at the default place
        print(f"visionstudio report: {exc}", file=err)
        return EXIT_PROBLEM
    for note in result.notes:
        print(f"  note: {note}", file=err)
    print(f"Wrote {result.path} ({result.size / 1000:,.0f} kB in {result.seconds:.1f} s).")
    return EXIT_OK
