"""The attack of issue #11 through the app: a downloaded project whose run folder (or its
``checkpoints``) is a symbolic link out of the project. "Delete with files", Continue
and Save As must refuse with a message and leave the outside folder untouched."""

from __future__ import annotations

import os

import pytest

from visionstudio.core.project import ProjectDocument, load_project, save_project
from visionstudio.core.runs import RunHistory, make_entry
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.training.run_controller import runs_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links without privileges")


@pytest.fixture
def crafted(tmp_path, monkeypatch):
    """net.vsproj with run r1; net.vsproj.runs/r1 holds real metrics; a canary outside."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    canary = tmp_path / "home"
    (canary / "last").mkdir(parents=True)
    (canary / "precious.txt").write_text("keep me")
    (canary / "last" / "checkpoint.json").write_text("keep me")
    doc = ProjectDocument(name="shared")
    doc.runs = [make_entry("r1", "Run 1", {}, status="stopped")]
    project = tmp_path / "net.vsproj"
    save_project(doc, project)
    folder = tmp_path / "net.vsproj.runs" / "r1"
    RunHistory().save(folder)
    return project, folder, canary


def open_project(project) -> DocumentController:
    controller = DocumentController()
    controller.replace_document(load_project(project), project)
    return controller


def canary_intact(canary) -> bool:
    return ((canary / "precious.txt").read_text() == "keep me"
            and (canary / "last" / "checkpoint.json").read_text() == "keep me")


def test_delete_with_files_of_a_run_linked_outside_deletes_nothing(qtbot, crafted):
    project, folder, canary = crafted
    for name in os.listdir(folder):
        os.unlink(folder / name)
    folder.rmdir()
    folder.symlink_to(canary, target_is_directory=True)
    session = runs_for(open_project(project))
    with qtbot.waitSignal(session.message) as said:
        assert session.remove_run("r1", delete_files=True)
    assert "could not be deleted" in said.args[0] and "outside the project's runs folder" in said.args[0]
    assert canary_intact(canary) and folder.is_symlink()


def test_continue_refuses_checkpoints_linked_outside(qtbot, crafted):
    project, folder, canary = crafted
    (folder / "checkpoints").symlink_to(canary, target_is_directory=True)
    session = runs_for(open_project(project))
    assert not session.continue_run("r1", extra_epochs=1)
    message = session.last_failure.message
    assert "cannot be continued" in message and "checkpoints" in message and "outside" in message
    assert not session.busy and canary_intact(canary)


def test_save_as_does_not_copy_what_a_link_points_to(qtbot, crafted, tmp_path):
    project, folder, canary = crafted
    (folder / "checkpoints").symlink_to(canary, target_is_directory=True)
    controller = open_project(project)
    session = runs_for(controller)
    copy = tmp_path / "copy.vsproj"
    save_project(controller.document, copy)
    controller.path = copy
    controller.path_changed.emit(str(copy))
    copied = tmp_path / "copy.vsproj.runs" / "r1"
    assert (copied / "metrics.json").is_file() and (copied / "checkpoints").is_symlink()
    assert not session.continue_run("r1", extra_epochs=1)     # and the copy is not written through
    assert "outside" in session.last_failure.message and canary_intact(canary)
