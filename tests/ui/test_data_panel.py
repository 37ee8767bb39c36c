"""The Data panel: Check runs in the background, lists the planted findings with counts,
draws the class balance and shows the images behind a selected finding."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.core.data_check_folders import planted_folder
from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.core.templates import load_template
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.tasks import live_tasks


def test_check_lists_findings_chart_and_gallery(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt

    from visionstudio.ui.data.panel import DataPanel

    monkeypatch.setenv("VISIONSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    planted = planted_folder(tmp_path / "data")
    controller = DocumentController(load_template("classic_cnn"))
    controller.push(SetDatasetSettings("image_folder", {"folder": str(planted["train"]),
                                                        "val_folder": str(planted["val"])}))
    panel = DataPanel(controller)
    qtbot.addWidget(panel)
    qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
    assert not panel.check_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.task is None, timeout=60_000)
    texts = [panel.findings.item(i).text() for i in range(panel.findings.count())]
    assert "⚠ validation images that leak from training: 2 (exact 1, near 1)" in texts
    assert any(t.startswith("unreadable files: 1") for t in texts)
    assert list(panel.bars.opts["height"]) == [1, 15, 4]
    assert "channels 3: 20" in panel.sizes.text() and "width 48; height 48; aspect 1" in panel.sizes.text()
    assert [panel.means.item(i).text() for i in range(panel.means.count())] == ["bird", "cat", "dog"]
    assert not panel.means.item(1).icon().isNull()
    leak_row = next(i for i, t in enumerate(texts) if "leak" in t)
    panel.findings.setCurrentRow(leak_row)
    names = {panel.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.gallery.count())}
    assert names == set(planted["leaks"]) | set(planted["leaks"].values())
    assert all(not panel.gallery.item(i).icon().isNull() for i in range(panel.gallery.count()))
    qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)   # again: from the cache
    qtbot.waitUntil(lambda: panel.task is None, timeout=60_000)
    assert "from the cache" in panel.status.text()
    assert not live_tasks()
