"""All background work goes through ui/shell/tasks.py: a thread made anywhere else has
no keep-alive (closing its panel can abort the app), no cancel and no error report."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "visionstudio"
HELPER = PACKAGE / "ui" / "shell" / "tasks.py"


def _bare_threads(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Each use of ``threading.Thread``, ``QThread(...)`` or a QThread subclass, as text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    thread_names = {"QThread"}             # names bound to QThread / threading.Thread here
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("threading", "PySide6.QtCore"):
            for alias in node.names:
                if alias.name in ("Thread", "QThread"):
                    thread_names.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        where = f"{path.relative_to(root)}:{line}"
        if isinstance(node, ast.Attribute) and node.attr == "Thread" \
                and isinstance(node.value, ast.Name) and node.value.id == "threading":
            found.append((line, f"{where} threading.Thread"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in thread_names:
            found.append((line, f"{where} {node.func.id}(...)"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "QThread":
            found.append((line, f"{where} QThread(...)"))
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name in thread_names or name == "QThread":
                    found.append((line, f"{where} class {node.name}({name})"))
    return [text for _line, text in sorted(found)]


def test_no_thread_outside_the_task_helper():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) if path != HELPER
             for hit in _bare_threads(path)]
    assert found == [], "use visionstudio.ui.shell.tasks.run_task instead:\n" + "\n".join(found)


def test_the_check_sees_each_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import threading\nfrom threading import Thread as T\nfrom PySide6.QtCore import QThread\n"
        "from PySide6 import QtCore\n"
        "a = threading.Thread(target=print)\nb = T(target=print)\nc = QThread()\n"
        "d = QtCore.QThread()\nclass W(QThread):\n    pass\nclass V(QtCore.QThread):\n    pass\n",
        encoding="utf-8")
    hits = _bare_threads(sample, tmp_path)
    assert [h.split(" ", 1)[1] for h in hits] == [
        "threading.Thread", "T(...)", "QThread(...)", "QThread(...)", "class W(QThread)",
        "class V(QThread)"]
