"""Panels launched alone (``python -m visionstudio.ui.canvas``) can end by themselves.

``tests/ui/test_launchers.py`` runs every launcher offscreen the way pyqtgraph runs its
examples: with VISIONSTUDIO_DEMO_QUIT_MS set, the demo quits that many milliseconds after
its event loop started (its window has been shown and painted by then), so a launcher
that starts cleanly exits with status 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

DEMO_QUIT_ENV = "VISIONSTUDIO_DEMO_QUIT_MS"


def quit_demo_later(end: Callable[[], object] | None = None) -> None:
    """When $VISIONSTUDIO_DEMO_QUIT_MS is set, call ``end`` (default: leave the event
    loop) that long after the loop starts; call it just before ``app.exec()``."""
    text = os.environ.get(DEMO_QUIT_ENV, "").strip()
    if not text:
        return
    if not text.isdigit():
        raise SystemExit(f"{DEMO_QUIT_ENV} must be a whole number of milliseconds, not {text!r}")
    QTimer.singleShot(int(text), end or QApplication.quit)
