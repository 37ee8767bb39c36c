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
