"""TorchScript export by tracing the app model in eval mode.

``torch.jit`` is deprecated since torch 2.10 in favour of ``torch.export``; it still
works and TorchScript files still load in C++ (libtorch) and older runtimes, so the
FutureWarning is silenced here and the format is kept for those users.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch

from visionstudio.core.export.onnx_export import model_input_shape
from visionstudio.core.export.pytorch_code import resolved_weights
from visionstudio.core.export.source_check import check_layer_names
from visionstudio.core.export.weights import export_model
from visionstudio.core.project import ProjectDocument, atomic_write_bytes


def export_torchscript(doc: ProjectDocument, path: str | os.PathLike[str],
                       weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a traced TorchScript module (eval mode, any batch size); returns the path."""
    check_layer_names(doc.graph)  # no project text in the file but identifiers
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = export_model(doc.graph)
    model.load_state_dict(resolved_weights(doc, weights), strict=True)
    model.eval()
    example = torch.zeros(2, *model_input_shape(doc))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        with torch.no_grad():
            traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, buffer)
    atomic_write_bytes(target, buffer.getvalue())
    return target


def load_torchscript(path: str | os.PathLike[str]) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(os.fspath(path), map_location="cpu")
