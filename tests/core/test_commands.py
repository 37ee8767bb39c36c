"""The command base: every command runs on the ProjectDocument, a Macro announces once.

Graph, settings and run-list commands share one base and one headless history, so a
macro may mix them and one undo step takes it all back.
"""

from __future__ import annotations

import pytest

from visionstudio.core.commands import Command, CommandError, Macro, UndoHistory
from visionstudio.core.graph import AddNode, Connect, GraphCommand, RemoveNodes, SetParam
from visionstudio.core.project import ProjectDocument
from visionstudio.core.project.commands import SetTrainingSettings


def _counted(doc: ProjectDocument) -> list[str]:
    seen: list[str] = []
    doc.graph.changed.connect(lambda: seen.append("graph"))
    doc.settings_changed.connect(lambda section: seen.append(section))
    return seen


def test_graph_commands_take_the_document():
    doc = ProjectDocument()
    add = AddNode("relu")
    assert isinstance(add, GraphCommand) and isinstance(add, Command)
    add.do(doc)
    assert list(doc.graph.nodes) == [add.node_id]
    add.undo(doc)
    assert not doc.graph.nodes


def test_a_graph_macro_announces_one_change_after_its_last_step():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    a, b, c = AddNode("input"), AddNode("conv2d"), AddNode("relu")
    seen = _counted(doc)
    macro = Macro("Build", [a, b, c, Connect(a.node_id, b.node_id), Connect(b.node_id, c.node_id),
                            SetParam(b.node_id, "out_channels", 3)])
    history.push(macro)
    assert seen == ["graph"] and len(doc.graph.edges) == 2
    history.undo()
    assert seen == ["graph", "graph"] and not doc.graph.nodes
    history.redo()
    assert seen == ["graph"] * 3 and doc.graph.nodes[b.node_id].params["out_channels"] == 3


def test_a_macro_mixes_graph_and_settings_commands_as_one_step():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    add = AddNode("input")
    epochs = doc.training.epochs
    history.push(Macro("Start over", [add, SetTrainingSettings({"epochs": epochs + 3})]))
    assert doc.training.epochs == epochs + 3 and add.node_id in doc.graph.nodes
    assert history.texts() == ["Start over"]
    history.undo()
    assert doc.training.epochs == epochs and not doc.graph.nodes


def test_a_failing_macro_rolls_back_and_announces_at_most_once():
    doc = ProjectDocument()
    AddNode("input").do(doc)
    history = UndoHistory(doc)
    seen = _counted(doc)
    before = doc.graph.to_dict()
    add = AddNode("relu")
    with pytest.raises(CommandError, match="no longer exist"):
        history.push(Macro("Broken", [add, RemoveNodes(["missing"])]))
    assert doc.graph.to_dict() == before and not history.can_undo
    assert seen == ["graph"]  # added and taken back inside one batch


def test_a_refused_settings_command_says_why_and_changes_nothing():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    before = doc.training
    with pytest.raises(CommandError) as info:
        history.push(SetTrainingSettings({"epochs": -1}))
    assert str(info.value) and doc.training == before and not history.can_undo


def test_consecutive_edits_of_one_field_merge_into_one_step():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    conv = history.push(AddNode("conv2d"))
    default = doc.graph.nodes[conv.node_id].params["out_channels"]
    for value in (5, 6, 7):
        history.push(SetParam(conv.node_id, "out_channels", value))
    assert len(history.texts()) == 2
    history.undo()
    assert doc.graph.nodes[conv.node_id].params["out_channels"] == default != 7
    assert history.texts() == ["Add Conv2d"]


def test_a_settings_macro_announces_each_section_once_after_its_last_step():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    seen = _counted(doc)
    steps = [SetTrainingSettings({"epochs": 7}), SetTrainingSettings({"batch_size": 16}), AddNode("relu")]
    history.push(Macro("Several settings", steps))
    assert sorted(seen) == ["graph", "training"]
    assert doc.training.epochs == 7 and doc.training.batch_size == 16
    seen.clear()
    history.undo()
    assert sorted(seen) == ["graph", "training"] and doc.training.epochs != 7
    seen.clear()
    SetTrainingSettings({"epochs": 9}).do(doc)   # outside a macro: at once, as before
    assert seen == ["training"]
