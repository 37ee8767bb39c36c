"""The project's task: the top-level field, its migration from version 2, its bounds and
the undoable command that sets it."""

from __future__ import annotations

import json

import pytest

from visionstudio.core.commands import CommandError, UndoHistory
from visionstudio.core.project import (
    SCHEMA_VERSION,
    ProjectDocument,
    ProjectFormatError,
    dumps_project,
    load_project,
    parse_project,
    save_project,
)
from visionstudio.core.project.commands import SetTask
from visionstudio.core.tasks import TASK_KINDS


def _file(**fields) -> str:
    return json.dumps({"format": "visionstudio.project", "schema_version": SCHEMA_VERSION, **fields})


def test_the_version_is_3_and_a_new_project_classifies():
    assert SCHEMA_VERSION == 3
    data = json.loads(dumps_project(ProjectDocument()))
    assert data["task"] == "classification" and data["schema_version"] == 3


@pytest.mark.parametrize("version", [1, 2])
def test_older_files_migrate_to_classification(version):
    doc = parse_project(json.dumps({"format": "visionstudio.project", "schema_version": version,
                                    "name": "old"}))
    assert doc.task == "classification" and doc.name == "old"
    assert json.loads(dumps_project(doc))["schema_version"] == 3


def test_a_task_in_a_version_2_file_is_kept_and_checked():
    def v2(task):
        return json.dumps({"format": "visionstudio.project", "schema_version": 2, "task": task})

    assert parse_project(v2("regression")).task == "regression"
    with pytest.raises(ProjectFormatError) as exc:
        parse_project(v2("segmentation"))
    assert exc.value.json_path == "task"


@pytest.mark.parametrize("task", list(TASK_KINDS))
def test_every_task_round_trips(tmp_path, task):
    doc = ProjectDocument(task=task)
    path = tmp_path / "p.vsproj"
    save_project(doc, path)
    assert load_project(path).task == task


@pytest.mark.parametrize("value, words", [
    ("segmentation", "unknown task 'segmentation'; expected one of classification, regression, "
                     "localization, detection"),
    ("Classification", "unknown task 'Classification'"),
    ("x" * 100_000, "unknown task 'xxxxxxxx"),
    ("", "unknown task ''"),
    (3, "must be a task name, not a number"),
    (None, "must be a task name, not null"),
    (["regression"], "must be a task name, not a list"),
    ({"key": "regression"}, "must be a task name, not an object"),
    (True, "must be a task name, not a boolean"),
])
def test_hostile_task_values_name_the_field(value, words):
    with pytest.raises(ProjectFormatError) as exc:
        parse_project(_file(task=value))
    assert exc.value.json_path == "task" and words in exc.value.problem
    assert len(str(exc.value)) < 300   # a huge value is not echoed back whole


def test_set_task_undo_redo_and_announces():
    doc = ProjectDocument()
    seen: list[str] = []
    doc.settings_changed.connect(seen.append)
    history = UndoHistory(doc)
    cmd = history.push(SetTask("regression"))
    assert doc.task == "regression" and cmd.text == "Set task to Regression" and seen == ["task"]
    history.undo()
    assert doc.task == "classification" and seen == ["task", "task"]
    history.redo()
    assert doc.task == "regression"
    history.push(SetTask("detection"))
    history.undo()
    assert doc.task == "regression"


@pytest.mark.parametrize("value", ["segmentation", None, 3, ""])
def test_set_task_refuses_unknown_tasks_and_leaves_the_document(value):
    doc = ProjectDocument()
    history = UndoHistory(doc)
    with pytest.raises(CommandError, match="is not a task; pick one of Classification"):
        history.push(SetTask(value))
    assert doc.task == "classification" and not history.can_undo
    with pytest.raises(ValueError):
        doc.set_task("segmentation")
