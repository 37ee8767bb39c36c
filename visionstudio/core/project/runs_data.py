"""The ``runs`` list of a project file: bounded, shape-checked, copied in one pass.

Run entries are free-form (settings, a summary, whatever a later version adds), so
they are the easiest place to hide a hostile payload: millions of values, deep
nesting, a huge string, or a run id like ``../../home`` that later names a folder to
write or delete. Everything here is checked in one iterative walk that stops at the
first excess, and the walk builds the copy the document keeps — no ``deepcopy``
(recursive, with a memo entry per object) of data nobody has measured yet.

A run's id and folder name its folder inside the project's runs folder, so they
must be plain names (``run_name_problem``); ``core.runs.paths`` applies the same
rule, and confines the resolved paths, before anything is written or deleted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from visionstudio.core.project.errors import ProjectFormatError, json_path

MAX_RUNS = 10_000
MAX_RUN_DEPTH = 32            # containers nested inside one run entry
MAX_RUN_VALUES = 10_000       # values (scalars and containers) inside one run entry
MAX_RUNS_VALUES = 2_000_000   # ... and in all runs together (a real entry holds ~50)
MAX_RUN_TEXT = 1 << 20        # characters of text (keys and strings) in one run entry
MAX_RUNS_TEXT = 16 << 20      # ... and in all runs together
MAX_NAME = 64                 # a run id or folder: a plain name of at most this many characters
MAX_TITLE = 1000              # a run's display name
SURROGATE_PROBLEM = "contains an invalid character (a lone surrogate escape)"

_RUN_NAME = re.compile(r"[A-Za-z0-9._-]+")
# Names Windows maps to devices whatever the folder ("nul", "COM1.txt", ...).
_DEVICE_NAME = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)

# Known fields whose type the app relies on: (field, allowed types, words).
_ENTRY_TYPES: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("name", (str,), "text"), ("created", (str,), "text"), ("status", (str,), "text"),
    ("settings", (dict, type(None)), "an object"), ("summary", (dict, type(None)), "an object"),
    ("resumed_from", (str, type(None)), "text or null"), ("stale", (bool,), "true or false"),
)
_SETTINGS_TYPES = ("training", "dataset")


def run_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a run id or folder, or None when it is a plain name: the
    rule that keeps a run folder a direct child of the project's runs folder on
    every system (no separators, no ``..``, no NUL, no Windows device names)."""
    if not name:
        return "must not be empty"
    if "\x00" in name:
        return "contains a NUL character"
    if len(name) > MAX_NAME:
        return f"is {len(name):,} characters long; run ids and folders have at most {MAX_NAME}"
    if any(c in name for c in "/\\:"):
        return ("must be a plain folder name without '/', '\\' or ':' "
                "(it names a folder inside the project's runs folder)")
    if name in (".", ".."):
        return "must be a plain folder name, not '.' or '..'"
    if not _RUN_NAME.fullmatch(name):
        return "may only use letters A-Z and a-z, digits, '.', '_' and '-'"
    if name.startswith("."):
        return "must not start with '.' (hidden and temporary files do)"
    if name.endswith("."):
        return "must not end with '.' (Windows drops it)"
    if _DEVICE_NAME.fullmatch(name):
        return "is a device name on Windows"
    return None


def _saveable(text: str) -> bool:
    """False for text with a lone surrogate (from a ``\\ud800`` escape): it could not be
    saved again. Checked here for the runs, so the whole-file text check need not walk
    a runs list that is refused anyway."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fail(path: str, problem: str) -> ProjectFormatError:
    return ProjectFormatError(problem, path=path)


def _type_words(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _where(base: str, link: tuple | None) -> str:
    """The JSON path of a value from its chain of (parent link, key) pairs; built only
    when there is something to report, so the walk allocates no path strings."""
    keys: list[Any] = []
    while link is not None:
        link, key = link
        keys.append(key)
    path = base
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else json_path(path, key)
    return path


def _copy_entry(run: dict[str, Any], base: str) -> tuple[dict[str, Any], int, int]:
    """A copy of one run entry made of plain dicts, lists and JSON scalars, with the
    number of values and characters it holds. Raises at the first value past a limit.
    (Exact type tests first: this loop is the whole cost of a large runs list.)"""
    root: dict[str, Any] = {}
    values, text = 1, 0
    stack: list[tuple[Any, Any, int, tuple | None]] = [(run, root, 1, None)]
    while stack:
        src, dst, depth, link = stack.pop()
        is_dict = isinstance(src, dict)
        for key, value in (src.items() if is_dict else enumerate(src)):
            values += 1
            if values > MAX_RUN_VALUES:
                raise _fail(base, f"holds more than {MAX_RUN_VALUES:,} values; a run entry keeps "
                            "settings and a summary (the metrics live in the run's folder)")
            kind = type(value)
            if kind is str:
                text += len(value)
                if not value.isascii() and not _saveable(value):
                    raise _fail(_where(base, (link, key)), SURROGATE_PROBLEM)
            elif kind is int or kind is bool or value is None:
                pass
            elif kind is float:
                if value - value != 0.0:   # inf - inf and nan - nan are nan
                    raise _fail(_where(base, (link, key)), "must be a finite number")
            elif kind is dict or kind is list or isinstance(value, (dict, list, tuple)):
                if depth >= MAX_RUN_DEPTH:
                    raise _fail(_where(base, (link, key)), f"is nested more than {MAX_RUN_DEPTH} "
                                "levels deep inside its run entry")
                child = value
                value = {} if isinstance(value, dict) else []
                stack.append((child, value, depth + 1, (link, key)))
            else:
                value = _scalar(value, base, (link, key))
                if isinstance(value, str):
                    text += len(value)
            if is_dict:
                if type(key) is not str:
                    raise _fail(_where(base, link), "has a field name that is not text")
                if not key.isascii() and not _saveable(key):
                    raise _fail(_where(base, link), f"has a field name that {SURROGATE_PROBLEM}")
                text += len(key)
                dst[key] = value
            else:
                dst.append(value)
            if text > MAX_RUN_TEXT:
                raise _fail(base, f"holds more than {MAX_RUN_TEXT:,} characters of text")
    return root, values, text


def _scalar(value: Any, base: str, link: tuple) -> Any:
    """A JSON scalar of a subclass (only from callers passing their own data), as the
    plain type; anything else is refused."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    if isinstance(value, float):
        raise _fail(_where(base, link), "must be a finite number")
    raise _fail(_where(base, link), f"must be a JSON value, not {_type_words(value)}")


