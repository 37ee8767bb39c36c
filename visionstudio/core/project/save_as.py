"""Save As into another folder takes the project's initial weights along.

``initial_weights`` names a file relative to the project's folder (an import's weights,
docs/project-format.md), so a project saved elsewhere without it would name a file that
is not there. The copy is made before the project is written (as an import writes its
weights first), atomically, and confined: the source must resolve inside the old folder
and be a regular file, the destination stays inside the new folder. Autosave and plain
Save use ``save_project`` and copy nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath

from visionstudio.core.project.document import ProjectDocument
from visionstudio.core.project.io import save_project


class WeightsCopyError(ValueError):
    """The initial weights could not go along; the project was not saved."""


def _inside(root: str, path: str) -> bool:
    try:
        return os.path.commonpath([root, path]) == root and path != root
    except ValueError:   # another drive (Windows)
        return False


def _plain_parts(name: str) -> tuple[str, ...]:
    parts = PurePosixPath(name).parts
    if (not parts or PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts)
            or "\\" in name or "\0" in name or ":" in name):
        raise WeightsCopyError(f"the project's initial weights {name[:80]!r} are not a file name "
                               "inside its folder, so they cannot be copied; the project was not saved")
    return parts


def copy_initial_weights(name: str, old_folder: Path, new_folder: Path) -> Path | None:
    """Copy ``name`` from ``old_folder`` to the same name in ``new_folder``; the new file,
    or None when both folders are the same (nothing to copy)."""
    parts = _plain_parts(name)
    old_root, new_root = os.path.realpath(old_folder), os.path.realpath(new_folder)
    if old_root == new_root:
        return None
    source = os.path.realpath(os.path.join(old_root, *parts))
    target = Path(new_root, *parts)
    what = f"the project's initial weights {name}"
    if not _inside(old_root, source):
        raise WeightsCopyError(f"{what} lead to {source}, outside the project's folder {old_folder} "
                               "(a symbolic link?); the project was not saved")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(new_root, os.path.join(os.path.realpath(target.parent), target.name)):
            raise WeightsCopyError(f"{what} would be copied outside {new_folder} (a symbolic link "
                                   "there?); the project was not saved")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(source, flags), "rb") as src:   # a FIFO does not block the open
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise WeightsCopyError(f"{what} ({source}) are not a regular file; the project was not saved")
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                os.chmod(tmp, stat.S_IMODE(os.fstat(src.fileno()).st_mode) & 0o777)
                with os.fdopen(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                    dst.flush()
                    os.fsync(dst.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
    except FileNotFoundError:
        raise WeightsCopyError(f"{what} are missing from {old_folder}, so they cannot be copied beside "
                               "the new project; the project was not saved") from None
    except OSError as exc:
        raise WeightsCopyError(f"{what} could not be copied to {new_folder} ({exc.strerror or exc}); "
                               "the project was not saved") from None
    return target


def save_project_as(doc: ProjectDocument, path: str | os.PathLike[str]) -> None:
    """``save_project`` to ``path``, with the initial weights copied beside it first when
    ``path`` is in another folder than the one the project came from."""
    target = Path(path)
    if doc.initial_weights and doc.folder is not None:
        copy_initial_weights(doc.initial_weights, Path(doc.folder), target.resolve().parent)
    save_project(doc, target)
