"""Reading and writing project files: versioned JSON, atomic saves, never pickle.

``load_project`` turns any failure (unreadable file, bad JSON, wrong structure,
newer schema) into one ProjectFormatError naming the file, the JSON path and the
problem. ``save_project`` writes a temporary file beside the target, checks the
full length was written, fsyncs and renames, so the old file survives any failure.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .document import SCHEMA_VERSION, ProjectDocument, document_from_dict
from .errors import ProjectFormatError

PROJECT_SUFFIX = ".vsproj"
MAX_FILE_BYTES = 64 * 1024 * 1024

# MIGRATIONS[n] upgrades data written with schema_version n to n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectFormatError("must be a whole number (the file's format version)",
                                 path="schema_version")
    if version > SCHEMA_VERSION:
        raise ProjectFormatError(
            f"version {version} was written by a newer VisionStudio; this one reads up to "
            f"version {SCHEMA_VERSION} — please update VisionStudio", path="schema_version")
    if version < 1:
        raise ProjectFormatError(f"unknown format version {version}", path="schema_version")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a project file")


def parse_project(text: str) -> ProjectDocument:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectFormatError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise ProjectFormatError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProjectFormatError("must be a JSON object", path="(top level)")
    try:
        return document_from_dict(migrate(data))
    except RecursionError:
        raise ProjectFormatError("the file is nested too deeply") from None


def load_project(path: str | os.PathLike[str]) -> ProjectDocument:
    file = str(path)
    try:
        size = os.path.getsize(file)
        if size > MAX_FILE_BYTES:
            raise ProjectFormatError(f"the file is {size // (1024 * 1024)} MiB; project files "
                                     f"are at most {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        with open(file, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8")
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None
    except UnicodeDecodeError:
        raise ProjectFormatError("the file is not UTF-8 text", file=file) from None
    except OSError as exc:
        raise ProjectFormatError(f"cannot be read: {exc.strerror or exc}", file=file) from None
    try:
        return parse_project(text)
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None


def dumps_project(doc: ProjectDocument) -> str:
    return json.dumps(doc.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        view = memoryview(data)
        written = 0
        while written < len(view):
            n = os.write(fd, view[written:])
            if n <= 0:
                raise OSError("short write (is the disk full?)")
            written += n
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
        tmp = ""
        try:  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def save_project(doc: ProjectDocument, path: str | os.PathLike[str]) -> None:
    atomic_write_bytes(path, dumps_project(doc).encode("utf-8"))
