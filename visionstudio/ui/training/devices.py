"""The devices a run can use: every CUDA GPU by name and memory, Apple MPS, the CPU.

Listing them needs torch, whose import takes seconds; the panel must not freeze the
window for that, so ``list_devices_async`` lists them in a background task and
delivers the result on the GUI thread (once per process, then from a cache).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from visionstudio.ui.shell.tasks import run_task

BASIC_DEVICES = [("auto", "Auto (best available)"), ("cpu", "CPU")]


def available_devices() -> list[tuple[str, str]]:
    """[(value, label)], "auto" first. Imports torch: call it off the GUI thread."""
    out = [BASIC_DEVICES[0]]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return out + [("cpu", "CPU")]
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                out.append((f"cuda:{i}", f"cuda:{i} — {p.name} ({p.total_memory / 2**30:.0f} GiB)"))
    except Exception:  # noqa: BLE001 - a broken driver must not break the panel
        pass
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple MPS"))
    out.append(("cpu", "CPU"))
    return out


class _Lister(QObject):
    """Lives on the GUI thread; hands the probe's list to every receiver asked so far."""

    listed = Signal(list)


_cache: list[tuple[str, str]] | None = None
_lister: _Lister | None = None
_started = False


def list_devices_async(receiver: Callable[[list], None]) -> list[tuple[str, str]]:
    """The devices known now (the full list once probed, else auto + CPU); ``receiver``
    is called on the GUI thread with the full list when the probe finishes."""
    global _lister, _started
    if _cache is not None:
        return list(_cache)
    if _lister is None:
        _lister = _Lister()
        _lister.listed.connect(_store)
    _lister.listed.connect(receiver)
    if not _started:
        _started = True
        run_task(lambda _state: available_devices(), name="device-probe", on_finished=_lister.listed.emit)
    return list(BASIC_DEVICES)


def _store(devices: list) -> None:
    global _cache
    _cache = [tuple(d) for d in devices]
