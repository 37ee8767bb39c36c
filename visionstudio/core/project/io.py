"""Reading and writing project files: versioned JSON, atomic saves, never pickle.

``load_project`` turns any failure (unreadable file, bad JSON, wrong structure,
newer schema) into one ProjectFormatError naming the file, the JSON path and the
problem. ``save_project`` writes a temporary file beside the target, checks the
full length was written, fsyncs and renames, so the old file survives any failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from .atomic import atomic_write_bytes
from .document import SCHEMA_VERSION, ProjectDocument, document_from_dict, json_path
from .errors import ProjectFormatError

PROJECT_SUFFIX = ".vsproj"
MAX_FILE_BYTES = 64 * 1024 * 1024
# Start of the message when validation let something through that it should have
# named precisely; the fuzz tests fail on it.
INTERNAL_PROBLEM = "the file could not be read because of an unexpected problem"

# MIGRATIONS[n] upgrades data written with schema_version n to n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade plain data written with an older ``schema_version`` step by step.

    ``MIGRATIONS[n]`` takes data of version n and returns data of version n + 1 (it
    may change ``data`` in place); the loop stamps the new version after each step.
    """
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
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectFormatError(f"no upgrade from format version {version} is known",
                                     path="schema_version")
        try:
            data = step(data)
        except ProjectFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ProjectFormatError(f"cannot upgrade from format version {version}: {exc}",
                                     path="schema_version") from None
        if not isinstance(data, dict):
            raise ProjectFormatError(f"upgrading from format version {version} failed",
                                     path="schema_version")
        version += 1
        data["schema_version"] = version
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a project file")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the field {key[:80]!r} appears twice in one object")
        out[key] = value
    return out


def _check_text(data: Any) -> None:
    """Reject strings that cannot be saved again (lone surrogates from ``\\ud800``
    escapes): a file that opens must also save."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _encodable(value, path or "(top level)")
        elif isinstance(value, dict):
            for key, item in value.items():
                sub = json_path(path, key) if _encodes(key) else f"{path}[?]"
                _encodable(key, sub)
                stack.append((item, sub))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodable(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProjectFormatError("contains an invalid character (a lone surrogate escape)",
                                 path=path) from None


def parse_project(text: str | bytes) -> ProjectDocument:
    """A document from the text of a project file; any problem is a ProjectFormatError."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProjectFormatError("the file is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark from some Windows editors
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ProjectFormatError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ProjectFormatError("not valid JSON: the file is nested too deeply") from None
    except ValueError as exc:
        raise ProjectFormatError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProjectFormatError("must be a JSON object", path="(top level)")
    try:
        _check_text(data)
        return document_from_dict(migrate(data))
    except ProjectFormatError:
        raise
    except RecursionError:
        raise ProjectFormatError("the file is nested too deeply") from None
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError) as exc:
        # A safety net: validation should have caught this with a JSON path.
        raise ProjectFormatError(f"{INTERNAL_PROBLEM} ({type(exc).__name__}: {exc})") from None


def load_project(path: str | os.PathLike[str]) -> ProjectDocument:
    file = os.fspath(path)
    if isinstance(file, bytes):
        file = os.fsdecode(file)
    try:
        size = os.path.getsize(file)
        if size > MAX_FILE_BYTES:
            raise ProjectFormatError(f"the file is {size // (1024 * 1024)} MiB; project files "
                                     f"are at most {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        with open(file, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ProjectFormatError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        text = raw.decode("utf-8-sig")
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None
    except UnicodeDecodeError as exc:
        raise ProjectFormatError(f"the file is not UTF-8 text (bad byte at offset {exc.start})",
                                 file=file) from None
    except OSError as exc:
        raise ProjectFormatError(f"cannot be read: {exc.strerror or exc}", file=file) from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise ProjectFormatError(f"cannot be read: {exc}", file=file) from None
    try:
        return parse_project(text)
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None


def dumps_project(doc: ProjectDocument) -> str:
    return json.dumps(doc.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def save_project(doc: ProjectDocument, path: str | os.PathLike[str]) -> None:
    """Atomic (``atomic.py``): the old file survives any failure, the file keeps its
    permission bits, and temporary files left by a killed save are removed."""
    atomic_write_bytes(path, dumps_project(doc).encode("utf-8"))
