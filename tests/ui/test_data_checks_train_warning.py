"""Train warns (a status message, never a block) when the cached check of the document's
dataset and split found leakage or heavy imbalance; nothing is hashed on Train."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")

from tests.core.data_check_folders import planted_folder
from tests.ui.test_training_run import make_controller, wait_done
from visionstudio.core.data import checks
from visionstudio.core.data.config import DatasetConfig


def test_train_start_warns_from_the_cached_check(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.run_controller import runs_for

    monkeypatch.setenv("VISIONSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    controller = make_controller(tmp_path, monkeypatch, epochs=1)
    session = runs_for(controller)
    messages: list[str] = []
    session.message.connect(messages.append)
    assert session.train()
    wait_done(qtbot, session)
    assert messages[0] == "Training started"              # never checked: no warning
    planted = planted_folder(tmp_path / "data")
    folder = DatasetConfig.from_dict({"key": "image_folder", "params": {
        "folder": str(planted["train"]), "val_folder": str(planted["val"])}})
    checks.check_dataset(folder, val_split=0.25)
    doc = controller.document
    # the document's own dataset and split, with that result as its last check
    shutil.copyfile(checks.checks_folder() / f"last-{checks._settings_key(folder, 0.25, 0)}.json",
                    checks.checks_folder() / f"last-{checks._settings_key(doc.dataset, 0.25, 0)}.json")
    monkeypatch.setattr(checks, "check_dataset", None)    # Train must not check (hash) anything
    messages.clear()
    assert session.train()
    wait_done(qtbot, session)
    assert messages[0].startswith("Training started. The last data check found validation images "
                                  "that leak from training: 2")
    session.shutdown()
