"""Run folders, confined: every path the app writes or deletes for a run stays inside
the project's runs folder, and deleting a run removes only the files the app wrote.

A run entry comes from a project file, which may come from anyone. Its id and folder
are plain names (checked at load, ``project.runs_data.run_name_problem``, and again
here), but a plain name is not enough: the folder, or ``checkpoints`` inside it, may
be a symbolic link to somewhere else. So before writing (Continue, metric files,
moving runs on Save) every path is resolved with ``realpath`` and must still lie
inside the resolved runs folder; otherwise ``RunPathError`` says which path leads
where. Reading needs no such care: a dataset folder may be anywhere, and so may the
files a run's checkpoint is read from.

Deleting walks the layout the app itself writes (``RUN_FILES``, ``CHECKPOINT_DIRS``,
``CHECKPOINT_FILES`` and their temporary names), removes those regular files, then
each folder only once it is empty. Anything else — a file the user put there, a
symbolic link — is left in place and reported; nothing is ever ``rmtree``'d.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

from visionstudio.core.project.runs_data import run_name_problem

# What the app writes into a run folder (RunHistory.save, execute's run.json, the
# trainer's checkpoints, the run report's default file and the TensorBoard event files).
RUN_FILES = ("history.npz", "metrics.json", "metrics.csv", "run.json", "report.html")
TENSORBOARD = "tensorboard"
_TENSORBOARD_EVENTS = re.compile(r"events\.out\.tfevents\.[^/\\]+")
CHECKPOINTS = "checkpoints"
CHECKPOINT_DIRS = ("last", "best")
CHECKPOINT_FILES = ("model.safetensors", "state.safetensors", "checkpoint.json")
# Temporary names: atomic_write_bytes ('.<name>.<8 chars>.tmp', a file) and
# save_checkpoint ('.<name>.tmp-<8 hex>' being written, '.<name>.old-<8 hex>' replaced).
_TEMP_FILE = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp")
_TEMP_CHECKPOINT = re.compile(r"\.(?P<name>last|best)\.(tmp|old)-[0-9a-f]{8}")


class RunPathError(ValueError):
    """A run's folder (or a file the app would write in it) that is not a plain name
    or that resolves to a place outside the project's runs folder."""


def _label(entry: dict[str, Any]) -> str:
    return str(entry.get("name") or entry.get("id") or "?")[:80]


def run_dir(root: Path, entry: dict[str, Any]) -> Path:
    """The run's folder, ``root/<folder or id>``; the name must be a plain folder name.
    (Where it leads is checked by ``writable_run_dir`` before anything is written.)"""
    name = entry.get("folder") or entry["id"]
    if not isinstance(name, str):
        raise RunPathError(f"run {_label(entry)}: its folder must be a name, not {type(name).__name__}")
    problem = run_name_problem(name)
    if problem:
        shown = repr(name[:60]) + ("…" if len(name) > 60 else "")
        raise RunPathError(f"run {_label(entry)}: the folder name {shown} {problem}")
    return Path(root) / name


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(path))


def _inside(real_root: str, path: str | os.PathLike[str]) -> bool:
    real = _real(path)
    try:
        return real != real_root and os.path.commonpath([real_root, real]) == real_root
    except ValueError:   # another drive (Windows)
        return False


def _outside_error(path: Path, root: Path) -> RunPathError:
    return RunPathError(f"{path} leads to {os.path.realpath(path)}, outside the project's runs folder "
                        f"{root} (a symbolic link?); VisionStudio writes and deletes run files only "
                        "inside that folder")


def confine(root: Path, path: str | os.PathLike[str]) -> Path:
    """``path`` unchanged when it resolves (symbolic links included) inside ``root``;
    RunPathError otherwise."""
    if not _inside(_real(root), path):
        raise _outside_error(Path(path), Path(root))
    return Path(path)


def writable_run_dir(root: Path, entry: dict[str, Any]) -> Path:
    """The run's folder, checked for writing: the folder and every file or folder the
    app writes in it (metric files, ``checkpoints``, ``checkpoints/last`` and ``best``)
    resolve inside ``root``. Raises RunPathError naming the first that does not."""
    folder = run_dir(root, entry)
    real_root = _real(root)
    ckpt = folder / CHECKPOINTS
    for path in (folder, *(folder / f for f in RUN_FILES), ckpt, *(ckpt / d for d in CHECKPOINT_DIRS)):
        if not _inside(real_root, path):
            raise _outside_error(path, Path(root))
    return folder


