"""Which weights an export carries: the trained ones from a file or checkpoint folder,
or the project's seeded initial weights. Nothing here unpickles: weights are read
with safetensors only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from visionstudio.core.build import build_model
from visionstudio.core.project import ProjectDocument

# Names a checkpoint folder may keep its weights under, most specific first.
CHECKPOINT_WEIGHT_FILES = ("model.safetensors", "weights.safetensors")


class ExportError(Exception):
    """An export that cannot be done; the message is for the user."""


class WeightsError(ExportError):
    """Weights that cannot be read or do not fit the network."""


def export_model(graph, *, seed: int | None = None) -> torch.nn.Module:
    """``build_model`` for the exporters, refused with the memory sentence before anything
    is allocated when the network would not fit (a shared project may ask for 10^10 weights;
    an export holds about two copies of them and one sample's activations)."""
    from visionstudio.core.graph.analysis import analyze
    from visionstudio.core.memory import estimate_inference_memory, host_available, human_bytes

    analysis = analyze(graph)
    usable = analysis if analysis.ok else None
    if usable is not None:
        estimate = estimate_inference_memory(analysis)
        need = 2 * estimate.weights + estimate.activations   # the model and the weights to load
        available = host_available()
        if available is not None and need > available.bytes:
            raise ExportError(
                f"Cannot export: the network needs about {human_bytes(need)} to export (its weights "
                f"alone are about {human_bytes(estimate.weights)}); {available.where} has "
                f"{human_bytes(available.bytes)} free: use fewer units or channels, or a smaller input")
    return build_model(graph, usable) if seed is None else build_model(graph, usable, seed=seed)


def initial_weights(doc: ProjectDocument) -> dict[str, torch.Tensor]:
    """What a fresh run starts from, so that an export "with initial weights" and training
    agree: the project's seeded weights, overwritten by the project's ``initial_weights``
    file (an import's) where it names one, by the same rule as a run (layers changed since
    the import keep their seeded weights, core.training.initial_weights)."""
    model = export_model(doc.graph, seed=doc.training.seed)
    if doc.initial_weights:
        from visionstudio.core.graph.analysis import analyze
        from visionstudio.core.training.initial_weights import (
            InitialWeightsError,
            apply_initial_weights,
            check_initial_weights,
        )

        graph = doc.graph.copy()   # as plan_run does: the rule compares this graph's layers
        analysis = analyze(graph)
        try:
            initial = check_initial_weights(doc, graph, analysis if analysis.ok else None)
            if initial is not None:
                apply_initial_weights(model, initial)
        except InitialWeightsError as exc:
            raise WeightsError(str(exc)) from None
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _weights_file_in(folder: Path) -> Path:
    for name in CHECKPOINT_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    # A trainer manifest may name the file.
    for manifest in ("checkpoint.json", "meta.json", "manifest.json"):
        path = folder / manifest
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for key in ("weights", "weights_file", "model"):
                name = data.get(key) if isinstance(data, dict) else None
                if isinstance(name, str) and (folder / name).is_file():
                    return folder / Path(name).name
    found = sorted(folder.glob("*.safetensors"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise WeightsError(f"{folder}: no weights found in this checkpoint folder "
                           f"(expected {' or '.join(CHECKPOINT_WEIGHT_FILES)})")
    names = ", ".join(p.name for p in found)
    raise WeightsError(f"{folder}: several weight files ({names}); pick one with --weights FILE")


def resolve_weights_path(path: str | os.PathLike[str]) -> Path:
    """The safetensors file behind ``path`` (a file, or a trainer checkpoint folder)."""
    target = Path(path)
    if target.is_dir():
        return _weights_file_in(target)
    if not target.exists():
        raise WeightsError(f"{target}: checkpoint not found")
    return target


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a trainer checkpoint folder; WeightsError names
    the file when it is missing or unreadable."""
    target = Path(path)
    if target.is_dir() and (target / "checkpoint.json").is_file():
        # The app trainer's checkpoint: verified (sizes, SHA-256) by its own reader.
        from visionstudio.core.training.checkpoint import CheckpointError, load_checkpoint

        try:
            return dict(load_checkpoint(target).model_state)
        except CheckpointError as exc:
            raise WeightsError(str(exc)) from None
    file = resolve_weights_path(target)
    from visionstudio.core.training.checkpoint import MAX_TENSOR_FILE_BYTES, parse_safetensors, read_bounded

    try:  # bounded: a regular file (no link to /dev/zero, no FIFO) with a plausible header
        return parse_safetensors(read_bounded(file, MAX_TENSOR_FILE_BYTES))
    except (OSError, ValueError) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
                  if str(exc) else type(exc).__name__)
        raise WeightsError(f"{file}: not a readable safetensors weights file ({reason})") from None


def check_weights(doc_or_model, weights: dict[str, torch.Tensor]) -> None:
    """Raise WeightsError when ``weights`` do not fit the network key for key and shape
    for shape; the message lists what is missing, extra or mis-shaped."""
    model = export_model(doc_or_model.graph) if isinstance(doc_or_model, ProjectDocument) else doc_or_model
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]
    shapes = [f"{k} is {_shape(weights[k])} but the network needs {_shape(v)}"
              for k, v in expected.items() if k in weights and tuple(weights[k].shape) != tuple(v.shape)]
    shapes += [f"{k} is {weights[k].dtype} but the network needs {v.dtype}"   # e.g. int32 for a float
               for k, v in expected.items() if k in weights and weights[k].dtype != v.dtype
               and not (weights[k].dtype.is_floating_point and v.dtype.is_floating_point)]
    if not (missing or extra or shapes):
        return
    parts = []
    if missing:
        parts.append("missing " + _names(missing))
    if extra:
        parts.append("not in the network " + _names(extra))
    parts += shapes[:5]
    raise WeightsError("the weights do not fit this network: " + "; ".join(parts))


def _names(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(d) for d in t.shape) or "a scalar"


def apply_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    check_weights(model, weights)
    model.load_state_dict(weights, strict=True)
