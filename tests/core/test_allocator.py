"""The training allocator settings (core/training/allocator.py): glibc's thresholds fixed
once, with the documented values; a C library without mallopt changes nothing."""

from __future__ import annotations

import ctypes

from visionstudio.core.training import allocator


def test_the_thresholds_are_set_once_with_the_documented_values(monkeypatch):
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    assert allocator.steady_malloc() and allocator.steady_malloc()
    assert calls == [(allocator.M_MMAP_THRESHOLD, 32 << 20), (allocator.M_TRIM_THRESHOLD, 256 << 20)]


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch):
    class Musl:
        pass

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    assert allocator.steady_malloc() is False


def test_other_systems_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.steady_malloc() is False


def test_a_fit_keeps_the_collector_off_the_objects_that_were_there_before():
    """During a fit the objects that existed before it sit in the collector's permanent
    generation (a full collection of the app's heap took ~240 ms, holding the GIL); after
    it they are handed back, so garbage from before the run is still freed."""
    import gc

    from tests.core.training_helpers import config, tiny_data, tiny_model
    from visionstudio.core.training.trainer import Trainer

    seen: list[int] = []

    class Watch:
        def __getattr__(self, name):
            if name in ("on_fit_start", "on_batch_end"):
                return lambda *_args: seen.append(gc.get_freeze_count())
            return lambda *_args: None

    before = gc.get_freeze_count()
    result = Trainer(tiny_model(), config(epochs=1), callbacks=[Watch()]).fit(tiny_data())
    assert result.status == "completed"
    assert seen and min(seen) > before
    assert gc.get_freeze_count() == before


def test_overlapping_fits_share_one_freeze_until_the_last_ends():
    import gc

    with allocator.old_objects_frozen():
        first = gc.get_freeze_count()
        assert first > 0
        with allocator.old_objects_frozen():     # a second run at the same time
            assert gc.get_freeze_count() >= first
        assert gc.get_freeze_count() > 0          # the first is still running
    assert gc.get_freeze_count() == 0


def test_a_failed_fit_hands_the_objects_back_too():
    import gc

    from tests.core.training_helpers import config, tiny_data, tiny_model
    from visionstudio.core.training.trainer import Trainer

    class Boom:
        def __getattr__(self, name):
            if name == "on_batch_end":
                def fail(*_args):
                    raise RuntimeError("a callback broke")
                return fail
            return lambda *_args: None

    result = Trainer(tiny_model(), config(epochs=1), callbacks=[Boom()]).fit(tiny_data())
    assert result.status == "failed"
    assert gc.get_freeze_count() == 0