# -- deleting ----------------------------------------------------------------------------
def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)   # a link to a folder is not one
    except OSError:
        return False


def _remove_files(folder: Path, names: tuple[str, ...], temp_of: tuple[str, ...]) -> None:
    """Unlink the regular files ``names`` of ``folder`` and the app's temporary files
    of those names; links and anything else stay."""
    for name in names:
        if _is_file(folder / name):
            os.unlink(folder / name)
    for item in os.listdir(folder):
        m = _TEMP_FILE.fullmatch(item)
        if m and m.group("name") in temp_of and _is_file(folder / item):
            os.unlink(folder / item)


def _remove_checkpoint(folder: Path) -> None:
    if _is_dir(folder):
        _remove_files(folder, CHECKPOINT_FILES, ())
        _rmdir_if_empty(folder)


def _rmdir_if_empty(folder: Path) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass   # not empty: what is left is not ours, and is reported


def delete_run_files(root: Path, entry: dict[str, Any]) -> list[str]:
    """Delete what the app wrote for this run, then its folder if that leaves it empty.

    Returns the paths left in place because VisionStudio did not write them (files a
    user added, symbolic links); [] when the folder is gone. Raises RunPathError when
    the folder is not a plain name inside ``root`` (symbolic links resolved), OSError
    when a file cannot be removed."""
    folder = run_dir(root, entry)
    if not os.path.lexists(folder):
        return []
    if not _is_dir(folder):   # a link (even one pointing inside) or a file: not ours
        if os.path.islink(folder):
            confine(root, folder)   # a link out of the project: say where it leads
        return [str(folder)]
    confine(root, folder)
    ckpt = folder / CHECKPOINTS
    if _is_dir(ckpt):
        for name in CHECKPOINT_DIRS:
            _remove_checkpoint(ckpt / name)
        for item in os.listdir(ckpt):
            if _TEMP_CHECKPOINT.fullmatch(item):
                _remove_checkpoint(ckpt / item)
        _rmdir_if_empty(ckpt)
    _remove_files(folder, RUN_FILES, RUN_FILES)
    events = folder / TENSORBOARD
    if _is_dir(events):
        for item in os.listdir(events):
            if _TENSORBOARD_EVENTS.fullmatch(item) and _is_file(events / item):
                os.unlink(events / item)
        _rmdir_if_empty(events)
    _rmdir_if_empty(folder)
    if not os.path.lexists(folder):
        return []
    kept: list[str] = []
    for base, dirs, files in os.walk(folder):   # does not follow links
        kept.extend(os.path.join(base, f) for f in files)
        kept.extend(os.path.join(base, d) for d in dirs if os.path.islink(os.path.join(base, d)))
        if not dirs and not files and base != str(folder):
            kept.append(base + os.sep)
    return sorted(kept)


# -- moving and copying (Save, Save As) ------------------------------------------------------
def adopt_runs(entries: list[dict[str, Any]], src_root: Path, dst_root: Path, *,
               move: bool, skip: set[str] = frozenset()) -> list[str]:
    """Bring run folders from ``src_root`` to ``dst_root`` (move from a scratch folder,
    copy on "Save As"); returns the problems (one line each) — never raises.

    Both ends are confined to their roots; a run folder that is a symbolic link is not
    followed, and a copy keeps links inside it as links (never the files they point to)."""
    problems: list[str] = []
    if _real(src_root) == _real(dst_root):
        return problems
    for entry in entries:
        if entry.get("id") in skip:
            continue
        try:
            src, dst = run_dir(src_root, entry), run_dir(dst_root, entry)
            if not os.path.lexists(src) or os.path.lexists(dst):
                continue
            if os.path.islink(src) or not src.is_dir():
                raise RunPathError(f"{src} is not a folder VisionStudio wrote (a symbolic link?)")
            confine(src_root, src)
            Path(dst_root).mkdir(parents=True, exist_ok=True)
            confine(dst_root, dst)
            if move:
                shutil.move(str(src), str(dst))
            else:
                shutil.copytree(src, dst, symlinks=True)
        except (OSError, RunPathError) as exc:
            problems.append(f"run {_label(entry)}: {exc}")
    return problems
