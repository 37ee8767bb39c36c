"""New/Open/Save, the unsaved prompt, recent files, malformed files, autosave and recovery."""

from __future__ import annotations

from visionstudio.core.graph import SetParam
from visionstudio.core.project import load_project
from visionstudio.ui.shell.recovery import NO_PROMPT_ENV, pending_recoveries

from .shell_helpers import Answers, make_window


def _edit(window, units: int = 32) -> None:
    node = next(n for n in window.controller.graph.nodes.values() if n.kind == "dense")
    assert window.controller.push(SetParam(node.id, "units", units))


def test_save_as_then_save_clears_the_mark_and_fills_recent(qtbot, tmp_path):
    answers = Answers()
    w = make_window(qtbot, tmp_path, answers=answers)
    _edit(w)
    answers.save_path = str(tmp_path / "net.vsproj")
    w.actions_by_name["save"].trigger()  # no path yet: Save asks where
    assert answers.asked == ["save_path"]
    assert not w.isWindowModified() and w.windowTitle().startswith("net.vsproj[*]")
    assert load_project(tmp_path / "net.vsproj").graph.to_dict() == w.controller.graph.to_dict()
    _edit(w, 40)
    w.actions_by_name["save"].trigger()
    assert answers.asked == ["save_path"]  # known path: no question
    assert w.files.recent() == [str((tmp_path / "net.vsproj").resolve())]
    labels = [a.text() for a in w.menus["recent"].actions()]
    assert labels[0] == "&1 net.vsproj"


def test_new_and_open_ask_about_unsaved_changes(qtbot, tmp_path):
    answers = Answers()
    w = make_window(qtbot, tmp_path, answers=answers)
    _edit(w)
    answers.unsaved, answers.template = "cancel", "lenet5"
    w.actions_by_name["new"].trigger()
    assert answers.asked == ["unsaved"] and w.isWindowModified()
    answers.unsaved = "discard"
    w.actions_by_name["new"].trigger()
    assert answers.asked[-1] == "template" and w.controller.document.name.lower().startswith("lenet")
    assert not w.isWindowModified() and w.controller.undo_stack.count() == 0
    answers.template = ""
    w.actions_by_name["new"].trigger()  # clean: no prompt, blank canvas
    assert answers.asked[-1] == "template" and not w.controller.graph.nodes
    # Save from the prompt: the document is written before the next one opens.
    w.files.new_from_template("classic_cnn", ask=False)
    _edit(w, 99)
    answers.unsaved, answers.save_path = "save", str(tmp_path / "kept.vsproj")
    answers.open_path = str(tmp_path / "kept.vsproj")
    w.actions_by_name["open"].trigger()
    assert answers.asked[-3:] == ["unsaved", "save_path", "open_path"]
    dense = [n for n in w.controller.graph.nodes.values() if n.kind == "dense"]
    assert dense[0].params["units"] == 99 and w.controller.path.name == "kept.vsproj"


def test_malformed_file_opens_nothing_and_shows_the_problem(qtbot, tmp_path):
    bad = tmp_path / "bad.vsproj"
    bad.write_text('{"format": "visionstudio.project", "schema_version": 1, "graph": {"nodes": 3}}')
    answers = Answers()
    w = make_window(qtbot, tmp_path, answers=answers)
    before = w.controller.graph.to_dict()
    assert not w.files.open_path(bad)
    (title, text), = answers.errors
    assert title == "Cannot open project" and "bad.vsproj" in text and "graph.nodes" in text
    assert w.controller.graph.to_dict() == before and w.controller.path is None


def test_malformed_file_on_the_command_line_falls_back_to_the_template(qtbot, tmp_path):
    bad = tmp_path / "broken.vsproj"
    bad.write_text("{not json")
    w = make_window(qtbot, tmp_path, [str(bad)])
    qtbot.waitUntil(lambda: bool(w.answers.errors))
    assert "broken.vsproj" in w.answers.errors[0][1] and "not valid JSON" in w.answers.errors[0][1]
    assert w.controller.analysis.total_params == 121_930


