"""Dropping the owner of a running background thread must never abort the app."""

from __future__ import annotations

import gc

from visionstudio.core.data.config import DatasetConfig
from visionstudio.ui.shell.tasks import BackgroundTask, held_tasks, live_tasks


def test_preview_strip_dropped_while_loading(qtbot):
    from visionstudio.ui.training.preview import PreviewStrip

    strip = PreviewStrip()
    strip.request(DatasetConfig("shapes", {"samples": 400, "val_samples": 50}), 0, 0.1)
    loader = strip.loader
    assert loader is not None and loader.is_running()
    strip.deleteLater()  # as when a New/Open rebuilds the training panel
    del strip
    qtbot.wait(10)
    gc.collect()
    qtbot.waitUntil(lambda: not live_tasks() and held_tasks() == 0, timeout=30_000)


def test_background_task_dropped_while_running(qtbot):
    import time

    task = BackgroundTask(lambda state: time.sleep(0.3) or 42, name="test-task").start()
    assert task.is_running()
    task.deleteLater()
    del task
    qtbot.wait(10)
    gc.collect()
    qtbot.waitUntil(lambda: not live_tasks() and held_tasks() == 0, timeout=30_000)
