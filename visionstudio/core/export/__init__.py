"""Export a project: PyTorch code, a torchrun training script, ONNX, TorchScript.

``export_project`` is the single entry point for the CLI and the GUI; the per-format
functions are public too. Nothing here imports Qt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from visionstudio.core.export.metrics import MetricsImportError, import_metrics_csv, import_metrics_run
from visionstudio.core.export.onnx_export import export_onnx
from visionstudio.core.export.pytorch_code import export_pytorch
from visionstudio.core.export.script import export_training_script
from visionstudio.core.export.torchscript import export_torchscript
from visionstudio.core.export.weights import ExportError, WeightsError, check_weights, load_weights
from visionstudio.core.project import ProjectDocument

FORMATS = {
    "pytorch": "PyTorch code (model.py + weights.safetensors)",
    "script": "Training script for python/torchrun (train.py, model.py, config.json)",
    "onnx": "ONNX model (model.onnx, dynamic batch)",
    "torchscript": "TorchScript module (model.torchscript.pt)",
}
ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.torchscript.pt"

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ExportResult:
    files: list[Path] = field(default_factory=list)
    message: str = ""


def export_project(doc: ProjectDocument, fmt: str, out_dir: str | os.PathLike[str],
                   weights: dict[str, torch.Tensor] | str | os.PathLike[str] | None = None,
                   progress: Progress | None = None) -> ExportResult:
    """Export ``doc`` as ``fmt`` (a key of FORMATS) into ``out_dir``.

    ``weights`` is a state dict, a path to a .safetensors file or trainer checkpoint
    folder, or None for what a fresh run starts from (the project's initial_weights file,
    or its seeded weights). Raises BuildError for an
    invalid graph (``.diagnostics``), WeightsError/ExportError with a message for the user.
    """
    report = progress or (lambda fraction, text: None)
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    tensors = None
    if weights is not None and not isinstance(weights, dict):
        report(0.05, f"Reading weights from {weights}")
        tensors = load_weights(weights)
    elif weights is not None:
        tensors = weights
    if tensors is not None:
        check_weights(doc, tensors)
    out = Path(out_dir)
    report(0.1, f"Exporting {FORMATS[fmt]}")
    if fmt == "pytorch":
        files = export_pytorch(doc, out, tensors)
    elif fmt == "script":
        files = export_training_script(doc, out, tensors)
    elif fmt == "onnx":
        files = [export_onnx(doc, out / ONNX_FILE, tensors)]
    else:
        files = [export_torchscript(doc, out / TORCHSCRIPT_FILE, tensors)]
    report(1.0, "Done")
    which = ("trained weights" if tensors is not None
             else f"the initial weights {doc.initial_weights}" if doc.initial_weights
             else "initial (untrained) weights")
    names = ", ".join(p.name for p in files)
    return ExportResult(files, f"Exported {FORMATS[fmt]} with {which} to {out}: {names}")


__all__ = [
    "FORMATS", "ExportError", "ExportResult", "WeightsError", "export_onnx",
    "export_project", "export_pytorch", "export_torchscript", "export_training_script",
    "MetricsImportError", "import_metrics_csv", "import_metrics_run", "load_weights",
]
