"""A fresh run that starts from the project's initial weights (an import's, for fine-tuning).

A project may name a safetensors file in its own folder (``initial_weights``, see
docs/project-format.md). ``plan_run`` checks it without reading the tensors: the file is
a regular file of bounded size, its header is read and bounded first, and every tensor's
name and shape is compared with the network built on the meta device (no memory). The
rule for differences, so that "Adapt the head" and similar edits still train:

- a tensor whose layer was changed since the import (its kind, settings or input shape
  differ from what the file recorded when it was written) starts fresh, with a note;
- a layer added since the import (not recorded in the file) starts fresh, with a note;
- a recorded layer that is no longer in the network is ignored, with a note;
- any other difference (a missing tensor or a wrong shape for a layer that did not
  change, or any difference at all in a file that records nothing) refuses the run,
  naming the file and the tensor: the file does not belong to this network.

``execute`` loads the file after the model is built and before the first step, for a
fresh run only (a continued run's checkpoint wins), checking the shapes again.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from visionstudio.core.training.checkpoint import MAX_SAFETENSORS_HEADER, MAX_TENSOR_FILE_BYTES

LAYERS_KEY = "visionstudio.layers"   # the safetensors metadata entry save_import writes


class InitialWeightsError(ValueError):
    """The project's initial weights cannot be used; the message names the file."""


@dataclass(frozen=True)
class InitialWeights:
    """What a fresh run loads: the file, the keys left fresh and the notes about them."""

    path: Path
    fresh: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()   # (model key, file key) of every tensor loaded


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def layer_record(graph: Any, analysis: Any) -> dict[str, Any]:
    """Per layer id: its name, kind, settings and input shapes, as the weights file keeps
    them to tell later which layers the user changed."""
    record = {}
    for node_id, node in graph.nodes.items():
        info = analysis.nodes.get(node_id) if analysis is not None else None
        inputs = [list(s) if s is not None else None for s in (info.input_shapes if info else [])]
        record[node_id] = _plain({"name": node.name, "kind": node.kind, "params": dict(node.params),
                                  "inputs": inputs})
    return record


def weights_file(folder: Path | None, name: str) -> Path:
    """``name`` inside the project's folder, symbolic links resolved; refused outside it."""
    if folder is None:
        raise InitialWeightsError(f"the project's initial weights {name} are named relative to the "
                                  "project's folder: save the project first")
    root = os.path.realpath(folder)
    path = Path(folder) / name
    real = os.path.realpath(path)
    try:
        inside = os.path.commonpath([root, real]) == root and real != root
    except ValueError:   # another drive (Windows)
        inside = False
    if not inside:
        raise InitialWeightsError(f"the project's initial weights {name} lead to {real}, outside the "
                                  f"project's folder {folder} (a symbolic link?)")
    return path


