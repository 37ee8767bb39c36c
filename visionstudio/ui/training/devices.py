"""The devices a run can use: every CUDA GPU by name and memory, Apple MPS, the CPU.

Listing them needs torch and initialises the CUDA driver: seconds, much of it with the
GIL held, and a broken driver can hang or crash the process that asks. So unless torch
is loaded here already (then asking costs no import), a short child process asks
(``python -c``, printing JSON) while a background task waits for it; the app starts
that probe before it loads torch. ``list_devices_async`` delivers the list on the GUI
thread (once per process, then from a cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

import visionstudio
from visionstudio.ui.shell.tasks import TaskState, run_task

BASIC_DEVICES = [("auto", "Auto (best available)"), ("cpu", "CPU")]
PROBE_TIMEOUT_S = 120.0
PROBE_CODE = ("import json; from visionstudio.core.training.device import probe_devices; "
              "print(json.dumps(probe_devices()))")


def device_list(probe: dict) -> list[tuple[str, str]]:
    """[(value, label)] from the child's answer, "auto" first and the CPU last."""
    out = [BASIC_DEVICES[0]]
    for index, name, memory in probe.get("cuda", []):
        out.append((f"cuda:{index}", f"cuda:{index} — {name} ({memory / 2**30:.0f} GiB)"))
    if probe.get("mps"):
        out.append(("mps", "Apple MPS"))
    return out + [("cpu", "CPU")]


def probe_devices(state: TaskState | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> dict:
    """The child's answer ({} when it failed, was cancelled or took too long)."""
    package_root = str(Path(visionstudio.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p))
    child = subprocess.Popen([sys.executable, "-c", PROBE_CODE], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + timeout_s
    while child.poll() is None:
        if (state is not None and state.cancelled) or time.monotonic() > deadline:
            child.kill()
            child.wait()
            return {}
        time.sleep(0.05)
    out = child.stdout.read().strip() if child.stdout is not None else ""
    try:
        answer = json.loads(out.splitlines()[-1]) if out else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def available_devices(state: TaskState | None = None,
                      in_process: bool | None = None) -> list[tuple[str, str]]:
    """[(value, label)], "auto" first. Waits for torch or a child: call it off the GUI thread.
    ``in_process`` (default: torch is loaded already) asks torch here instead of a child."""
    if "torch" in sys.modules if in_process is None else in_process:
        from visionstudio.core.training.device import probe_devices as probe_here

        return device_list(probe_here())
    return device_list(probe_devices(state))


def start_probe() -> None:
    """Probe now, so the list is ready when a panel asks (the app calls this at start)."""
    list_devices_async(lambda _devices: None)


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
        # Decided here: torch may start loading on another thread while this one starts.
        run_task(available_devices, "torch" in sys.modules, name="device-probe",
                 on_finished=_lister.listed.emit)
    return list(BASIC_DEVICES)


def _store(devices: list) -> None:
    global _cache
    _cache = [tuple(d) for d in devices]
