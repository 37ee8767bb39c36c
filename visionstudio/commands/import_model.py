"""``visionstudio import SOURCE -o PROJECT.vsproj [--trust-code] [--force]``.

SOURCE: a ``.onnx`` file, a ``.keras`` file, a legacy Keras ``.h5`` file,
``torchvision:NAME`` or ``module.py:ClassName`` (the sources ``core.importers.SOURCES``
knows; a Python module runs code, so it needs ``--trust-code``). The project is written
with its weights beside it (``PROJECT.weights.safetensors``), which ``visionstudio export
PROJECT --weights ...`` and the app's weight loaders read.

Exit status: 0 imported, 1 the network has operations or layers the library cannot
express (each is listed), 2 the source cannot be read, or PROJECT exists (without
--force) or cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_UNSUPPORTED, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import", help="turn an ONNX, Keras or PyTorch model into a project with its weights",
        description="Import a model as a project: its layers on the canvas and its weights in "
                    "PROJECT.weights.safetensors beside it. Exit status: 0 imported, 1 the model "
                    "uses operations the layer library cannot express (all are listed), 2 the "
                    "source cannot be read or the project cannot be written.")
    parser.add_argument("source", metavar="SOURCE",
                        help="a .onnx, .keras or legacy Keras .h5 file, torchvision:NAME, or "
                             "module.py:ClassName (with --trust-code)")
    parser.add_argument("--out", "-o", required=True, metavar="PROJECT", help="the .vsproj file to write")
    parser.add_argument("--trust-code", action="store_true",
                        help="allow a source that runs code (a Python module); model files never do")
    parser.add_argument("--force", action="store_true", help="replace PROJECT if it exists")
    parser.set_defaults(run=run)
    return parser


def _err(text: str) -> None:
    try:
        print(text, file=sys.stderr)
    except UnicodeEncodeError:  # pragma: no cover - a terminal without '×'
        print(text.encode("ascii", "replace").decode("ascii"), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.importers import ImportProblem, import_model, save_import, weights_path
    from visionstudio.core.project import PROJECT_SUFFIX, ProjectFormatError

    out = Path(args.out)
    if out.suffix.lower() != PROJECT_SUFFIX:
        _err(f"visionstudio import: {args.out}: the project file must end in {PROJECT_SUFFIX}")
        return EXIT_UNREADABLE
    if not args.force and (out.exists() or weights_path(out).exists()):
        _err(f"visionstudio import: {args.out} already exists; give --force to replace it")
        return EXIT_UNREADABLE
    try:
        result = import_model(args.source, trust_code=args.trust_code)
    except ImportProblem as exc:
        _err(f"visionstudio import: {exc}")
        return EXIT_UNSUPPORTED if exc.problems else EXIT_UNREADABLE
    try:
        project, weights = save_import(result, out)
    except (OSError, ProjectFormatError) as exc:
        _err(f"visionstudio import: cannot write {args.out}: {getattr(exc, 'strerror', None) or exc}")
        return EXIT_UNREADABLE
    params = sum(int(t.numel()) for k, t in result.weights.items() if not k.endswith("num_batches_tracked"))
    print(f"Imported {args.source}: {len(result.document.graph.nodes)} layers, {params:,} values "
          f"-> {project} (weights in {weights})")
    for note in result.notes:
        print(f"  note: {note}")
    return EXIT_OK
