"""The app's garbage collector: cyclic collections on the GUI thread only, from a timer.

Why not Python's own. CPython collects cyclic garbage in whichever thread happens to
allocate when a generation's threshold is crossed. In the app that was often the
training thread, and two things went wrong (docs/training-in-the-app.md has the figures):

- A collection frees whatever cyclic garbage it finds, Qt's Python wrappers included.
  Freeing a Qt object off the GUI thread can crash Qt (it did, twice, in CI).
- The app holds 250,000-380,000 tracked objects (Qt wrappers, pyqtgraph, torch, the
  UI's modules). A full collection walks all of them, 230-240 ms holding the GIL,
  stalling the training thread or the event loop mid-run.

So, as pyqtgraph documents (``pyqtgraph.util.garbage_collector``): automatic collection
is off while the app runs, and a GUI-thread timer runs Python's generational schedule (a
generation is collected when its count passes its threshold). A worker that wants memory
back now (after an out-of-memory error or a NaN) asks through
``core.gcpause.collect_garbage``, and the next tick collects.

And the old heap is kept out of the way. After each collection of the oldest generation,
its survivors are moved to the permanent generation (``gc.freeze``), so the next one walks
only what is newer: measured, a full collection of the app's 250,000 objects took 230 ms on
an idle GUI thread, of the frozen heap's newer part well under a millisecond. Objects that
die by reference count are freed at once, frozen or not; a cycle among frozen objects
waits for a whole-heap collection (unfreeze, collect, freeze), due on Python's own rule
(once the objects frozen since the last one pass a quarter of what it kept), run when
the pointer has rested for two seconds with no button held, and never while a run
trains.

While a training run trains, the objects that existed when it started are frozen and
what the run creates is not, so a cycle the run leaves behind is freed by the collection
the run's end asks for, still on the GUI thread.
"""

from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QCursor, QGuiApplication

from visionstudio.core import gcpause

TICK_MS = 250       # a tick with nothing to collect costs microseconds
BUSY_TICK_MS = 20   # while objects are made fast
BUSY_FACTOR = 8     # "fast": more than 8 thresholds' worth of new objects in one tick
MIN_OLDEST = 10_000  # the oldest generation's unfrozen part is collected once it has this many
QUIET_S = 2.0       # a whole-heap collection waits for the pointer to rest this long

_installed: GuiCollector | None = None


