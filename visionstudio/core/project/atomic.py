"""Atomic file replacement that keeps the file's mode and cleans up after a crash.

``atomic_write_bytes`` writes a temporary file beside the target
(``.<name>.<8 characters>.tmp``), checks the full length was written, fsyncs and
renames it over the target, so a reader sees the old file or the new one, never half
of one — even when the process is killed mid-write.

Two details a plain ``mkstemp`` gets wrong:

- mode: ``mkstemp`` creates files 0600, so every save used to make a shared project
  private. The temporary file gets the replaced file's permission bits, or for a new
  file 0666 less the umask (the kernel applies it: no process-wide ``os.umask`` dance,
  which would race with other threads creating files).
- leftovers: a save killed mid-write leaves its temporary file. Each save first removes
  the stale temporaries of *that* target name (exact pattern, regular files only, never
  a symbolic link or a folder). A save in progress holds an exclusive ``flock`` on its
  temporary file, so a concurrent save of the same file (another window, another
  process) never loses its file to the cleanup; a killed process's lock is gone.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from pathlib import Path

if os.name == "posix":
    import fcntl
else:   # Windows: an open file cannot be deleted, which protects a save in progress
    fcntl = None

TEMP_SUFFIX = ".tmp"
TOKEN_CHARS = 8
# A temporary file nobody can open to test its lock is removed only when this old.
UNLOCKABLE_AGE_S = 600


def temp_pattern(name: str) -> re.Pattern[str]:
    """The names of this app's temporary files for a target called ``name`` (the same
    shape ``tempfile.mkstemp`` produced, so older leftovers are cleaned up too)."""
    token = "[A-Za-z0-9_]{" + str(TOKEN_CHARS) + "}"
    return re.compile(re.escape(f".{name}.") + token + re.escape(TEMP_SUFFIX))


def _lock(fd: int, *, wait: bool) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _create_temp(directory: Path, name: str) -> tuple[int, str]:
    """A new, locked temporary file beside the target (mode 0666 less the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(TOKEN_CHARS // 2)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            _lock(fd, wait=True)
        except OSError:   # no locks on this file system (some network shares): write anyway
            return fd, tmp
        if _same_file(fd, tmp):   # a cleanup may have taken it before the lock was ours
            return fd, tmp
        os.close(fd)
    raise FileExistsError(f"no free temporary file name in {directory} for {name}")


def _remove_if_stale(path: str) -> None:
    """Unlink ``path`` unless a save is writing it (it holds the lock)."""
    if fcntl is None:
        try:
            os.unlink(path)   # fails while another process has it open
        except OSError:
            pass
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:   # unreadable (mode 000) or gone: only an old one is surely stale
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and time.time() - st.st_mtime > UNLOCKABLE_AGE_S:
                os.unlink(path)
        except OSError:
            pass
        return
    try:
        if _lock(fd, wait=False) and stat.S_ISREG(os.fstat(fd).st_mode) and _same_file(fd, path):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(target: str | os.PathLike[str]) -> int:
    """Remove leftover temporary files of ``target`` (killed saves); returns how many."""
    target = Path(target)
    directory = target.parent
    pattern = temp_pattern(target.name)
    removed = 0
    try:
        entries = [e for e in os.scandir(directory) if pattern.fullmatch(e.name)]
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        _remove_if_stale(entry.path)
        removed += not os.path.lexists(entry.path)
    return removed


def _target_mode(target: Path) -> int | None:
    """The permission bits to keep: the replaced file's (a link's target's), or None
    for a new file (the umask decides)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except OSError:
        return None


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half;
    the file keeps its permission bits, and leftovers of killed saves are removed."""
    target = Path(path)
    directory = target.parent
    remove_stale_temps(target)   # first: frees the space a killed save took
    mode = _target_mode(target)
    fd, tmp = _create_temp(directory, target.name)
    try:
        if mode is not None:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:
                os.chmod(tmp, mode)
        view = memoryview(data)
        written = 0
        while written < len(view):
            n = os.write(fd, view[written:])
            if n <= 0:
                raise OSError("short write (is the disk full?)")
            written += n
        os.fsync(fd)
        if fcntl is None:   # Windows cannot rename an open file
            os.close(fd)
            fd = -1
        os.replace(tmp, target)   # still locked on POSIX: a cleanup never sees it unlocked
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
        if tmp and os.path.lexists(tmp):
            os.unlink(tmp)
