"""TrainerControl: the thread-safe handle a GUI (or a Ctrl+C handler) uses to steer a
running trainer. Everything is a flag the loop checks between batches; nothing is
ever interrupted mid-step."""

from __future__ import annotations

import threading
from typing import Any


class TrainerControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._pause = False
        self._paused_ack = False
        self._pending: dict[str, Any] = {}

    # -- requests (any thread) ----------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current batch, save a checkpoint and end the run."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        """Hold the loop after the current batch until resume() or request_stop()."""
        with self._cond:
            self._pause = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._pause = False
            self._cond.notify_all()

    def set_hyperparameters(self, **values: Any) -> None:
        """Queue optimizer settings (``lr``, ``momentum``, ``beta1``, ``weight_decay`` ...)
        to be written into the optimizer in place before the next batch; its state is
        kept. ``lr`` sets the schedule's base learning rate."""
        with self._cond:
            self._pending.update(values)
            self._cond.notify_all()

    # -- state --------------------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def pause_requested(self) -> bool:
        return self._pause

    @property
    def is_paused(self) -> bool:
        """True while the trainer is actually waiting (not merely asked to pause)."""
        return self._paused_ack

    def wait_paused(self, timeout: float | None = None) -> bool:
        """Block until the trainer has paused (True) or the timeout passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._paused_ack or self._stop, timeout) and self._paused_ack

    # -- the trainer's side ---------------------------------------------------------
    def take_pending(self) -> dict[str, Any]:
        with self._cond:
            pending, self._pending = self._pending, {}
            return pending

    def has_pending(self) -> bool:
        return bool(self._pending)

    def wait_while_paused(self, on_pending=None) -> None:
        """Called by the trainer: block while paused, applying queued settings as they come."""
        with self._cond:
            if not self._pause or self._stop:
                return
            self._paused_ack = True
            self._cond.notify_all()
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: not self._pause or self._stop or bool(self._pending), 0.5)
                    done = not self._pause or self._stop
                if on_pending is not None and self._pending:
                    on_pending(self.take_pending())
                if done:
                    return
        finally:
            with self._cond:
                self._paused_ack = False
                self._cond.notify_all()
