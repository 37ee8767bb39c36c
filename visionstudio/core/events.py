"""A tiny observer so core models can announce changes without knowing about Qt.

Views subscribe with ``event.connect(handler)``. Bound methods are held weakly so a
closed panel that forgot to disconnect does not keep itself (and its widgets) alive,
and a dead subscriber is dropped silently instead of raising on the next emit.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any


class Event:
    """One named notification with any number of subscribers."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._handlers: list[Any] = []
        self.blocked = False

    def _ref(self, handler: Callable[..., Any]) -> Any:
        if hasattr(handler, "__self__") and hasattr(handler, "__func__"):
            return weakref.WeakMethod(handler)
        return handler

    def connect(self, handler: Callable[..., Any]) -> None:
        if handler not in self._live():
            self._handlers.append(self._ref(handler))

    def disconnect(self, handler: Callable[..., Any]) -> None:
        self._handlers = [
            ref for ref in self._handlers if self._resolve(ref) not in (None, handler)
        ]

    @staticmethod
    def _resolve(ref: Any) -> Callable[..., Any] | None:
        if isinstance(ref, weakref.WeakMethod):
            return ref()
        return ref

    def _live(self) -> list[Callable[..., Any]]:
        alive = []
        for ref in self._handlers:
            fn = self._resolve(ref)
            if fn is not None:
                alive.append(fn)
        return alive

    def emit(self, *args: Any, **kwargs: Any) -> None:
        if self.blocked:
            return
        for fn in self._live():
            fn(*args, **kwargs)
        self._handlers = [r for r in self._handlers if self._resolve(r) is not None]

    def __len__(self) -> int:
        return len(self._live())
