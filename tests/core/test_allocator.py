"""The training allocator settings (core/training/allocator.py): glibc's thresholds fixed
once, with the documented values; a thread's heaps kept while a fit runs, and glibc's pad
put back after the last one; a C library without mallopt changes nothing."""

from __future__ import annotations

import ctypes
import sys

import pytest

from visionstudio.core.training import allocator


@pytest.fixture(autouse=True)
def _fresh_libc_lookup():
    allocator._mallopt.cache_clear()
    yield
    allocator._mallopt.cache_clear()


def fake_glibc(monkeypatch) -> list[tuple[int, int]]:
    """A Linux C library whose ``mallopt`` records its calls (and accepts them)."""
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

    monkeypatch.setattr(allocator.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    return calls


def test_the_thresholds_are_set_once_with_the_documented_values(monkeypatch):
    calls = fake_glibc(monkeypatch)
    monkeypatch.setattr(allocator, "_applied", None)
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


def test_the_top_pad_is_raised_while_any_fit_runs_and_put_back_after_the_last(monkeypatch):
    calls = fake_glibc(monkeypatch)
    with allocator.steady_thread_heaps() as raised:
        assert raised
        with allocator.steady_thread_heaps():   # a second fit (a sweep's parallel trial)
            pass
        assert calls == [(allocator.M_TOP_PAD, 64 << 20)]   # still raised: one fit runs
    assert calls == [(allocator.M_TOP_PAD, 64 << 20), (allocator.M_TOP_PAD, 128 << 10)]
    assert allocator._holds == 0


def test_a_failing_fit_puts_the_pad_back(monkeypatch):
    calls = fake_glibc(monkeypatch)
    with pytest.raises(RuntimeError), allocator.steady_thread_heaps():
        raise RuntimeError("the step failed")
    assert calls[-1] == (allocator.M_TOP_PAD, allocator.DEFAULT_TOP_PAD) and allocator._holds == 0


def test_no_mallopt_no_pad(monkeypatch):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    with allocator.steady_thread_heaps() as raised:
        assert raised is False


def test_a_fit_trains_with_the_pad_raised_and_in_a_roomy_frame(monkeypatch):
    """The Trainer (every path: CLI, app, sweeps) holds both while it trains."""
    import threading

    from tests.core.training_helpers import config, tiny_data, tiny_model
    from visionstudio.core.training import trainer as trainer_module
    from visionstudio.core.training.trainer import Trainer

    roomy: list[bool] = []
    real = trainer_module.with_frame_room
    monkeypatch.setattr(trainer_module, "with_frame_room",
                        lambda fn, *a, **k: roomy.append(True) or real(fn, *a, **k))
    seen: list[int] = []

    class Watch:
        def __getattr__(self, name):
            if name == "on_batch_end":
                return lambda trainer, record: seen.append(allocator._holds)
            return lambda *a: None

    out = []
    worker = threading.Thread(target=lambda: out.append(
        Trainer(tiny_model(), config(epochs=1), callbacks=[Watch()]).fit(tiny_data())))
    worker.start()
    worker.join()
    assert out[0].ok and roomy == [True]
    assert seen and min(seen) >= 1 and allocator._holds == 0


def recurse(depth: int) -> int:
    return recurse(depth - 1) if depth else 0


def worst_faults_per_call(calls: int = 200) -> float:
    """The most page faults a call to some recursion depth costs on this thread: a depth
    that crosses a frame-stack chunk maps (and faults in) a fresh chunk at every call."""
    import resource

    worst = 0.0
    for depth in range(0, 400, 3):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        for _ in range(calls):
            recurse(depth)
        worst = max(worst, (resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before) / calls)
    return worst


@pytest.mark.skipif(not sys.platform.startswith("linux") or sys.implementation.name != "cpython",
                    reason="per-thread page faults (Linux), CPython's frame stack")
def test_a_roomy_frame_keeps_a_steps_calls_in_one_frame_stack_chunk():
    import threading

    got: dict[str, float] = {}

    def run() -> None:   # a fresh thread: its frame stack starts in one 16 KiB chunk
        got["plain"] = worst_faults_per_call()
        got["roomy"] = allocator.with_frame_room(worst_faults_per_call)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if sys.version_info < (3, 13):   # CPython gh-142183: no spare chunk kept before 3.13
        assert got["plain"] >= 1, got   # some depth maps and unmaps a chunk at every call
    assert got["roomy"] < 0.1, got
    assert allocator.with_frame_room(lambda a, *, b: a + b, 1, b=2) == 3
