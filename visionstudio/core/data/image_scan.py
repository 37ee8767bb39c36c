"""Listing an image folder's files: each real folder walked once, each real file listed once.

Image folders are shared and downloaded, and symbolic links are followed (a class
folder may link to images kept elsewhere: reading them is fine). ``os.walk(followlinks=True)``
never ends on a link to ``..`` and lists every image again through ``loop -> .``, which
also leaks validation images into training. Here a folder is identified by its
(device, inode) — what the link resolves to — and walked at most once; the dataset's
own roots and class folders are never entered through a link from another class (that
would relabel their images); a file reached twice (two links, or a validation image
linked from training) is listed once, under the first place it was found.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

Key = tuple  # (st_dev, st_ino) or ("path", realpath) where a file system has no inodes

CANCEL_EVERY = 2000   # entries between cancel checks while listing


def _key(path: str, st: os.stat_result) -> Key:
    if not st.st_ino:   # Windows' DirEntry.stat() leaves st_ino 0; os.stat() fills it
        try:
            st = os.stat(path)
        except OSError:
            pass
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return ("path", os.path.normcase(os.path.realpath(path)))


def dir_key(path: Path) -> Key | None:
    try:
        return _key(str(path), os.stat(path))
    except OSError:
        return None


class FolderScanner:
    """Lists files below class folders without loops or repeats, across calls.

    ``reserved`` folders (the dataset roots and every class folder) are walked only when
    asked for directly (``list``), never through a link found inside another folder.
    Counts of what was skipped are kept for the user's report.
    """

    def __init__(self, reserved: Iterable[Path] = (), check: Callable[[], None] | None = None) -> None:
        self.reserved = {k for k in (dir_key(p) for p in reserved) if k is not None}
        self.walked: dict[Key, str] = {}         # folder -> the role it was walked for
        self.files: dict[Key, str] = {}          # file -> the role it was first listed under
        self.check = check
        self.repeated_folders = 0                # links to folders already walked (loops too)
        self.repeated_files: dict[str, int] = {}  # role -> files reached a second time
        self.leaked: dict[tuple[str, str], int] = {}  # (role, first role) -> files
        self.leaked_folders: dict[tuple[str, str], int] = {}  # (role, first role) -> folders
        self.special: list[tuple[Path, str]] = []  # not regular files (devices, pipes)
        self._entries = 0

    def list(self, start: Path, role: str = "training") -> list[Path]:
        """Files below ``start`` (hidden names skipped), in os.walk's top-down sorted order."""
        key = dir_key(start)
        if key is None:
            return []
        if key in self.walked:
            first = self.walked[key]
            pair = (role, first)
            if first != role:
                self.leaked_folders[pair] = self.leaked_folders.get(pair, 0) + 1
            else:
                self.repeated_folders += 1
            return []
        self.walked[key] = role
        out: list[Path] = []
        stack = [Path(start)]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            subdirs: list[Path] = []
            for entry in entries:
                self._tick()
                if entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat()            # follows links
                except OSError:                  # a dangling link: decoding will say so
                    out.append(Path(entry.path))
                    continue
                k = _key(entry.path, st)
                if stat.S_ISDIR(st.st_mode):
                    if k in self.walked or k in self.reserved:
                        self.repeated_folders += 1
                        continue
                    self.walked[k] = role
                    subdirs.append(Path(entry.path))
                elif not stat.S_ISREG(st.st_mode):
                    self.special.append((Path(entry.path), "not a regular file (a device, pipe "
                                                           "or socket)"))
                elif k in self.files:
                    first = self.files[k]
                    self.repeated_files[role] = self.repeated_files.get(role, 0) + 1
                    if first != role:
                        self.leaked[(role, first)] = self.leaked.get((role, first), 0) + 1
                else:
                    self.files[k] = role
                    out.append(Path(entry.path))
            stack.extend(reversed(subdirs))
        return out

    def _tick(self) -> None:
        self._entries += 1
        if self.check is not None and self._entries % CANCEL_EVERY == 0:
            self.check()

    def report(self) -> list[str]:
        """Sentences for the dataset report (empty when nothing was repeated)."""
        lines = []
        for (role, first), n in self.leaked_folders.items():
            lines.append(f"Left out {n} {role} class folder(s) that are {first} folders (the same "
                         f"folder reached through a link): a {role} image must not be trained on.")
        for (role, first), n in self.leaked.items():
            lines.append(f"Left out {n} {role} file(s) that are also {first} images (the same "
                         f"file reached through a link): a {role} image must not be trained on.")
        plain = sum(self.repeated_files.values()) - sum(self.leaked.values())
        if plain:
            lines.append(f"Listed {plain} file(s) only once that the folders reach twice "
                         f"(links to the same file).")
        if self.repeated_folders:
            lines.append(f"Skipped {self.repeated_folders} linked folder(s) already scanned "
                         f"(a link that loops back, points to another class or repeats a folder).")
        return lines