def _check_name(entry: dict[str, Any], key: str, path: str) -> str:
    value = entry[key]
    if not isinstance(value, str):
        raise _fail(path, f"must be text (a plain folder name), not {_type_words(value)}")
    problem = run_name_problem(value)
    if problem:
        shown = repr(value[:60]) + ("…" if len(value) > 60 else "")
        raise _fail(path, f"{shown} {problem}")
    return value


def _check_entry(entry: dict[str, Any], path: str) -> None:
    if not isinstance(entry.get("id"), str):
        raise _fail(f"{path}.id", f"must be text (the run's id), not {_type_words(entry.get('id'))}")
    _check_name(entry, "id", f"{path}.id")
    if entry.get("folder") is not None:
        _check_name(entry, "folder", f"{path}.folder")
    for key, kinds, words in _ENTRY_TYPES:
        if key in entry and not isinstance(entry[key], kinds):
            raise _fail(f"{path}.{key}", f"must be {words}, not {_type_words(entry[key])}")
    if len(entry.get("name") or "") > MAX_TITLE:
        raise _fail(f"{path}.name", f"a run name can have at most {MAX_TITLE} characters")
    settings = entry.get("settings") or {}
    for key in _SETTINGS_TYPES:
        if settings.get(key) is not None and not isinstance(settings[key], dict):
            raise _fail(f"{path}.settings.{key}", f"must be an object, not {_type_words(settings[key])}")
    training = settings.get("training") or {}
    optimizer = training.get("optimizer")
    if optimizer is not None and not isinstance(optimizer, dict):
        raise _fail(f"{path}.settings.training.optimizer", "must be an object with 'key' and 'params'")


def read_runs(data: Any) -> list[dict[str, Any]]:
    """The document's run list from the file's ``runs`` value: at most MAX_RUNS entries,
    each an object with a plain, unique id and folder, bounded in depth, values and text
    (per entry and in total). The result is a fresh copy; ``data`` is not kept."""
    if not isinstance(data, list):
        raise _fail("runs", f"must be a list, not {_type_words(data)}")
    if len(data) > MAX_RUNS:
        raise _fail("runs", f"has {len(data):,} runs; at most {MAX_RUNS:,} are supported")
    runs: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    folders: dict[str, int] = {}
    values = text = 0
    for i, run in enumerate(data):
        path = f"runs[{i}]"
        if not isinstance(run, dict):
            raise _fail(path, f"must be an object, not {_type_words(run)}")
        entry, n, chars = _copy_entry(run, path)
        values, text = values + n, text + chars
        if values > MAX_RUNS_VALUES:
            raise _fail(path, f"the runs hold more than {MAX_RUNS_VALUES:,} values together")
        if text > MAX_RUNS_TEXT:
            raise _fail(path, f"the runs hold more than {MAX_RUNS_TEXT:,} characters of text together")
        _check_entry(entry, path)
        run_id = entry["id"]
        if run_id in ids:
            raise _fail(f"{path}.id", f"id {run_id!r} is used by runs[{ids[run_id]}] too")
        folder = entry.get("folder") or run_id
        # Folders compare case-insensitively: on macOS and Windows "A" and "a" are one folder.
        if folder.lower() in folders:
            raise _fail(f"{path}.folder" if entry.get("folder") else f"{path}.id",
                        f"folder {folder!r} is used by runs[{folders[folder.lower()]}] too")
        ids[run_id] = i
        folders[folder.lower()] = i
        runs.append(entry)
    return runs
