"""Reading and writing project files: versioned JSON, atomic saves, never pickle.

``load_project`` turns any failure (unreadable file, bad JSON, wrong structure,
newer schema) into one ProjectFormatError naming the file, the JSON path and the
problem. ``save_project`` writes a temporary file beside the target, checks the
full length was written, fsyncs and renames, so the old file survives any failure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visionstudio.core.gcpause import gc_paused
from visionstudio.core.project.atomic import atomic_write_bytes
from visionstudio.core.project.document import SCHEMA_VERSION, ProjectDocument, document_from_dict
from visionstudio.core.project.errors import ProjectFormatError, json_path

PROJECT_SUFFIX = ".vsproj"
MAX_FILE_BYTES = 64 * 1024 * 1024
# JSON lists and objects a file may open, counted as brackets before parsing. Each costs
# ~80 bytes once parsed, so 64 MiB of "[]," would take 1.7 GB; the largest real project
# (10,000 layers, 100,000 connections, runs at their limits) opens about 2.3 million.
MAX_CONTAINERS = 4_000_000
# Start of the message when validation let something through that it should have
# named precisely; the fuzz tests fail on it.
INTERNAL_PROBLEM = "the file could not be read because of an unexpected problem"



def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added block definitions (``graph.blocks``); a version 1 file has none,
    and one that claims some was not written by VisionStudio."""
    graph = data.get("graph")
    if isinstance(graph, dict) and "blocks" in graph:
        raise ProjectFormatError("unknown field (blocks came with format version 2)", path="graph.blocks")
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 added the top-level ``task``; every version 2 project was a classification
    one. A task already there (a newer file whose version was set back by hand) is kept and
    checked like any version 3 value."""
    data.setdefault("task", "classification")
    return data


# MIGRATIONS[n] upgrades data written with schema_version n to n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


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
    out = dict(pairs)  # at C speed; only an object that lost keys is looked at again
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the field {key[:80]!r} appears twice in one object")
            seen.add(key)
    return out


# A JSON escape that decodes to a UTF-16 surrogate (\ud800-\udfff): the only way a
# string read from a UTF-8 file can end up unsavable.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_text(data: Any) -> None:
    """Reject strings that cannot be saved again (lone surrogates from ``\\ud800``
    escapes): a file that opens must also save.

    One walk in document order that keeps only the keys leading to the current value
    (memory: the depth, not the size); the JSON path is spelled out only for the value
    that fails.
    """
    if isinstance(data, str):
        _encodable(data, [])
        return
    if not isinstance(data, (dict, list)):
        return
    keys: list[Any] = []  # how to reach the container each iterator walks (below the root)
    walking = [_children(data)]
    while walking:
        step = next(walking[-1], None)
        if step is None:
            walking.pop()
            if keys:
                keys.pop()
            continue
        key, value = step
        if isinstance(key, str) and not _encodes(key):
            raise ProjectFormatError(_SURROGATE_PROBLEM, path=_path_of(keys + [None]))
        if isinstance(value, str):
            _encodable(value, keys + [key])
        elif isinstance(value, (dict, list)) and value:
            keys.append(key)
            walking.append(_children(value))


_SURROGATE_PROBLEM = "contains an invalid character (a lone surrogate escape)"


def _children(value: dict | list):
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _path_of(keys: list[Any]) -> str:
    """The JSON path of a value from the keys and indices leading to it (None: a key
    that cannot be shown)."""
    path = ""
    for key in keys:
        if isinstance(key, int):
            path = f"{path}[{key}]"
        elif key is not None and _encodes(key):
            path = json_path(path, key)
        else:
            path = f"{path}[?]"
    return path or "(top level)"


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodable(text: str, keys: list[Any]) -> None:
    if not _encodes(text):
        raise ProjectFormatError(_SURROGATE_PROBLEM, path=_path_of(keys))


def _too_big(size: int) -> ProjectFormatError:
    mib = 1024 * 1024
    return ProjectFormatError(f"the project is {size / mib:.1f} MiB; project files are at most "
                              f"{MAX_FILE_BYTES // mib} MiB")


def _utf8_size(text: str) -> tuple[int, bool]:
    """(bytes the text takes as UTF-8, whether it holds raw surrogates), cheaply: an
    ASCII string's length is its size, and only longer ones are ever encoded."""
    if text.isascii():
        return len(text), False
    if len(text) * 4 <= MAX_FILE_BYTES:  # cannot be over the limit: no need to count
        return 0, not _encodes(text)
    try:
        return len(text.encode("utf-8")), False
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass")), True


def parse_project(text: str | bytes) -> ProjectDocument:
    """A document from the text of a project file; any problem is a ProjectFormatError.

    The size limit of :func:`load_project` holds here too, measured on the UTF-8 bytes
    (a str longer than the limit is refused before anything else is done with it).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > MAX_FILE_BYTES:
            raise _too_big(len(text))
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProjectFormatError("the file is not UTF-8 text") from None
        raw_surrogates = False  # the UTF-8 decoder refuses encoded surrogates
    elif isinstance(text, str):
        if len(text) > MAX_FILE_BYTES:
            raise _too_big(len(text))
        size, raw_surrogates = _utf8_size(text)
        if size > MAX_FILE_BYTES:
            raise _too_big(size)
    else:
        raise TypeError(f"parse_project takes str or bytes, not {type(text).__name__}")
    text = text.removeprefix("\ufeff")  # a byte-order mark from some Windows editors
    containers = text.count("[") + text.count("{")  # brackets inside strings count too: an upper bound
    if containers > MAX_CONTAINERS:
        raise ProjectFormatError(f"opens {containers:,} JSON lists and objects; a project file may "
                                 f"hold at most {MAX_CONTAINERS:,}")
    with gc_paused():  # reading allocates millions of objects that all live on
        return _parse(text, raw_surrogates)


def decode_json(text: str, raw_surrogates: bool) -> dict[str, Any]:
    """The JSON object of a file's text, strictly (no NaN, no duplicate keys, no lone
    surrogates); anything else is a ProjectFormatError. The .vsblock reader uses it too."""
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
    if raw_surrogates or _SURROGATE_ESCAPE.search(text):
        _check_text(data)
    return data


def _parse(text: str, raw_surrogates: bool) -> ProjectDocument:
    data = decode_json(text, raw_surrogates)
    try:
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
        doc = parse_project(text)
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None
    doc.folder = Path(file).resolve().parent   # initial_weights is relative to it
    return doc


def dumps_project(doc: ProjectDocument) -> str:
    """The file's text: indented for diffs, or compact when indenting would take it past
    MAX_FILE_BYTES (a 64 MiB file that opened must save as one that opens again)."""
    data = doc.to_dict()
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if len(text) * 4 > MAX_FILE_BYTES and len(text.encode("utf-8")) > MAX_FILE_BYTES:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    return text


def save_project(doc: ProjectDocument, path: str | os.PathLike[str]) -> None:
    """Atomic (``atomic.py``): the old file survives any failure, the file keeps its
    permission bits, and temporary files left by a killed save are removed."""
    data = dumps_project(doc).encode("utf-8")
    if len(data) > MAX_FILE_BYTES:   # it would save, but never open again
        raise ProjectFormatError(f"the project would be {len(data) // (1024 * 1024)} MiB; project files are "
                                 f"at most {MAX_FILE_BYTES // (1024 * 1024)} MiB (remove old runs or "
                                 f"layers); the file on disk was not changed", file=os.fspath(path))
    atomic_write_bytes(path, data)
