"""The user's block library: a folder of ``.vsblock`` files beside the app's settings.

Each file is untrusted input (another person's block, a half-copied download, a file
someone renamed): it is read with the core's strict reader, and one that cannot be
used is listed with its problem instead, never raised. The folder is read again when
the palette asks (after a save, an import or a delete), never watched.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from visionstudio.core.blocks.files import BLOCK_SUFFIX, read_block_file, write_block_file
from visionstudio.core.project import ProjectFormatError
from visionstudio.core.project.atomic import atomic_write_bytes
from visionstudio.ui.shell.settings import default_settings_path

SUFFIX = BLOCK_SUFFIX
MAX_FILES = 500           # a folder of thousands is not a library the palette should list
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def blocks_dir() -> Path:
    """``blocks/`` in the folder of the app's settings file (``~/.config/VisionStudio``
    on Linux); the app's data folder where settings are not a file (Windows, macOS)."""
    settings = default_settings_path()
    if settings is not None:
        return settings.parent / "blocks"
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "blocks"


@dataclass
class LibraryEntry:
    """One file of the library: its definition, or why it cannot be used."""

    path: Path
    definition: object | None = None        # BlockDefinition
    dependencies: dict = field(default_factory=dict)
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def title(self) -> str:
        if self.definition is None:
            return self.path.stem
        return self.definition.title or self.definition.key


def read_entry(path: Path) -> LibraryEntry:
    """The file's block, or its problem. Only a regular file is opened: a FIFO (or a link
    to a device) named ``.vsblock`` would block the palette on its first read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return LibraryEntry(path, problem=f"{path.name}: is not a regular file")
        definition, dependencies = read_block_file(path)
    except ProjectFormatError as exc:
        return LibraryEntry(path, problem=str(exc))
    except OSError as exc:
        return LibraryEntry(path, problem=f"{path.name}: cannot be read ({exc.strerror or exc})")
    return LibraryEntry(path, definition, dict(dependencies))


def scan(folder: Path | None = None) -> list[LibraryEntry]:
    """The library's files by name (the first MAX_FILES); none when the folder is missing."""
    folder = folder or blocks_dir()
    try:
        names = sorted(e.name for e in os.scandir(folder)
                       if e.name.endswith(SUFFIX) and not e.name.startswith("."))
    except OSError:
        return []
    return [read_entry(folder / name) for name in names[:MAX_FILES]]


def file_stem(text: str) -> str:
    """A file name from a block's key or title: letters, digits, ``_ . -`` only."""
    stem = _UNSAFE.sub("_", text.strip()).strip("._")[:80]
    return stem or "block"


def library_path(stem: str, folder: Path | None = None) -> Path:
    return (folder or blocks_dir()) / f"{file_stem(stem)}{SUFFIX}"


def free_path(stem: str, folder: Path | None = None) -> Path:
    """``stem.vsblock``, else ``stem_2.vsblock``, ... : a name no file in the folder has."""
    path = library_path(stem, folder)
    n = 2
    while path.exists():
        path = library_path(f"{file_stem(stem)}_{n}", folder)
        n += 1
    return path


def save_definition(library, key: str, path: Path) -> Path:
    """Write definition ``key`` (and the definitions it uses) as ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_block_file(path, library, key)
    return path


def import_file(source: Path, folder: Path | None = None) -> tuple[LibraryEntry, Path | None]:
    """Copy a ``.vsblock`` file into the library after it reads cleanly; a name the
    library has already gets a suffix. The entry tells what was wrong otherwise."""
    entry = read_entry(source)
    if entry.definition is None:
        return entry, None
    target = free_path(source.stem, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())
    copied = read_entry(target)      # the copy is what the palette lists: read it, not the source
    return copied, target
