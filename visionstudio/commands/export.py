"""``visionstudio export PROJECT --format FMT --out DIR [--weights CKPT]``.

Formats: pytorch (model.py + weights.safetensors), script (train.py for python or
torchrun, with model.py and config.json), onnx (model.onnx), torchscript.
Exit status: 0 exported, 1 the network has errors or the weights/export failed (the
problem is printed), 2 the project file cannot be opened.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
FORMAT_CHOICES = ("pytorch", "script", "onnx", "torchscript")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export PyTorch code, a torchrun training script, ONNX or TorchScript",
        description="Export a project's network. pytorch: model.py (one readable nn.Module) and "
                    "weights.safetensors; script: train.py + model.py + config.json that train "
                    "the project with plain torch, on one device or with torchrun; onnx: "
                    "model.onnx with a dynamic batch size; torchscript: model.torchscript.pt. "
                    "Exit status: 0 done, 1 the network or weights have problems, 2 the "
                    "project cannot be opened.")
    parser.add_argument("project", metavar="PROJECT",
                        help="a .vsproj file, or a template key such as classic_cnn")
    parser.add_argument("--format", "-f", required=True, choices=FORMAT_CHOICES, dest="format")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--weights", "-w", metavar="CKPT",
                        help="trained weights: a .safetensors file or a checkpoint folder "
                             "(default: the project's initial weights for its seed)")
    parser.set_defaults(run=run)
    return parser


def _open(project: str):
    from visionstudio.core.project import load_project
    from visionstudio.core.templates import TEMPLATES, load_template

    if not os.path.exists(project) and project in {t.key for t in TEMPLATES}:
        return load_template(project)
    return load_project(project)


def _err(text: str) -> None:
    try:
        print(text, file=sys.stderr)
    except UnicodeEncodeError:  # pragma: no cover - a terminal without '×'
        print(text.encode("ascii", "replace").decode("ascii"), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from visionstudio.core.build import BuildError
    from visionstudio.core.export import ExportError, export_project
    from visionstudio.core.export.codegen import export_name
    from visionstudio.core.graph import analyze
    from visionstudio.core.project import ProjectFormatError

    try:
        doc = _open(args.project)
    except ProjectFormatError as exc:
        _err(f"visionstudio export: {exc}")
        return EXIT_UNREADABLE
    doc.name = export_name(doc.name, args.project)   # a saved 'Untitled': its file's name
    analysis = analyze(doc.graph)
    if not analysis.ok:
        _err(f"visionstudio export: {args.project}: the network has "
             f"{len(analysis.errors)} problem(s); fix them before exporting:")
        for d in analysis.errors:
            _err(f"  - {d}")
        return EXIT_FAILED

    def progress(fraction: float, text: str) -> None:
        pass

    try:
        result = export_project(doc, args.format, args.out, weights=args.weights, progress=progress)
    except BuildError as exc:
        _err(f"visionstudio export: {exc}")
        return EXIT_FAILED
    except (ExportError, OSError) as exc:
        _err(f"visionstudio export: {exc}")
        return EXIT_FAILED
    print(result.message)
    for path in result.files:
        print(f"  {path}")
    return EXIT_OK
