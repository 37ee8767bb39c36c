"""The start-up warm-up (ui/shell/warm.py): PySide6's classes built in slices on the GUI
thread, pyqtgraph imported without NVIDIA's cuda.bindings runtime, and torch waiting while
that import is refused (it keeps what it finds)."""

from __future__ import annotations

import importlib
import sys
import threading

from visionstudio.ui.shell import warm


def test_classes_are_built_in_slices_and_every_name_is_touched():
    touched: list[str] = []

    class Module:
        def __dir__(self):
            return [f"n{i}" for i in range(50)]

        def __getattr__(self, name):
            touched.append(name)
            return name

    sys.modules["_fake_qt"] = Module()  # type: ignore[assignment]
    try:
        slices = sum(1 for _ in warm.touch_qt_steps(("_fake_qt",), slice_s=0.0))
    finally:
        del sys.modules["_fake_qt"]
    assert sorted(n for n in touched if not n.startswith("__")) == sorted(f"n{i}" for i in range(50))
    assert slices >= 50          # a zero slice yields after every name: the GUI gets each turn


def test_the_cuda_runtime_is_refused_only_while_importing(monkeypatch):
    seen: list[object] = []

    def fake_import(name):
        seen.append(sys.modules.get("cuda.bindings.runtime", "absent"))
        assert warm.CUDA_REFUSED.locked()
    monkeypatch.delitem(sys.modules, "cuda.bindings.runtime", raising=False)
    monkeypatch.setattr(importlib, "import_module", fake_import)
    warm.import_without_cuda_interop(["pyqtgraph"])
    assert seen == [None] and "cuda.bindings.runtime" not in sys.modules
    assert not warm.CUDA_REFUSED.locked()


def test_a_loaded_cuda_runtime_is_left_alone(monkeypatch):
    marker = object()
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", marker)
    monkeypatch.setattr(importlib, "import_module", lambda name: None)
    warm.import_without_cuda_interop(["pyqtgraph"])
    assert sys.modules["cuda.bindings.runtime"] is marker


def test_torch_waits_while_the_runtime_is_refused(monkeypatch):
    from visionstudio.ui.shell import torch_loader

    order: list[str] = []
    monkeypatch.setattr(torch_loader, "preload_torch_libraries", lambda: None)
    monkeypatch.setattr(importlib, "import_module", lambda name: order.append(name))
    warm.CUDA_REFUSED.acquire()
    worker = threading.Thread(target=torch_loader.import_torch)
    worker.start()
    worker.join(0.2)
    assert order == []           # still waiting
    warm.CUDA_REFUSED.release()
    worker.join(5)
    assert order == ["torch"]
