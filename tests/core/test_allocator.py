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


def test_the_command_line_trains_inside_one_freeze(tmp_path, monkeypatch):
    """`visionstudio train` keeps the collector off the heap that existed before its run
    (a full collection of a big heap took ~240 ms holding the GIL) and hands it back after."""
    import gc

    from tests.core.training_helpers import tiny_graph
    from visionstudio.cli import main
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.project import ProjectDocument, save_project
    from visionstudio.core.training import plan as training_plan

    seen: list[int] = []
    real = training_plan.execute

    def watched(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        return real(*args, **kwargs)

    monkeypatch.setattr(training_plan, "execute", watched)
    doc = ProjectDocument(graph=tiny_graph(classes=4, size=8), name="tiny")
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 8, "classes": 4, "samples": 32, "val_samples": 8}})
    doc.training = doc.training.replace(batch_size=16, device="cpu", epochs=1)
    path = tmp_path / "tiny.vsproj"
    save_project(doc, path)
    before = gc.get_freeze_count()
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert seen and seen[0] > before
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


def test_a_release_without_a_freeze_changes_nothing():
    import gc

    allocator.release_old_objects()
    assert gc.get_freeze_count() == 0 and allocator._frozen_users == 0
