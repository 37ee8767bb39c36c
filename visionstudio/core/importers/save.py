"""Writing an import to disk: the project file and its weights beside it.

The weights go to ``<project>.weights.safetensors`` next to ``<project>.vsproj``: a
plain safetensors state dict with ``build_model``'s keys, which the app already reads
wherever it takes weights (``visionstudio export P.vsproj --weights
P.weights.safetensors``, ``core.training.checkpoint_fit.load_weights``). The project
names it as its ``initial_weights``, so training starts from it; the file's metadata
records each layer as imported (``layer_record``), which tells a later run which layers
the user changed (those start fresh, core.training.initial_weights).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save as st_save

from visionstudio.core.graph import analyze
from visionstudio.core.importers.result import ImportResult
from visionstudio.core.project import atomic_write_bytes, save_project
from visionstudio.core.training.initial_weights import LAYERS_KEY, layer_record

WEIGHTS_SUFFIX = ".weights.safetensors"


def weights_path(project: str | os.PathLike[str]) -> Path:
    p = Path(project)
    return p.with_name(p.stem + WEIGHTS_SUFFIX)


def save_import(result: ImportResult, project: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(project file, weights file), both written atomically; the weights first, so a
    project never names weights that are not there."""
    target = Path(project)
    weights = weights_path(target)
    tensors = {k: v.detach().cpu().contiguous() for k, v in result.weights.items()}
    graph = result.document.graph
    layers = json.dumps(layer_record(graph, analyze(graph)), sort_keys=True)
    atomic_write_bytes(weights, st_save(tensors, metadata={"format": "visionstudio.weights",
                                                           "source": Path(result.source).name[:200],
                                                           LAYERS_KEY: layers}))
    result.document.initial_weights = weights.name   # beside the project: its plain name
    save_project(result.document, target)
    result.document.folder = target.resolve().parent
    return target, weights