class GuiCollector(QObject):
    """Owns collection for the process from ``start`` until ``stop``."""

    def __init__(self, parent: QObject | None = None, tick_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self.thread_id = threading.get_ident()
        self.thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._holders = 0
        self._oldest_wanted = False     # set from any thread; read on the GUI thread
        self._long_lived = 0            # objects the last whole-heap collection kept
        self._pending = 0               # frozen since then by oldest collections
        self._frozen_any = gc.get_freeze_count() > 0   # once, at start
        self._whole_due = False         # by the quarter rule, waiting for a quiet moment
        self.quiet_s = QUIET_S
        self._pointer, self._pointer_since = None, time.monotonic()
        self.collections = [0, 0, 0]    # per generation, since start (for tests, benchmarks)
        self.whole_heap = 0             # whole-heap collections, since start
        self.tick_ms = tick_ms
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.tick)

    # -- owning the process's collection ------------------------------------------------

    def start(self) -> None:
        gc.disable()
        gcpause.set_collection_owner(self.thread_id, self.request_full)
        self._timer.start()

    def stop(self) -> None:
        """Hand collection back to Python: frozen objects back, one whole-heap collection
        here (on the GUI thread), automatic collection as it was."""
        self._timer.stop()
        gcpause.set_collection_owner(None, None)
        self._holders = 0
        self._frozen_any = False
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    # -- while runs train -----------------------------------------------------------------

    def hold_heap(self) -> None:
        """A run starts (GUI thread): what exists now is frozen, and no whole-heap
        collection runs until the matching ``release_heap``. Runs at once share it."""
        self._holders += 1
        self._frozen_any = True
        # not counted as growth of the old heap: counted, every run's start moved young
        # objects into it, and the run's end set off a whole-heap collection (measured:
        # 467 ms on the GUI thread as the next run prepared)
        gc.freeze()

    def release_heap(self) -> None:
        """The run has ended (GUI thread): the next tick collects what it left."""
        if self._holders:
            self._holders -= 1
            self._oldest_wanted = True

    @property
    def holding(self) -> bool:
        return self._holders > 0

    def request_full(self) -> None:
        """Any thread: collect the oldest generation at the next tick."""
        self._oldest_wanted = True

    # -- the schedule ---------------------------------------------------------------------

    def tick(self) -> None:
        """Python's generational schedule, run here: generation 0 when its allocation count
        passes its threshold, generation 1 when enough generation-0 collections ran, the
        oldest (its unfrozen part) once it holds a quarter as much as the old heap kept.
        While objects are made fast (a first run builds its dataset and imports torch's
        modules: ~100,000 a second, measured) the next tick comes sooner, so each
        collection stays small, as Python's own would be: at one tick per 250 ms those
        were collections of 26,000 young objects (25 ms) and a generation-1 one of 154 ms."""
        if gc.isenabled():   # a gc_paused() entered before start() restored it on leaving
            gc.disable()
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if self._oldest_wanted:
            self._oldest_wanted = False
            self._collect_oldest()
        elif self._whole_due and self._user_quiet() and not self.holding:
            self._collect_whole_heap()
        elif count0 > t0 > 0:
            if count1 <= t1:
                self._collect(0)
            elif count2 > t2 and len(gc.get_objects(generation=2)) > \
                    max(self._long_lived // 4, MIN_OLDEST):
                self._collect_oldest()
            else:
                self._collect(1)
        busy = t0 > 0 and count0 > BUSY_FACTOR * t0
        interval = BUSY_TICK_MS if busy else self.tick_ms
        if self._timer.interval() != interval:
            self._timer.setInterval(interval)

    def _collect_oldest(self) -> None:
        self._collect(2)     # the part that is not frozen
        if self.holding:
            return           # what the run makes stays collectable until it ends
        # CPython's rule for full collections: once the objects promoted to the old heap
        # since the last one pass a quarter of what it kept. Counted from the unfrozen
        # oldest generation, which is small; gc.get_freeze_count() walks the whole frozen
        # list (measured: tens of ms on the app's heap)
        survivors = len(gc.get_objects(generation=2))
        if not self._frozen_any:     # nothing frozen yet: that was the whole heap
            self._long_lived, self._pending = survivors, 0
            self.whole_heap += 1
        else:
            self._pending += survivors
            self._whole_due = self._whole_due or self._pending > self._long_lived // 4
        gc.freeze()          # the survivors
        self._frozen_any = True
        if self._whole_due and self._user_quiet():
            self._collect_whole_heap()

    def _collect_whole_heap(self) -> None:
        gc.unfreeze()
        gc.collect()
        self._long_lived, self._pending = len(gc.get_objects(generation=2)), 0
        self._whole_due = False
        self.whole_heap += 1
        gc.freeze()

    def _user_quiet(self) -> bool:
        """No button held and the pointer still for ``quiet_s``: the moment a whole-heap
        collection (a quarter to half a second on the app's heap) is least likely to be
        felt. Measured: due right after a run ended, it froze the window 571 ms."""
        now, pos = time.monotonic(), QCursor.pos()
        if pos != self._pointer:
            self._pointer, self._pointer_since = pos, now
        return QGuiApplication.mouseButtons() == Qt.MouseButton.NoButton and \
            now - self._pointer_since >= self.quiet_s

    def _collect(self, generation: int) -> None:
        gc.collect(generation)
        self.collections[generation] += 1


def install(parent: QObject | None = None) -> GuiCollector:
    """Start the GUI-thread collector (call on the GUI thread, once the app exists)."""
    global _installed
    if _installed is None:
        _installed = GuiCollector(parent)
        _installed.start()
    return _installed


def uninstall() -> None:
    global _installed
    if _installed is not None:
        collector, _installed = _installed, None
        collector.stop()
        collector.deleteLater()


def installed() -> GuiCollector | None:
    return _installed


def hold_heap() -> None:
    """``GuiCollector.hold_heap`` when the collector is installed; else nothing (Python
    collects as usual, and nothing is frozen)."""
    if _installed is not None:
        _installed.hold_heap()


def release_heap() -> None:
    if _installed is not None:
        _installed.release_heap()
