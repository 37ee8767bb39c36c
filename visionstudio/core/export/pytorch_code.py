"""PyTorch code export: ``model.py`` (one readable nn.Module) + ``weights.safetensors``.

Everything is generated and checked (model.py compiled, see source_check.py) before the
folder is created or a byte is written, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from visionstudio.core.export.codegen import MODEL_FILE, GeneratedModel, generate_model_source
from visionstudio.core.export.source_check import checked_source, metadata_text
from visionstudio.core.export.weights import check_weights, initial_weights
from visionstudio.core.project import ProjectDocument, atomic_write_bytes

WEIGHTS_FILE = "weights.safetensors"


def model_source(doc: ProjectDocument) -> GeneratedModel:
    return generate_model_source(doc.graph, project_name=doc.name, description=doc.description)


def resolved_weights(doc: ProjectDocument,
                     weights: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The weights to ship: given ones (checked against the network) or the initial ones."""
    if weights is None:
        return initial_weights(doc)
    check_weights(doc, weights)
    return {k: v.detach().cpu().contiguous() for k, v in weights.items()}


def save_weights(weights: dict[str, torch.Tensor], path: str | os.PathLike[str],
                 metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in weights.items()}, metadata=metadata)
    atomic_write_bytes(path, data)


def export_pytorch(doc: ProjectDocument, out_dir: str | os.PathLike[str],
                   weights: dict[str, torch.Tensor] | None = None) -> list[Path]:
    """Write model.py and weights.safetensors into ``out_dir``; returns the files written."""
    generated = model_source(doc)
    source = checked_source(generated.source, MODEL_FILE)
    tensors = resolved_weights(doc, weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path, weights_path = out / MODEL_FILE, out / WEIGHTS_FILE
    atomic_write_bytes(model_path, source)
    save_weights(tensors, weights_path, {"format": "pt", "model_class": generated.class_name,
                                         "project": metadata_text(doc.name)})
    return [model_path, weights_path]
