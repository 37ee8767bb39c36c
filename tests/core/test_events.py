"""Event: connect / disconnect / emit, with weak references to bound methods."""

from __future__ import annotations

import gc

from visionstudio.core.events import Event


class Panel:
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def _on_model_changed(self, *args) -> None:
        self.seen.append(args)


def test_emit_reaches_handlers_in_order_with_arguments():
    event = Event("changed")
    calls = []
    event.connect(lambda *a, **k: calls.append(("first", a, k)))
    event.connect(lambda *a, **k: calls.append(("second", a, k)))
    event.emit(1, x=2)
    assert calls == [("first", (1,), {"x": 2}), ("second", (1,), {"x": 2})]
    assert len(event) == 2


def test_connecting_twice_subscribes_once():
    event = Event()
    panel = Panel()
    event.connect(panel._on_model_changed)
    event.connect(panel._on_model_changed)
    event.emit("a")
    assert panel.seen == [("a",)]
    assert len(event) == 1


def test_disconnect():
    event = Event()
    panel, other = Panel(), Panel()
    event.connect(panel._on_model_changed)
    event.connect(other._on_model_changed)
    event.disconnect(panel._on_model_changed)
    event.emit(1)
    assert panel.seen == [] and other.seen == [(1,)]
    event.disconnect(panel._on_model_changed)  # not connected: no error


def test_bound_methods_are_dropped_when_their_object_dies():
    event = Event()
    panel = Panel()
    event.connect(panel._on_model_changed)
    assert len(event) == 1
    del panel
    gc.collect()
    assert len(event) == 0
    event.emit("after")  # a dead subscriber is skipped silently
    assert event._handlers == []


def test_event_does_not_keep_subscriber_alive():
    import weakref

    event = Event()
    panel = Panel()
    ref = weakref.ref(panel)
    event.connect(panel._on_model_changed)
    del panel
    gc.collect()
    assert ref() is None


def test_plain_functions_are_held_strongly():
    event = Event()
    calls = []
    event.connect(lambda: calls.append(1))  # no other reference exists
    gc.collect()
    event.emit()
    assert calls == [1]


def test_blocked_event_emits_nothing():
    event = Event()
    calls = []
    event.connect(lambda: calls.append(1))
    event.blocked = True
    event.emit()
    event.blocked = False
    event.emit()
    assert calls == [1]


def test_handler_may_disconnect_itself_during_emit():
    event = Event()
    calls = []

    def once():
        calls.append(1)
        event.disconnect(once)

    event.connect(once)
    event.emit()
    event.emit()
    assert calls == [1]
