"""``visionstudio summary PROJECT [--json]``: the per-layer table of a project's network.

Exit status: 0 the network is sound, 1 it has errors (they are printed), 2 the file
cannot be opened (the ProjectFormatError is printed). PROJECT may also be a template
key such as ``classic_cnn`` when no file of that name exists.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "summary", help="print each layer's output shape, parameters and FLOPs",
        description="Print a project's network layer by layer (output shape, parameters, "
                    "FLOPs) with totals. Exit status: 0 sound, 1 the network has errors, "
                    "2 the file cannot be opened.")
    parser.add_argument("project", metavar="PROJECT",
                        help="a .vsproj file, or a template key (classic_cnn, lenet5, small_vgg, "
                             "small_resnet, inception_block)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON instead of a table (schema in docs/cli.md)")
    parser.set_defaults(run=run)
    return parser


def _open(project: str):
    from visionstudio.core.project import load_project
    from visionstudio.core.templates import TEMPLATES, load_template

    keys = {t.key for t in TEMPLATES}
    if not os.path.exists(project) and project in keys:
        return load_template(project), f"template {project}"
    return load_project(project), project


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.project import ProjectFormatError
    from visionstudio.core.summary import render_text, summarize

    try:
        doc, source = _open(args.project)
    except ProjectFormatError as exc:
        print(f"visionstudio summary: {exc}", file=sys.stderr)
        if args.json:
            _print_json({"format": "visionstudio.summary", "version": 1, "ok": False,
                         "error": {"message": str(exc), "problem": exc.problem,
                                   "path": exc.json_path or None, "file": exc.file or None}})
        return EXIT_UNREADABLE
    summary = summarize(doc.graph, doc.name, source=source, training=doc.training)
    problem, available = _memory_verdict(summary)
    if args.json:
        data = summary.to_dict()
        if data.get("memory") is not None:
            data["memory"]["available"] = available.to_dict() if available is not None else None
            data["memory"]["problem"] = problem
        _print_json(data)
    else:
        text = render_text(summary)
        if problem:
            text += f"Does not fit: training {problem}.\n"
        _write(text)
    return EXIT_OK if summary.ok else EXIT_DIAGNOSTICS


def _memory_verdict(summary):
    """(refusal sentence or None, AvailableMemory or None) for training on this machine's
    memory (the summary does not pick a GPU: that needs torch and a device)."""
    from visionstudio.core.memory import host_available, memory_problem

    if summary.memory is None:
        return None, None
    available = host_available()
    return memory_problem(summary.memory, available), available


def _print_json(data: dict) -> None:
    _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write(text: str) -> None:
    """Write even where the terminal's encoding lacks '×' (a Windows pipe, say)."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.replace("×", "x").encode(encoding, "replace").decode(encoding))
    sys.stdout.flush()
