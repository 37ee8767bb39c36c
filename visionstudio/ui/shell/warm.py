"""Loading what the later docks need without freezing the window that just showed.

Two costs of importing pyqtgraph hold Python's lock (the GIL) for long stretches, and a
worker thread holding it freezes the GUI thread as surely as the GUI thread itself would:

- ``pyqtgraph.Qt`` copies every name of QtCore, QtGui and QtWidgets, and each first
  touch of a PySide6 class builds it (its enums, its signatures) in one C call, up to
  tens of milliseconds each (QCommonStyle, QAccessible …). ``touch_qt_steps`` builds them
  first, on the GUI thread, a few milliseconds per event-loop turn, so pyqtgraph later
  finds them built.
- ``pyqtgraph.widgets.RawImageWidget`` imports NVIDIA's ``cuda.bindings`` (installed
  with CUDA builds of torch) for CUDA/OpenGL interop the app never uses; its extension
  modules initialise in single C calls of ~75 ms together. ``import_without_cuda_interop``
  imports pyqtgraph with that import refused, then lets ``cuda.bindings`` import normally
  again; torch, which keeps what it finds there at import, waits for that (CUDA_REFUSED).
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Iterator, Sequence

QT_MODULES = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets")
SLICE_S = 0.004          # building classes on the GUI thread, per event-loop turn
_CUDA_INTEROP = "cuda.bindings.runtime"
# held while cuda.bindings is refused: torch (which keeps what it finds) waits for it
CUDA_REFUSED = threading.Lock()


def touch_qt_steps(modules: Sequence[str] = QT_MODULES, slice_s: float = SLICE_S) -> Iterator[None]:
    """Builds every class of ``modules``; yields whenever a slice of time is used up (the
    caller resumes it on a later event-loop turn)."""
    for module_name in modules:
        module = importlib.import_module(module_name)
        names = dir(module)
        yield
        start = time.perf_counter()
        for name in names:
            getattr(module, name, None)
            if time.perf_counter() - start >= slice_s:
                yield
                start = time.perf_counter()


def import_without_cuda_interop(names: Sequence[str]) -> None:
    """Import ``names`` (pyqtgraph first) with ``cuda.bindings.runtime`` refused meanwhile
    (pyqtgraph then leaves its CUDA interop off), unless it is loaded already."""
    with CUDA_REFUSED:
        hidden = _CUDA_INTEROP not in sys.modules
        if hidden:
            sys.modules[_CUDA_INTEROP] = None   # type: ignore[assignment]  # importing it raises ImportError
        try:
            for name in names:
                importlib.import_module(name)
        finally:
            if hidden and sys.modules.get(_CUDA_INTEROP, 0) is None:
                del sys.modules[_CUDA_INTEROP]
