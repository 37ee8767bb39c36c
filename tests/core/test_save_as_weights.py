"""Save As into another folder copies the project's initial weights beside it (confined,
atomic), or refuses, saving nothing, with a sentence naming the file."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from visionstudio.core.project import ProjectDocument, load_project, save_project
from visionstudio.core.project.save_as import WeightsCopyError, save_project_as


@pytest.fixture
def doc(tmp_path) -> ProjectDocument:
    old = tmp_path / "old"
    old.mkdir()
    save_file({"w": torch.arange(6.0).reshape(2, 3)}, str(old / "m.weights.safetensors"))
    d = ProjectDocument(name="m", initial_weights="m.weights.safetensors")
    save_project(d, old / "m.vsproj")
    return load_project(old / "m.vsproj")


def test_weights_go_along_to_the_new_folder(doc, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    save_project_as(doc, new / "copy.vsproj")
    copied = new / "m.weights.safetensors"
    assert copied.read_bytes() == (tmp_path / "old" / "m.weights.safetensors").read_bytes()
    assert load_project(new / "copy.vsproj").initial_weights == "m.weights.safetensors"
    assert sorted(p.name for p in new.iterdir()) == ["copy.vsproj", "m.weights.safetensors"]  # no temp


def test_the_same_folder_copies_nothing(doc, tmp_path):
    save_project_as(doc, tmp_path / "old" / "again.vsproj")
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == [
        "again.vsproj", "m.vsproj", "m.weights.safetensors"]


def test_missing_weights_refuse_and_save_nothing(doc, tmp_path):
    (tmp_path / "old" / "m.weights.safetensors").unlink()
    with pytest.raises(WeightsCopyError, match="m.weights.safetensors are missing.*not saved"):
        save_project_as(doc, tmp_path / "new.vsproj")
    assert not (tmp_path / "new.vsproj").exists()


def test_a_link_leading_outside_the_old_folder_is_refused(doc, tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"private")
    weights = tmp_path / "old" / "m.weights.safetensors"
    weights.unlink()
    os.symlink(secret, weights)
    new = tmp_path / "new"
    new.mkdir()
    with pytest.raises(WeightsCopyError, match="outside the project's folder"):
        save_project_as(doc, new / "copy.vsproj")
    assert list(new.iterdir()) == []


def test_a_fifo_is_not_copied(doc, tmp_path):
    weights = tmp_path / "old" / "m.weights.safetensors"
    weights.unlink()
    os.mkfifo(weights)
    with pytest.raises(WeightsCopyError, match="not a regular file"):
        save_project_as(doc, tmp_path / "copy.vsproj")   # promptly: opening it does not wait
    assert not (tmp_path / "copy.vsproj").exists()


@pytest.mark.parametrize("name", ["../outside.safetensors", "/etc/passwd", "a\\b", "C:w", "x\0y"])
def test_hostile_names_set_in_memory_are_refused(doc, tmp_path, name):
    doc.initial_weights = name
    with pytest.raises(WeightsCopyError, match="not a file name inside its folder"):
        save_project_as(doc, tmp_path / "copy.vsproj")
    assert not (tmp_path / "copy.vsproj").exists()


def test_a_linked_subfolder_in_the_new_folder_is_not_followed(doc, tmp_path):
    (tmp_path / "old" / "sub").mkdir()
    (tmp_path / "old" / "m.weights.safetensors").rename(tmp_path / "old" / "sub" / "w.safetensors")
    doc.initial_weights = "sub/w.safetensors"
    new, elsewhere = tmp_path / "new", tmp_path / "elsewhere"
    new.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, new / "sub")
    with pytest.raises(WeightsCopyError, match="outside"):
        save_project_as(doc, new / "copy.vsproj")
    assert list(elsewhere.iterdir()) == [] and not (new / "copy.vsproj").exists()


def test_a_subfolder_name_is_copied_into_the_same_subfolder(doc, tmp_path):
    (tmp_path / "old" / "sub").mkdir()
    (tmp_path / "old" / "m.weights.safetensors").rename(tmp_path / "old" / "sub" / "w.safetensors")
    doc.initial_weights = "sub/w.safetensors"
    (tmp_path / "new").mkdir()
    save_project_as(doc, tmp_path / "new" / "copy.vsproj")
    assert (tmp_path / "new" / "sub" / "w.safetensors").is_file()
    assert load_project(tmp_path / "new" / "copy.vsproj").initial_weights == "sub/w.safetensors"
