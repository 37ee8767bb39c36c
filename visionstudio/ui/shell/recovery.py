"""Autosave to a recovery file, and the offer to recover after a crash.

While the document has unsaved changes, it is written every ``interval_ms`` (two
minutes by default) to ``<state dir>/recovery/<session>.vsproj`` with a small JSON
sidecar naming the original file and the process. A clean close removes both, so a
recovery file left behind by a process that is no longer running means a crash; the
next start offers it (a dialog, never applied silently).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from visionstudio.core.project import ProjectDocument, ProjectFormatError, load_project, save_project
from visionstudio.core.project.io import atomic_write_bytes
from visionstudio.ui.shell.controller import DocumentController

log = logging.getLogger("visionstudio")

AUTOSAVE_INTERVAL_MS = 2 * 60 * 1000
NO_PROMPT_ENV = "VISIONSTUDIO_NO_RECOVERY_PROMPT"


def user_state_dir() -> Path:
    """Where logs and recovery files live (``$XDG_STATE_HOME/visionstudio`` on Linux)."""
    override = os.environ.get("VISIONSTUDIO_STATE_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "VisionStudio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "VisionStudio"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "visionstudio"


def recovery_dir() -> Path:
    return user_state_dir() / "recovery"


@dataclass(frozen=True)
class RecoveryEntry:
    """A recovery file left behind by an earlier session."""

    file: Path
    meta: Path
    original: str  # the project's own path, "" for an unsaved document
    saved_at: str

    @property
    def title(self) -> str:
        return Path(self.original).name if self.original else "an unsaved project"

    def load(self) -> ProjectDocument:
        doc = load_project(self.file)
        doc.folder = Path(self.original).parent if self.original else None   # initial_weights
        return doc

    def discard(self) -> None:
        for p in (self.file, self.meta):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def pending_recoveries(directory: Path | None = None) -> list[RecoveryEntry]:
    """Recovery files of sessions that ended without a clean close, newest first."""
    directory = directory or recovery_dir()
    if not directory.is_dir():
        return []
    found = []
    for meta in directory.glob("*.json"):
        file = meta.with_suffix(".vsproj")
        info = _read_meta(meta)
        if not file.exists():
            continue
        pid = info.get("pid", -1)
        if isinstance(pid, int) and _pid_alive(pid):
            continue  # another VisionStudio is running and owns it
        found.append(RecoveryEntry(file, meta, str(info.get("original", "") or ""),
                                   str(info.get("saved_at", ""))))
    found.sort(key=lambda e: e.file.stat().st_mtime, reverse=True)
    return found


_META_MAX_BYTES = 64 * 1024  # a few fields; anything bigger is not ours


def _read_meta(meta: Path) -> dict:
    """The small JSON beside a recovery file, or {} when it is unreadable, too big or
    not an object (it is only a hint: the recovery file itself is loaded bounded)."""
    try:
        with open(meta, "rb") as fh:
            raw = fh.read(_META_MAX_BYTES + 1)
        info = json.loads(raw) if len(raw) <= _META_MAX_BYTES else {}
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def prompt_disabled() -> bool:
    return os.environ.get(NO_PROMPT_ENV, "") not in ("", "0")


class AutosaveManager(QObject):
    """Writes the controller's document to this session's recovery file while dirty."""

    autosaved = Signal(str)  # path of the recovery file
    failed = Signal(str)     # message for the status bar

    def __init__(self, controller: DocumentController, directory: Path | None = None,
                 interval_ms: int = AUTOSAVE_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.directory = directory or recovery_dir()
        session = uuid.uuid4().hex[:12]
        self.file = self.directory / f"session-{session}.vsproj"
        self.meta = self.file.with_suffix(".json")
        self._saved_index = -1
        self.timer = QTimer(self)
        self.timer.setObjectName("autosaveTimer")
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        controller.undo_stack.cleanChanged.connect(self._on_stack_clean_changed)

    def set_interval(self, interval_ms: int) -> None:
        self.timer.setInterval(interval_ms)

    def autosave_now(self) -> bool:
        """Write the recovery file if the document has unsaved changes; True if written."""
        stack = self.controller.undo_stack
        if not self.controller.is_dirty:
            self.remove()
            return False
        if self._saved_index == stack.index() and self.file.exists():
            return False  # nothing new since the last autosave
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            save_project(self.controller.document, self.file)
            from datetime import datetime

            info = {"pid": os.getpid(), "original": str(self.controller.path or ""),
                    "saved_at": datetime.now().isoformat(timespec="seconds")}
            atomic_write_bytes(self.meta, json.dumps(info).encode("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("autosave failed: %s", exc)
            self.failed.emit(f"Autosave failed: {exc}")
            return False
        self._saved_index = stack.index()
        self.autosaved.emit(str(self.file))
        return True

    def _on_stack_clean_changed(self, clean: bool) -> None:
        if clean:  # saved (or undone back to the saved state): nothing to recover
            self.remove()

    def remove(self) -> None:
        self._saved_index = -1
        for p in (self.file, self.meta):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove %s: %s", p, exc)

    def stop(self) -> None:
        """A clean close: stop the timer and remove this session's recovery file."""
        self.timer.stop()
        self.remove()


def load_entry(entry: RecoveryEntry) -> ProjectDocument | None:
    try:
        return entry.load()
    except ProjectFormatError as exc:
        log.warning("recovery file unusable: %s", exc)
        entry.discard()
        return None
