"""Checkpoints without pickle: a directory of two safetensors files and one JSON file.

    <name>/model.safetensors   the weights (plain state-dict keys: loadable anywhere)
    <name>/state.safetensors   optimizer tensors ("optim.<param>.<name>") and RNG states
    <name>/checkpoint.json     everything else: epoch/step, optimizer groups and scalars,
                               schedule, early-stopping state, metric history, config,
                               plus the size and SHA-256 of both tensor files and a
                               digest of the JSON itself

Loading checks all three, so a truncated or edited checkpoint is refused with a
CheckpointError instead of resuming from garbage. The digests catch corruption and
accidents only (a hostile file carries matching ones); safety against malicious files
comes from never unpickling anything, from reading only regular files of bounded size
(no link to /dev/zero, no FIFO), and from checking every field (checkpoint_fields.py)
and every tensor against the network and optimizer (checkpoint_fit.py) before use.
Every refusal is one CheckpointError naming the file and the field or tensor.
A checkpoint is written to a temporary sibling directory and swapped into place, so
the previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from visionstudio.core.training.checkpoint_fields import (
    MAX_DEPTH,
    FieldProblem,
    check_depth,
    check_files,
    check_trainer,
    show,
)

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
MAX_META_BYTES = 16 * 1024 * 1024          # ours are a few hundred KiB (history of long runs)
MAX_TENSOR_FILE_BYTES = 64 * 1024 ** 3     # weights or optimizer state of one checkpoint
MAX_SAFETENSORS_HEADER = 64 * 1024 * 1024  # the JSON index at the start of a .safetensors file


def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"cannot use checkpoint {path}: {problem}")


def read_bounded(path: Path, limit: int, expected: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file (symlinks followed) of at most ``limit``
    bytes; raises OSError or ValueError (with the reason) otherwise.

    The file is ``stat``-ed before it is opened, so a link to /dev/zero, a device or a FIFO
    is refused without being opened (opening some devices has effects, a FIFO blocks), and
    is checked again on the open descriptor (it may have been swapped in between). Only the
    size found is read, so a file that grows meanwhile cannot exhaust memory.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file (a device, a FIFO or a link to one)")
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_BINARY", 0))
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        opened = os.fstat(fh.fileno())
        same = (opened.st_dev, opened.st_ino) == (info.st_dev, info.st_ino)
        if not stat.S_ISREG(opened.st_mode) or not same:
            raise ValueError("was replaced while it was being opened")
        size = opened.st_size
        if size > limit:
            raise ValueError(f"is {size:,} bytes, more than the {limit:,} a checkpoint file may have")
        if expected is not None and size != expected:
            raise ValueError(f"is truncated or damaged ({size} bytes, expected {expected})")
        data = fh.read(size + 1)
    if len(data) != size:
        raise ValueError("changed size while it was being read")
    return data


def check_safetensors_header(data: bytes) -> None:
    """Refuse a .safetensors blob whose header length is impossible before parsing it."""
    if len(data) < 8:
        raise ValueError(f"is too short to be a safetensors file ({len(data)} bytes)")
    length = int.from_bytes(data[:8], "little")
    if length > min(len(data) - 8, MAX_SAFETENSORS_HEADER):
        raise ValueError(f"claims a header of {length:,} bytes but the file has {len(data):,} "
                         f"(at most {MAX_SAFETENSORS_HEADER:,} allowed)")


def parse_safetensors(data: bytes) -> dict[str, torch.Tensor]:
    """Tensors from safetensors bytes; ValueError (with the reason) when they are not valid."""
    check_safetensors_header(data)
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"is not a valid safetensors file ({reason})") from None


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """checkpoint.json, verified (size, nesting, format, version, digest and every field of
    the trainer state: checkpoint_fields.py); raises CheckpointError naming the field."""
    root = Path(path)
    if root.is_file() and root.name in (META_FILE, MODEL_FILE, STATE_FILE):
        root = root.parent
    meta_path = root / META_FILE
    if not root.is_dir():
        raise _fail(root, "no such checkpoint directory")
    try:
        raw = read_bounded(meta_path, MAX_META_BYTES)
    except OSError as exc:
        raise _fail(root, f"{META_FILE} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise _fail(root, f"{META_FILE} {exc}") from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise _fail(root, f"{META_FILE} is nested too deeply to be a checkpoint") from None
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError, or an integer of 5,000 digits
        raise _fail(root, f"{META_FILE} is damaged (not valid JSON; truncated?)") from None
    try:
        check_depth(body)
    except FieldProblem:
        raise _fail(root, f"{META_FILE} is nested more than {MAX_DEPTH} levels deep; "
                          "not a VisionStudio checkpoint") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise _fail(root, "not a VisionStudio checkpoint")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise _fail(root, f"format version {show(version)} is not one this VisionStudio "
                          f"supports (1 to {FORMAT_VERSION})")
    digest = body.pop("digest", None)
    try:
        matches = digest == _digest(body)
    except ValueError:  # NaN/Infinity are written by json.dumps, so this is only a safety net
        matches = False
    if not matches:
        raise _fail(root, f"{META_FILE} was modified or damaged (its digest does not match)")
    try:
        check_files(body.get("files"), (MODEL_FILE, STATE_FILE), MAX_TENSOR_FILE_BYTES)
        check_trainer(body.get("trainer"))
    except FieldProblem as exc:
        raise _fail(root, f"{META_FILE}: field '{exc.field}' {exc.problem}") from None
    body["_root"] = str(root)
    return body


def _read_tensors(root: Path, name: str, expected: dict[str, Any]) -> dict[str, torch.Tensor]:
    info = expected[name]  # read_meta checked the entry (a size and a SHA-256)
    try:
        data = read_bounded(root / name, MAX_TENSOR_FILE_BYTES, expected=info["bytes"])
    except OSError as exc:
        raise _fail(root, f"{name} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise _fail(root, f"{name} {exc}") from None
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise _fail(root, f"{name} was modified or damaged (its SHA-256 does not match)")
    try:
        return parse_safetensors(data)
    except ValueError as exc:
        raise _fail(root, f"{name} {exc}") from None


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint directory; raises CheckpointError on any problem."""
    body = read_meta(path)
    root = Path(body["_root"])
    model_state = _read_tensors(root, MODEL_FILE, body["files"])
    tensors = _read_tensors(root, STATE_FILE, body["files"])
    return Checkpoint(root, body["trainer"], model_state, tensors)


def read_weights_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a bare .safetensors file, read with the same bounds as a checkpoint's
    (a regular file, at most MAX_TENSOR_FILE_BYTES, a plausible header)."""
    p = Path(path)
    try:
        return parse_safetensors(read_bounded(p, MAX_TENSOR_FILE_BYTES))
    except OSError as exc:
        raise CheckpointError(f"cannot read weights from {p}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CheckpointError(f"cannot read weights from {p}: the file {exc}") from None
