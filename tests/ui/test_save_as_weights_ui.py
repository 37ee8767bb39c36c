"""File › Save As (FileManager.save_to) takes an imported project's weights along into the
new folder, and refuses with a message, keeping the old path, when they cannot go."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import QSettings
from safetensors.torch import save_file

from visionstudio.core.project import ProjectDocument, load_project, save_project
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.files import FileManager


def _manager(tmp_path: Path, qtbot):
    old = tmp_path / "old"
    old.mkdir()
    save_file({"w": torch.ones(2)}, str(old / "m.weights.safetensors"))
    save_project(ProjectDocument(name="m", initial_weights="m.weights.safetensors"), old / "m.vsproj")
    controller = DocumentController()
    controller.replace_document(load_project(old / "m.vsproj"), old / "m.vsproj")
    files = FileManager(controller, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    errors = []
    files.prompts.error = lambda parent, title, text: errors.append((title, text))
    return files, controller, errors


def test_save_as_copies_the_weights(qtbot, tmp_path):
    files, controller, errors = _manager(tmp_path, qtbot)
    (tmp_path / "new").mkdir()
    assert files.save_to(tmp_path / "new" / "copy.vsproj") and not errors
    assert (tmp_path / "new" / "m.weights.safetensors").read_bytes() == \
        (tmp_path / "old" / "m.weights.safetensors").read_bytes()
    assert controller.document.folder == (tmp_path / "new").resolve()


def test_a_failed_copy_says_so_and_keeps_the_old_path(qtbot, tmp_path):
    files, controller, errors = _manager(tmp_path, qtbot)
    (tmp_path / "old" / "m.weights.safetensors").unlink()
    assert not files.save_to(tmp_path / "copy.vsproj")
    assert errors and errors[0][0] == "Cannot save project" and "are missing" in errors[0][1]
    assert Path(controller.path).resolve() == (tmp_path / "old" / "m.vsproj").resolve()
    assert not (tmp_path / "copy.vsproj").exists()
