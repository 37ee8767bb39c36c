"""Files of an image folder that vanish while the app trains: the status bar names them
and the run's log (metrics.json events) keeps them — counted in the DataLoader workers'
batches, not lost in the workers' copies of the dataset."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from tests.core.hostile_folders import deleting_loader, folder_project, make_folder
from visionstudio.core.data import image_folder
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.training.run_controller import runs_for


def test_unreadable_files_reach_the_status_message_and_the_run_log(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)     # lazy: DataLoader path
    root = make_folder(tmp_path / "pets", per_class=10, mode="L")
    victims: list[str] = []
    deleting_loader(monkeypatch, victims)
    controller = DocumentController(folder_project(root))
    session = runs_for(controller)
    messages: list[str] = []
    session.message.connect(messages.append)
    try:
        with qtbot.waitSignal(session.finished, timeout=180_000):
            assert session.train()
        assert session.last_failure is None and session.history.status == "completed"
        final = messages[-1]
        assert final.startswith("Training completed") and "2 images could not be read" in final
        assert all(v in final for v in victims)
        run_id = controller.document.runs[-1]["id"]
        log = json.loads((session.store.folder(run_id) / "metrics.json").read_text())
        assert any("could not be read" in e and all(v in e for v in victims) for e in log["events"])
    finally:
        session.shutdown()
