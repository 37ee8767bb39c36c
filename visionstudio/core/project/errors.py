"""The one error a project file can raise when it is opened, and the JSON paths it names."""

from __future__ import annotations

import json
import re


class ProjectFormatError(ValueError):
    """A project file that cannot be opened: names the file, the JSON path and the problem."""

    def __init__(self, problem: str, *, path: str = "", file: str = "") -> None:
        self.problem = problem
        self.json_path = path
        self.file = file
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.file}: " if self.file else ""
        at = f"at {self.json_path}: " if self.json_path else ""
        return f"{where}{at}{self.problem}"

    def with_file(self, file: str) -> ProjectFormatError:
        return ProjectFormatError(self.problem, path=self.json_path, file=file)


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def json_path(parent: str, key: str) -> str:
    """``parent.key``, or ``parent["odd key"]`` when the key is not a plain word (empty,
    dots, spaces...), so every path is unambiguous and never empty."""
    if _PLAIN_KEY.match(key) and len(key) <= 80:
        return f"{parent}.{key}" if parent else key
    quoted = json.dumps(key[:80] + ("…" if len(key) > 80 else ""))
    return f"{parent}[{quoted}]" if parent else f"[{quoted}]"
