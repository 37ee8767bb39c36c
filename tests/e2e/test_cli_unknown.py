"""A first word that is not a sub-command and not an existing file never opens the app."""

from __future__ import annotations

import pytest

from visionstudio import app, cli


@pytest.fixture
def gui(monkeypatch):
    """Stands in for the GUI entry: records what it was asked to open."""
    calls = []
    monkeypatch.setattr(app, "main", lambda argv, **kw: calls.append((argv, kw)) or 0)
    return calls


def test_a_typo_of_a_command_says_unknown_command_and_suggests_the_closest(gui, capsys, tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sumary", "net.vsproj"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("visionstudio: unknown command 'sumary' (did you mean summary?)")
    assert gui == []


def test_a_word_close_to_no_command_is_unknown_without_a_guess(gui, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["zzzz"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'zzzz'" in err and "did you mean" not in err
    assert "summary, train, export" in err
    assert gui == []


def test_a_typo_of_import_suggests_import(gui, capsys, tmp_path, monkeypatch):
    """`import` became a command (issue 16); a typo of it is still refused."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["imprt", "x"]) == 2
    assert "unknown command 'imprt' (did you mean import?)" in capsys.readouterr().err
    assert gui == []


def test_a_missing_project_file_is_named(gui, capsys, tmp_path):
    missing = tmp_path / "net.vsproj"
    assert cli.main([str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"visionstudio: no such project file: {missing}"
    assert gui == []


def test_an_existing_file_opens_the_app_with_it(gui, tmp_path):
    project = tmp_path / "net.vsproj"
    project.write_text("{}", encoding="utf-8")
    assert cli.main([str(project)]) == 0
    assert gui == [([str(project)], {"exit_process": False})]


def test_an_existing_file_of_any_name_is_handed_to_the_app(gui, tmp_path):
    """The app says what is wrong with a file it cannot read; the CLI only checks it is there."""
    other = tmp_path / "summary-notes.txt"
    other.write_text("x", encoding="utf-8")
    assert cli.main([str(other)]) == 0
    assert gui == [([str(other)], {"exit_process": False})]


def test_nothing_opens_the_app(gui):
    assert cli.main([]) == 0
    assert gui == [([], {"exit_process": False})]


def test_a_command_named_like_an_option_is_left_to_argparse(gui, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--no-such-option"])
    assert exc.value.code == 2
    assert gui == []
