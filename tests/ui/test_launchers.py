"""Every ``python -m visionstudio.ui.<panel>`` launcher starts, shows its window and exits cleanly.

Like pyqtgraph's examples test: each launcher runs offscreen in its own process, with
VISIONSTUDIO_DEMO_QUIT_MS telling it to quit once its window is up; it must exit with
status 0 and print no traceback. The launchers are found in the source (``__main__.py``
files and ``if __name__ == "__main__":`` blocks), so a new one is tested without being listed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "visionstudio" / "ui"
TIMEOUT_S = 240
# Launchers that train or load before their window appears get small settings here.
ARGS = {
    "visionstudio.ui.features": ["--epochs", "1", "--samples", "200"],
    "visionstudio.ui.features.feature_map_view": ["--epochs", "1", "--samples", "200"],
}


def _has_main_block(path: Path) -> bool:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)]
            texts = [n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)]
            if "__name__" in names and "__main__" in texts:
                return True
    return False


def launchers() -> list[str]:
    """Module names ``python -m`` runs: packages with a __main__.py, modules with a main block."""
    found = set()
    for path in sorted(UI.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if path.name == "__main__.py":
            found.add(".".join(parts[:-1]))
        elif _has_main_block(path):
            found.add(".".join(parts[:-1] if path.name == "__init__.py" else parts))
    return sorted(found)


def test_the_launchers_are_found():
    found = launchers()
    for module in ("visionstudio.ui.canvas", "visionstudio.ui.inspector", "visionstudio.ui.features",
                   "visionstudio.ui.canvas.palette", "visionstudio.ui.dialogs.new_project"):
        assert module in found, module


def test_every_launcher_shows_its_window_and_exits_cleanly(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VISIONSTUDIO_DEMO_QUIT_MS="300",
               VISIONSTUDIO_NO_RECOVERY_PROMPT="1", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "state"), PYTHONFAULTHANDLER="1")
    running = {}
    for module in launchers():
        running[module] = subprocess.Popen(
            [sys.executable, "-m", module, *ARGS.get(module, [])], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT_S
    failures = []
    for module, process in running.items():
        try:
            _out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
            failures.append(f"{module}: still running after {TIMEOUT_S} s (it never quit)\n{err[-2000:]}")
            continue
        if process.returncode != 0 or "Traceback" in err:
            failures.append(f"{module}: exit status {process.returncode}\n{err[-4000:]}")
        elif "found in sys.modules after import of package" in err:
            # runpy ran a module its package had imported already: two copies of each class.
            failures.append(f"{module}: its package imports it; put the launcher in __main__.py")
    assert not failures, "\n\n".join(failures)
