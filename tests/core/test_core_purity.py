"""The core never imports Qt: proven by reading every import and by a headless import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import visionstudio.core

CORE = Path(visionstudio.core.__file__).resolve().parent
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "visionstudio.ui")


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def _imports(path: Path) -> list[tuple[int, str]]:
    package = ".".join(("visionstudio", "core", *path.relative_to(CORE).parent.parts))
    return _imports_in(path.read_text(encoding="utf-8"), package, str(path))


def _imports_in(source: str, package: str, filename: str = "<probe>") -> list[tuple[int, str]]:
    """(line, absolute module name) for every import, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call):
            func = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if (func in ("import_module", "__import__") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.append((node.lineno, node.args[0].value))
    return found


def test_import_checker_sees_every_form():
    source = ("import PySide6.QtCore\nfrom pyqtgraph import PlotWidget\nfrom ...ui import canvas\n"
              "from ... import ui\nimport importlib\nimportlib.import_module('shiboken6')\n"
              "def f():\n    import shiboken6.Shiboken\n")
    names = [m for _, m in _imports_in(source, "visionstudio.core.graph")]
    assert {n for n in names if _forbidden(n)} == {
        "PySide6.QtCore", "pyqtgraph", "pyqtgraph.PlotWidget", "visionstudio.ui.canvas",
        "visionstudio.ui", "shiboken6", "shiboken6.Shiboken"}
    assert not _forbidden("visionstudio.uix") and not _forbidden("pyqtgraphs")


def test_no_core_module_imports_qt():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10
    offenders = []
    for path in files:
        for lineno, module in _imports(path):
            if _forbidden(module):
                offenders.append(f"{path.relative_to(CORE.parent.parent)}:{lineno}: {module}")
    assert not offenders, "Qt imported in the core:\n" + "\n".join(offenders)


def test_importing_every_core_module_loads_no_qt():
    code = (
        "import pkgutil, sys, importlib\n"
        "import visionstudio.core as core\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'visionstudio.core.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6') or m.startswith('visionstudio.ui'))\n"
        "print(len(names))\n"
        "assert not bad, bad\n"
    )
    root = CORE.parent.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, timeout=240, env={"PYTHONPATH": str(root), "PATH": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) > 10


def test_reading_a_project_does_not_load_torch():
    """The GUI opens a project before torch is needed; importing torch takes seconds."""
    code = (
        "import sys\n"
        "from visionstudio.core.templates import load_template\n"
        "from visionstudio.core.graph import analyze\n"
        "doc = load_template('small_resnet')\n"
        "assert analyze(doc.graph).ok\n"
        "from visionstudio.core.data.registry import DATASETS\n"
        "DATASETS.get('shapes').describe(doc.dataset.params)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
