"""The one error a project file can raise when it is opened."""

from __future__ import annotations


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