def read_header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """(tensor name -> shape, metadata) from the file's header, bounded before reading."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InitialWeightsError(f"{path}: the initial weights are not a regular file")
        if info.st_size > MAX_TENSOR_FILE_BYTES:
            raise InitialWeightsError(f"{path}: the initial weights are {info.st_size:,} bytes, more "
                                      f"than the {MAX_TENSOR_FILE_BYTES:,} allowed")
        with open(path, "rb") as fh:
            length = int.from_bytes(fh.read(8), "little")
            if length < 2 or length > min(info.st_size - 8, MAX_SAFETENSORS_HEADER):
                raise InitialWeightsError(f"{path}: not a safetensors weights file (its header "
                                          f"claims {length:,} bytes)")
            header = json.loads(fh.read(length).decode("utf-8"))
    except FileNotFoundError:
        raise InitialWeightsError(f"{path}: the project's initial weights are missing (the project "
                                  "names this file; put it back beside the project, or remove "
                                  "\"initial_weights\" from the project to start fresh)") from None
    except OSError as exc:
        raise InitialWeightsError(f"{path}: the initial weights cannot be read "
                                  f"({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InitialWeightsError(f"{path}: not a safetensors weights file (unreadable header)") from None
    if not isinstance(header, dict):
        raise InitialWeightsError(f"{path}: not a safetensors weights file (unreadable header)")
    meta = header.pop("__metadata__", None) or {}
    shapes = {}
    for key, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise InitialWeightsError(f"{path}: tensor {key[:80]} has no valid shape")
        shapes[key] = tuple(shape)
    return shapes, (meta if isinstance(meta, dict) else {})


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) or "a scalar"


def _recorded(meta: dict[str, str]) -> dict[str, Any] | None:
    try:
        layers = json.loads(meta[LAYERS_KEY])
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    return layers if isinstance(layers, dict) else None


def compare(path: Path, file_shapes: dict[str, tuple[int, ...]], meta: dict[str, str],
            model_shapes: dict[str, tuple[int, ...]], graph: Any, analysis: Any) -> InitialWeights:
    """The rule of the module docstring, applied key by key."""
    recorded = _recorded(meta) or {}
    now = layer_record(graph, analysis)
    name_to_id = {node.name: node_id for node_id, node in graph.nodes.items()}
    old_name = {node_id: rec.get("name") for node_id, rec in recorded.items() if isinstance(rec, dict)}
    fresh, notes, mapping = set(), [], {}
    for key, shape in model_shapes.items():
        layer, _, rest = key.partition(".")
        node_id = name_to_id.get(layer)
        source = f"{old_name[node_id]}.{rest}" if node_id in old_name else key
        changed = node_id in recorded and recorded[node_id] != {**now[node_id], "name": old_name[node_id]}
        if node_id is not None and recorded and node_id not in recorded:
            fresh.add(key)
            notes.append(f"{layer}: added since the import, starts fresh")
        elif source in file_shapes and file_shapes[source] == tuple(shape):
            mapping[key] = source
        elif changed:
            fresh.add(key)
            notes.append(f"{layer}: new shape {_shape(tuple(shape))}, starts fresh")
        elif source not in file_shapes:
            raise InitialWeightsError(f"{path}: the initial weights have no tensor {source} "
                                      "(they do not belong to this network)")
        else:
            raise InitialWeightsError(f"{path}: tensor {source} is {_shape(file_shapes[source])} "
                                      f"but the network needs {_shape(tuple(shape))}")
    gone = sorted({rec.get("name") for node_id, rec in recorded.items()
                   if isinstance(rec, dict) and node_id not in graph.nodes} - {None})
    notes += [f"{name}: no longer in the network, its imported weights are not used" for name in gone]
    return InitialWeights(path, frozenset(fresh), tuple(dict.fromkeys(notes)), tuple(sorted(mapping.items())))


def check_initial_weights(document: Any, graph: Any, analysis: Any) -> InitialWeights | None:
    """The checked initial weights of ``document`` (None when it names none)."""
    name = getattr(document, "initial_weights", None)
    if not name:
        return None
    from visionstudio.core.build import build_model

    path = weights_file(getattr(document, "folder", None), name)
    file_shapes, meta = read_header(path)
    with torch.device("meta"):   # shapes only: nothing is allocated
        model = build_model(graph, analysis)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return compare(path, file_shapes, meta, shapes, graph, analysis)


def apply_initial_weights(model: torch.nn.Module, initial: InitialWeights) -> None:
    """Copy the checked tensors into ``model`` (built, before the first step)."""
    from visionstudio.core.training.checkpoint import parse_safetensors, read_bounded

    try:   # bounded, safetensors only (the export reads its weights files the same way)
        tensors = parse_safetensors(read_bounded(initial.path, MAX_TENSOR_FILE_BYTES))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise InitialWeightsError(f"{initial.path}: not a readable safetensors weights file "
                                  f"({reason})") from None
    state = model.state_dict()
    chosen = {}
    for key, source in initial.sources:
        target = state.get(key)
        found = tensors.get(source)
        if target is None or found is None or tuple(found.shape) != tuple(target.shape):
            raise InitialWeightsError(f"{initial.path}: tensor {source} changed since the run was "
                                      "planned; start the run again")
        chosen[key] = found
    with torch.no_grad():
        for key, value in chosen.items():
            state[key].copy_(value.to(dtype=state[key].dtype))


def run_notes(initial: InitialWeights | None) -> list[str]:
    """The run's notes about where it starts (shown with its first progress)."""
    if initial is None:
        return []
    return [f"Starts from the initial weights {initial.path.name}", *initial.notes]
