"""SetInitialWeights: stop using (or name) a project's initial weights in one undo step;
a name that leads outside the project's folder is refused as the file reader refuses it."""

from __future__ import annotations

import pytest

from visionstudio.core.commands import CommandError
from visionstudio.core.project import ProjectDocument
from visionstudio.core.project.commands import SetInitialWeights


def test_start_from_scratch_and_undo():
    doc = ProjectDocument(initial_weights="m.weights.safetensors")
    seen = []
    doc.settings_changed.connect(seen.append)
    command = SetInitialWeights(None)
    command.do(doc)
    assert doc.initial_weights is None and command.text == "Start from scratch"
    command.undo(doc)
    assert doc.initial_weights == "m.weights.safetensors"
    assert seen == ["initial_weights", "initial_weights"]


def test_replacing_names_the_file():
    doc = ProjectDocument()
    command = SetInitialWeights("other.safetensors")
    command.do(doc)
    assert doc.initial_weights == "other.safetensors"
    assert command.text == "Start from the initial weights other.safetensors"


@pytest.mark.parametrize("name", ["../x.safetensors", "/etc/passwd", "a\\b", ""])
def test_hostile_names_are_refused(name):
    doc = ProjectDocument(initial_weights="m.weights.safetensors")
    with pytest.raises(CommandError, match="initial_weights"):
        SetInitialWeights(name).do(doc)
    assert doc.initial_weights == "m.weights.safetensors"
