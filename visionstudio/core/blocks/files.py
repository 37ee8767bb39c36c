""".vsblock files: one block definition and the definitions it uses, to share between
projects or keep in the user's block library folder.

    {"format": "visionstudio.block", "version": 1, "app_version": "...",
     "block": {<definition, with its "key">}, "dependencies": {key: <definition>}}

Written atomically; read as strictly as a project file (the same readers, the same
JSON paths in every error, the same limits on layers and connections), after the size
of the file is checked and before anything is built from it. See docs/project-format.md.
"""

from __future__ import annotations

import json
import os
from typing import Any

from visionstudio.core.graph.blocks import BlockDefinition, BlockLibrary, key_problem
from visionstudio.core.project.atomic import atomic_write_bytes
from visionstudio.core.project.blocks_reader import read_definitions
from visionstudio.core.project.errors import ProjectFormatError, json_path
from visionstudio.core.project.graph_reader import Budget, expect, fail
from visionstudio.core.project.io import decode_json

BLOCK_FORMAT = "visionstudio.block"
BLOCK_FILE_VERSION = 1
BLOCK_SUFFIX = ".vsblock"
MAX_BLOCK_FILE_BYTES = 8 * 1024 * 1024
MAX_BLOCK_CONTAINERS = 500_000  # JSON lists and objects, counted before parsing
TOP_LEVEL = ("format", "version", "app_version", "block", "dependencies")


def block_file_dict(library: BlockLibrary, key: str) -> dict[str, Any]:
    from visionstudio.core import __version__ as core_version

    if key in library.dependencies(key):
        raise ValueError(f"block {key} contains itself and cannot be saved")
    dependencies = {}
    for dep in library.dependencies(key):
        data = library.get(dep).to_dict()
        del data["key"]
        dependencies[dep] = data
    return {"format": BLOCK_FORMAT, "version": BLOCK_FILE_VERSION, "app_version": core_version,
            "block": library.get(key).to_dict(), "dependencies": dependencies}


def dumps_block(library: BlockLibrary, key: str) -> str:
    return json.dumps(block_file_dict(library, key), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_block_file(path: str | os.PathLike[str], library: BlockLibrary, key: str) -> None:
    """Save definition ``key`` with every definition it uses; the old file survives any failure."""
    data = dumps_block(library, key).encode("utf-8")
    if len(data) > MAX_BLOCK_FILE_BYTES:
        raise ProjectFormatError(f"the block would be {len(data) / 2**20:.1f} MiB; block files are at most "
                                 f"{MAX_BLOCK_FILE_BYTES // 2**20} MiB", file=os.fspath(path))
    atomic_write_bytes(path, data)


def read_block_file(path: str | os.PathLike[str]) -> tuple[BlockDefinition, dict[str, BlockDefinition]]:
    """(the block, the definitions it uses by key), all in one new library of their
    own; any problem is a ProjectFormatError naming the file and the JSON path."""
    file = os.fsdecode(os.fspath(path))
    try:
        size = os.path.getsize(file)
        if size > MAX_BLOCK_FILE_BYTES:
            raise _too_big(size)
        with open(file, "rb") as fh:
            raw = fh.read(MAX_BLOCK_FILE_BYTES + 1)
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ProjectFormatError(f"cannot be read: {why}", file=file) from None
    try:
        return parse_block(raw)
    except ProjectFormatError as exc:
        raise exc.with_file(file) from None


def _too_big(size: int) -> ProjectFormatError:
    return ProjectFormatError(f"the file is {size / 2**20:.1f} MiB; block files are at most "
                              f"{MAX_BLOCK_FILE_BYTES // 2**20} MiB")


def parse_block(raw: bytes) -> tuple[BlockDefinition, dict[str, BlockDefinition]]:
    """A block from the bytes of a .vsblock file (see :func:`read_block_file`)."""
    if len(raw) > MAX_BLOCK_FILE_BYTES:
        raise _too_big(len(raw))
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectFormatError(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None
    containers = text.count("[") + text.count("{")
    if containers > MAX_BLOCK_CONTAINERS:
        raise ProjectFormatError(f"opens {containers:,} JSON lists and objects; a block file may hold at "
                                 f"most {MAX_BLOCK_CONTAINERS:,}")
    data = decode_json(text, False)
    try:
        return _block_from_dict(data)
    except RecursionError:
        raise ProjectFormatError("the file is nested too deeply") from None


def _block_from_dict(data: dict[str, Any]) -> tuple[BlockDefinition, dict[str, BlockDefinition]]:
    form = data.get("format")
    if form != BLOCK_FORMAT:
        shown = repr(form[:40]) + ("…" if len(form) > 40 else "") if isinstance(form, str) else "missing"
        raise fail("format", f"expected {BLOCK_FORMAT!r} (found {shown}): this is not a VisionStudio block")
    for key in data:
        if key not in TOP_LEVEL:
            raise fail(json_path("", key), "unknown field")
    version = expect(data.get("version"), int, "version", "a whole number")
    if version > BLOCK_FILE_VERSION:
        raise fail("version", f"block file version {version} was written by a newer VisionStudio (this one "
                   f"reads up to version {BLOCK_FILE_VERSION}) — please update VisionStudio")
    if version < 1:
        raise fail("version", f"unknown block file version {version}")
    expect(data.get("app_version", ""), str, "app_version", "text")
    block = expect(data.get("block"), dict, "block", "an object (the block's definition)")
    key = block.get("key")
    problem = key_problem(key)
    if problem:
        raise fail("block.key", problem)
    dependencies = expect(data.get("dependencies", {}), dict, "dependencies", "an object")
    if key in dependencies:
        raise fail(json_path("dependencies", key), f"the block {key} is listed among its own dependencies")
    entries = [(k, v, json_path("dependencies", k)) for k, v in dependencies.items()]
    entries.append((key, {k: v for k, v in block.items() if k != "key"}, "block"))
    library = BlockLibrary()
    read_definitions(entries, library, Budget())
    definition = library.get(key)
    used = library.dependencies(key)
    unused = [k for k in dependencies if k not in used]
    if unused:
        raise fail(json_path("dependencies", unused[0]), f"block {key} does not use this block")
    return definition, {k: library.get(k) for k in used}