def test_project_on_the_command_line_opens(qtbot, tmp_path):
    first = make_window(qtbot, tmp_path)
    first.files.save_to(tmp_path / "cli.vsproj")
    w = make_window(qtbot, tmp_path, [str(tmp_path / "cli.vsproj")])
    assert w.controller.path == (tmp_path / "cli.vsproj").resolve()
    assert w.windowTitle().startswith("cli.vsproj[*]")


def test_background_start_loads_the_template_after_the_window(qtbot, tmp_path):
    from visionstudio.app import create_main_window

    from .shell_helpers import ini_settings

    w = create_main_window([], settings=ini_settings(tmp_path), recovery_dir=tmp_path / "r",
                           background=True)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.initial_load_done, timeout=60_000):
        pass
    w.initial_loader.task.wait(5000)
    assert w.controller.analysis.total_params == 121_930 and not w.isWindowModified()
    # the app's own start-up tasks (warm imports, the device probe) end as they do at quit;
    # the warm imports start once PySide6's classes are built, a slice per event-loop turn
    from visionstudio.ui.shell.tasks import wait_all

    qtbot.waitUntil(lambda: w.later_docks_added, timeout=60_000)
    assert wait_all(60_000)


def test_autosave_writes_recovery_file_and_next_start_offers_it(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    w.autosave.set_interval(50)
    assert not w.autosave.autosave_now()  # clean: nothing to recover
    _edit(w, 77)
    qtbot.waitUntil(lambda: w.autosave.file.exists(), timeout=20_000)
    assert load_project(w.autosave.file).graph.to_dict() == w.controller.graph.to_dict()
    w.autosave.timer.stop()
    # Simulate a crash: the process "ends" without closing the window cleanly.
    monkeypatch.setattr("visionstudio.ui.shell.recovery._pid_alive", lambda pid: False)
    assert len(pending_recoveries(tmp_path / "recovery")) == 1

    # The env var (set by tests/conftest.py) skips the offer...
    answers = Answers()
    w2 = make_window(qtbot, tmp_path, answers=answers)
    assert not w2.offer_recovery() and "recover" not in answers.asked
    # ...and without it the next start asks, and recovers on "Recover".
    monkeypatch.delenv(NO_PROMPT_ENV, raising=False)
    answers.recover = "later"
    assert not w2.offer_recovery() and answers.asked == ["recover"]
    assert len(pending_recoveries(tmp_path / "recovery")) == 1  # kept for later
    answers.recover = "recover"
    assert w2.offer_recovery()
    dense = [n for n in w2.controller.graph.nodes.values() if n.kind == "dense"]
    assert dense[0].params["units"] == 77
    assert w2.isWindowModified()  # recovered work is unsaved work, never silently applied
    assert w2.controller.path is None


def test_recovery_discard_and_clean_close_remove_files(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv(NO_PROMPT_ENV, raising=False)
    w = make_window(qtbot, tmp_path)
    _edit(w)
    assert w.autosave.autosave_now()
    monkeypatch.setattr("visionstudio.ui.shell.recovery._pid_alive", lambda pid: False)
    answers = Answers()
    answers.recover = "discard"
    w2 = make_window(qtbot, tmp_path, answers=answers)
    assert not w2.offer_recovery() and answers.asked == ["recover"]
    assert pending_recoveries(tmp_path / "recovery") == []
    # A clean close removes this session's own recovery file.
    _edit(w2, 12)
    assert w2.autosave.autosave_now() and w2.autosave.file.exists()
    w2.answers.unsaved = "discard"
    assert w2.close()
    assert not w2.autosave.file.exists()
    # Saving also removes it (nothing left to recover).
    w.files.save_to(tmp_path / "saved.vsproj")
    assert not w.autosave.file.exists()
