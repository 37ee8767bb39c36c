"""PyTorch, loaded the first time something needs it, off the GUI thread.

Start-up never imports torch. Measured (benchmarks/startup.py): importing it on a
worker thread right after the first paint still froze the window 150-350 ms at a time
while torch initialised holding the GIL, for seconds after it showed. So the app loads
it when the user first asks for something that needs it (Train, Continue training) and
says so in the status bar; the feature views build their network on a background task,
which imports it there (``import_torch`` first, for the same GIL-free library load).

``when_torch_loaded(then, say)`` calls ``then()`` on the GUI thread at once when
torch is in place, else after one shared background task has imported it; a failed
import is reported by the task helper and ``then`` still runs, so the caller's own
import raises it where the user sees the error.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from visionstudio.ui.shell import warm
from visionstudio.ui.shell.tasks import BackgroundTask, run_task

log = logging.getLogger("visionstudio")

TASK_NAME = "visionstudio-load-pytorch"
LOADING_MESSAGE = "Loading PyTorch…"

_serial: list[bool] = []            # torch on the GUI thread made serial (once)
_pending: list[Callable[[], object]] = []
_task: list[BackgroundTask] = []   # the one running import, while it runs


def preload_torch_libraries() -> None:
    """dlopen torch's shared libraries through ctypes, which lets go of the GIL while it
    calls C; the import then finds them loaded. Python's own loader holds the GIL for
    the whole dlopen (measured: a 350-500 ms freeze of the GUI thread)."""
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return
    root = Path(spec.origin).parent
    libc = ctypes.CDLL(None)
    libc.dlopen.argtypes, libc.dlopen.restype = [ctypes.c_char_p, ctypes.c_int], ctypes.c_void_p
    # The order torch uses: its global deps first (RTLD_GLOBAL, as torch does), then _C.
    # A library that fails to load here is left to the import, which says why.
    libc.dlopen(str(root / "lib" / "libtorch_global_deps.so").encode(), os.RTLD_NOW | os.RTLD_GLOBAL)
    for ext in sorted(root.glob("_C.*.so")):
        libc.dlopen(str(ext).encode(), sys.getdlopenflags())


def import_torch(_state=None) -> None:
    """Import torch (its libraries loaded first without the GIL); for worker threads."""
    preload_torch_libraries()
    with warm.CUDA_REFUSED:   # not while pyqtgraph's import refuses cuda.bindings
        importlib.import_module("torch")


def torch_loaded() -> bool:
    """torch is imported and no import of ours is still under way."""
    return "torch" in sys.modules and not _task


def loading() -> bool:
    return bool(_task)


def serial_gui_torch() -> None:
    """torch on the GUI thread runs serially, so that thread never owns an OpenMP team
    (one would make every training run's team sleep at its barriers instead of spinning:
    ``core.training.thread_policy``). Called where torch work can first reach the GUI
    thread: torch loaded, a network handed to the viewers, a run's start. Cheap after the
    first call; does nothing before torch is imported or off the main thread."""
    if _serial or "torch" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    from visionstudio.core.training.thread_policy import serial_torch_on_this_thread

    serial_torch_on_this_thread(_run_and_wait)
    _serial.append(True)


def _run_and_wait(fn: Callable[[], None]) -> None:
    """``fn()`` on a task thread of its own, waited for (it takes microseconds)."""
    run_task(lambda _state: fn(), name="visionstudio-thread-count", report_errors=False).wait(10_000)


def when_torch_loaded(then: Callable[[], object], say: Callable[[str], object] | None = None) -> bool:
    """Call ``then()`` once torch is loaded; True when it ran at once. ``say`` shows
    LOADING_MESSAGE while the import runs (a status bar)."""
    if torch_loaded():
        serial_gui_torch()
        then()
        return True
    _pending.append(then)
    if say is not None:
        say(LOADING_MESSAGE)
    if not _task:
        # no parent: the task outlives any one panel; the app waits for it or leaves it
        _task.append(run_task(import_torch, name=TASK_NAME, report_errors=False,
                              on_finished=_run_pending, on_failed=_on_failed))
    return False


def _on_failed(exc: BaseException) -> None:
    log.error("loading PyTorch failed: %s", exc)
    _run_pending()


def _run_pending(_result=None) -> None:
    _task.clear()
    serial_gui_torch()
    waiting = list(_pending)
    _pending.clear()
    for then in waiting:
        then()
