"""Checkpoints without pickle: a directory of two safetensors files and one JSON file.

    <name>/model.safetensors   the weights (plain state-dict keys: loadable anywhere)
    <name>/state.safetensors   optimizer tensors ("optim.<param>.<name>") and RNG states
    <name>/checkpoint.json     everything else: epoch/step, optimizer groups and scalars,
                               schedule, early-stopping state, metric history, config,
                               plus the size and SHA-256 of both tensor files and a
                               digest of the JSON itself

Loading checks all three, so a truncated or edited checkpoint is refused with a
CheckpointError instead of resuming from garbage. (The digests catch corruption and
accidents; safety against malicious files comes from never unpickling anything.)
A checkpoint is written to a temporary sibling directory and swapped into place, so
the previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT_NAME = "visionstudio.checkpoint"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
META_FILE = "checkpoint.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why, for the user."""


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]                 # the "trainer" section of checkpoint.json
    model_state: dict[str, torch.Tensor]
    tensors: dict[str, torch.Tensor]     # optimizer tensors and RNG states


# -- optimizer state <-> (tensors, JSON) -----------------------------------------------
def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = []
    for group in state["param_groups"]:
        g = {}
        for k, v in group.items():
            if isinstance(v, torch.Tensor):
                v = v.item()
            g[k] = list(v) if isinstance(v, tuple) else v
        groups.append(g)
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("optim."):
            continue
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in data["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in data["param_groups"]:
        g = dict(group)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


# -- writing ------------------------------------------------------------------------
def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(path: str | os.PathLike[str], *, model_state: dict[str, torch.Tensor],
                    tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write a checkpoint directory atomically (replacing one already there)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().to("cpu").contiguous().clone() for k, v in model_state.items()}
    blobs = {
        MODEL_FILE: st_save(weights, metadata={"format": "visionstudio.weights"}),
        STATE_FILE: st_save({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}),
    }
    body = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "files": {name: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                  for name, b in blobs.items()},
        "trainer": meta,
    }
    body["digest"] = _digest(body)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        for name, b in blobs.items():
            _write(tmp / name, b)
        _write(tmp / META_FILE, json.dumps(body, indent=1).encode("utf-8"))
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# -- reading ------------------------------------------------------------------------
def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"cannot use checkpoint {path}: {problem}")


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """checkpoint.json, verified (format, version, digest); raises CheckpointError."""
    root = Path(path)
    if root.is_file() and root.name in (META_FILE, MODEL_FILE, STATE_FILE):
        root = root.parent
    meta_path = root / META_FILE
    if not root.is_dir():
        raise _fail(root, "no such checkpoint directory")
    try:
        raw = meta_path.read_bytes()
    except OSError as exc:
        raise _fail(root, f"{META_FILE} cannot be read ({exc.strerror or exc})") from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail(root, f"{META_FILE} is damaged (not valid JSON; truncated?)") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise _fail(root, "not a VisionStudio checkpoint")
    version = body.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise _fail(root, f"format version {version!r} is newer than this VisionStudio supports")
    digest = body.pop("digest", None)
    if digest != _digest(body):
        raise _fail(root, f"{META_FILE} was modified or damaged (its digest does not match)")
    if not isinstance(body.get("files"), dict) or not isinstance(body.get("trainer"), dict):
        raise _fail(root, f"{META_FILE} lacks its file list or trainer state")
    body["_root"] = str(root)
    return body


def _read_tensors(root: Path, name: str, expected: dict[str, Any]) -> dict[str, torch.Tensor]:
    try:
        data = (root / name).read_bytes()
    except OSError as exc:
        raise _fail(root, f"{name} cannot be read ({exc.strerror or exc})") from None
    info = expected.get(name)
    if not isinstance(info, dict):
        raise _fail(root, f"{name} is not listed in {META_FILE}")
    if len(data) != info.get("bytes"):
        raise _fail(root, f"{name} is truncated or damaged ({len(data)} bytes, "
                          f"expected {info.get('bytes')})")
    if hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise _fail(root, f"{name} was modified or damaged (its SHA-256 does not match)")
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _fail(root, f"{name} is not a valid safetensors file ({exc})") from None


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint directory; raises CheckpointError on any problem."""
    body = read_meta(path)
    root = Path(body["_root"])
    model_state = _read_tensors(root, MODEL_FILE, body["files"])
    tensors = _read_tensors(root, STATE_FILE, body["files"])
    return Checkpoint(root, body["trainer"], model_state, tensors)


def load_weights(path: str | os.PathLike[str], model: torch.nn.Module) -> None:
    """Load a checkpoint's (or a bare model.safetensors') weights into ``model``."""
    p = Path(path)
    if p.is_dir():
        state = load_checkpoint(p).model_state
    else:
        try:
            state = st_load(p.read_bytes())
        except (OSError, SafetensorError, ValueError) as exc:
            raise CheckpointError(f"cannot read weights from {p}: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"the weights in {p} do not fit this network: {exc}") from None
