"""``gc_paused()``: no cyclic garbage collection during one allocation-heavy pass.

Loading, analysing or summarising a 10,000-layer, 100,000-connection project allocates
hundreds of thousands of small objects that all stay alive. Each automatic collection
walks every tracked object again, which made up half the time of those passes. They
create no reference cycles worth collecting midway, so collection waits until the
pass ends (reference counting still frees everything that dies at once).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable automatic collection inside; restore it only if it was on (nests, and
    leaves a caller's own ``gc.disable()`` alone)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Who collects: by default any thread may (Python's own rule). The app hands collection
# to its GUI thread (ui/shell/collector.py): a collection frees every cycle it finds, Qt's
# wrappers among them, and those must be freed on the GUI thread.
_owner_thread: int | None = None
_ask_owner: Callable[[], None] | None = None


def set_collection_owner(thread_id: int | None, ask: Callable[[], None] | None) -> None:
    """From now on only ``thread_id`` collects; others call ``ask`` to have it collect
    soon (``None, None``: any thread again)."""
    global _owner_thread, _ask_owner
    _owner_thread, _ask_owner = thread_id, ask


def collect_garbage() -> None:
    """A full collection now, or, off the owning thread, as soon as the owner can.

    With no owner set (the command line, tests), only the main thread collects here: a
    worker's explicit collection can free objects other threads own. Seen in the test
    suite: a training thread's collection freed a garbage Qt widget, whose destructor
    waited for the GIL while the GUI thread, holding it, waited for Qt's lock (deadlock).
    Off the main thread this then leaves it to Python's automatic collection."""
    ask = _ask_owner
    if ask is not None:
        if threading.get_ident() != _owner_thread:
            ask()
        else:
            gc.collect()
    elif threading.current_thread() is threading.main_thread():
        gc.collect()
